"""The event cache (data/eventset.py): a split written and read back to the event, batches of frames equal to
data.frames' per sample, and damaged caches refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikevision.data import events as ev
from spikevision.data import eventset
from spikevision.data import frames as fr
from spikevision.errors import DataWarning

SENSOR = ev.Sensor(20, 16)
CLASSES = ("a", "b", "c")


def random_split(count: int = 9, seed: int = 0):
    """``count`` random samples (one of them empty), their offsets and labels."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 400, count)
    sizes[3] = 0
    samples = []
    for size in sizes:
        t = np.sort(rng.integers(0, 300_000, size))
        samples.append(ev.make(rng.integers(0, SENSOR.width, size), rng.integers(0, SENSOR.height, size), t,
                               rng.integers(0, 2, size)))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    return np.concatenate(samples), offsets, rng.integers(0, len(CLASSES), count)


def write(folder, events, offsets, labels):
    return eventset.write_arrays(folder, events, offsets, labels, sensor=SENSOR, classes=CLASSES,
                                 about={"dataset": "test"})


def test_a_split_is_read_back_event_for_event(tmp_path):
    events, offsets, labels = random_split()
    split = write(tmp_path / "train", events, offsets, labels)
    assert len(split) == 9 and split.sensor == SENSOR and split.classes == CLASSES
    assert split.about["dataset"] == "test" and list(split.labels) == list(labels)
    for i in range(9):
        assert split.sample(i).tolist() == events[offsets[i]: offsets[i + 1]].tolist()
    assert split.sample(-1).tolist() == events[offsets[8]:].tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]  # nothing left beside it


@pytest.mark.parametrize("bins", [1, 7, 10])
def test_a_batch_of_frames_equals_each_samples_frames(tmp_path, bins):
    events, offsets, labels = random_split()
    split = write(tmp_path / "train", events, offsets, labels)
    order = [5, 0, 8, 2, 5]
    batch = split.frames(order, bins)
    assert batch.shape == (5, bins, 2, SENSOR.height, SENSOR.width) and batch.dtype == np.int16
    for row, i in zip(batch, order):
        assert np.array_equal(row, fr.frames(split.sample(i), SENSOR, n_time_bins=bins))
    assert not split.frames([3], bins).any()  # the empty sample


def test_rewriting_a_split_replaces_it_whole(tmp_path):
    events, offsets, labels = random_split()
    write(tmp_path / "train", events, offsets, labels)
    events2, offsets2, labels2 = random_split(4, seed=1)
    split = write(tmp_path / "train", events2, offsets2, labels2)
    assert len(eventset.read(tmp_path / "train")) == 4 == len(split)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]


def test_bad_samples_are_refused_before_anything_is_written(tmp_path):
    events, offsets, labels = random_split()
    write(tmp_path / "train", events, offsets, labels)
    bad = events.copy()
    bad["x"][offsets[2]] = SENSOR.width
    with pytest.raises(ValueError, match=r"train sample 2: event 0 has x = 20, outside 0..19"):
        write(tmp_path / "train", bad, offsets, labels)
    with pytest.raises(ValueError, match=r"a label lies outside 0..2"):
        write(tmp_path / "train", events, offsets, labels + 3)
    with pytest.raises(ValueError, match="offsets must rise from 0"):
        write(tmp_path / "train", events, offsets[::-1], labels)
    late = events.copy()
    late["t"] += 2**32
    with pytest.raises(ValueError, match=r"train sample 0: times must lie in 0..2\*\*32 - 1 us"):
        write(tmp_path / "train", late, offsets, labels)
    assert eventset.read(tmp_path / "train").sample(0).tolist() == events[: offsets[1]].tolist()  # kept


def test_a_damaged_cache_is_refused_in_one_line(tmp_path):
    events, offsets, labels = random_split()
    folder = tmp_path / "train"
    write(folder, events, offsets, labels)
    np.save(folder / "offsets.npy", offsets[:-1])
    with pytest.raises(ValueError, match=r"events.bin has \d+ bytes, not the \d+ events of 9 bytes the offsets say"):
        eventset.read(folder)
    np.save(folder / "offsets.npy", np.concatenate([offsets[:-2], offsets[-1:]]))
    with pytest.raises(ValueError, match="9 labels need 10 offsets, got 9"):
        eventset.read(folder)
    write(folder, events, offsets, labels)
    about = json.loads((folder / "about.json").read_text())
    (folder / "about.json").write_text(json.dumps({**about, "format": 0}))
    with pytest.raises(ValueError, match="another layout; delete it to have it rebuilt"):
        eventset.read(folder)
    (folder / "about.json").unlink()
    with pytest.raises(ValueError, match="is not a readable event cache"):
        eventset.read(folder)


def test_a_bad_sample_midway_leaves_nothing_half_written(tmp_path):
    events, offsets, labels = random_split()

    def samples():
        yield events[: offsets[1]], 0
        raise RuntimeError("the archive broke")

    with pytest.raises(RuntimeError, match="the archive broke"):
        eventset.write(tmp_path / "train", samples(), sensor=SENSOR, classes=CLASSES, about={})
    assert list(tmp_path.iterdir()) == []


def test_an_event_off_the_sensor_in_a_damaged_file_is_refused_not_counted(tmp_path):
    events, offsets, labels = random_split()
    folder = tmp_path / "train"
    write(folder, events, offsets, labels)
    packed = np.fromfile(folder / "events.bin", dtype=eventset.PACKED)
    packed["y"][offsets[4] + 1] = 999
    packed.tofile(folder / "events.bin")
    with pytest.raises(ValueError, match=r"cached sample 4: event 1 has y = 999"):
        eventset.read(folder).frames([0, 4], 5)
    with pytest.raises(ValueError, match="outside 0..8"):
        eventset.read(folder).frames([9], 5)


def test_a_cache_of_another_layout_or_damaged_is_made_again_with_a_note(tmp_path):
    events, offsets, labels = random_split()
    folder = tmp_path / "train"
    assert eventset.cached(folder) is None
    write(folder, events, offsets, labels)
    assert len(eventset.cached(folder)) == 9
    (folder / "events.bin").write_bytes(b"")
    with pytest.warns(DataWarning, match=r"events.bin has 0 bytes.*; making it again"):
        assert eventset.cached(folder) is None
