"""Event transforms over a batch (data/event_batch.py and event_augment's batch forms): each sample of a batch
changed as its one-sample namesake changes it alone (those are tested against tonic), the samples kept apart
(a filter's memory, a reversal's end, a drop's share are each sample's own), and bad batches refused."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from spikevision.data import event_augment as aug
from spikevision.data import event_batch as eb
from spikevision.data import events as ev
from spikevision.data import eventset, transforms
from spikevision.data import frames as fr
from spikevision.errors import InvalidType, InvalidValue

SENSOR = ev.Sensor(24, 18)


def samples(seed: int = 0, count: int = 7) -> list[np.ndarray]:
    """``count`` samples of bursts and noise, of different lengths and starts, sample 2 empty."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        size = 0 if i == 2 else int(rng.integers(50, 900))
        centre = rng.integers(2, 16, 2)
        near = rng.random(size) < 0.8
        x = np.where(near, centre[0] + rng.integers(-2, 3, size), rng.integers(0, SENSOR.width, size))
        y = np.where(near, centre[1] + rng.integers(-2, 3, size), rng.integers(0, SENSOR.height, size))
        start = int(rng.integers(0, 50_000))
        out.append(ev.make(x, y, np.sort(rng.integers(start, start + 250_000, size)), rng.integers(0, 2, size)))
    return out


def batch(seed: int = 0) -> eb.Batch:
    return eb.from_samples(samples(seed))


def test_a_batch_holds_its_samples_apart():
    parts = samples()
    joined = eb.from_samples(parts)
    assert len(joined) == len(parts) and joined.sizes().tolist() == [len(p) for p in parts]
    for b, part in enumerate(parts):
        assert joined.sample(b).tolist() == part.tolist()
        assert (joined.owners()[joined.offsets[b]: joined.offsets[b + 1]] == b).all()
    assert joined.firsts()[joined.offsets[1]] == 0 and joined.firsts()[joined.offsets[1] + 3] == 3
    assert eb.check(joined, SENSOR) is joined  # a sample may start before the one ahead of it ended


def test_a_cached_split_gives_its_samples_as_a_batch(tmp_path):
    parts = samples(1)
    split = eventset.write(tmp_path / "train", ((p, i % 3) for i, p in enumerate(parts)), sensor=SENSOR,
                           classes=("a", "b", "c"), about={"dataset": "test"})
    picked = split.batch([4, 0, 2, 4])
    assert [s.tolist() for s in picked.samples()] == [parts[i].tolist() for i in (4, 0, 2, 4)]
    assert picked.events.dtype == ev.DTYPE
    assert np.array_equal(split.frames([4, 0], 6, time_window=20_000), eb.frames(picked, SENSOR, 6,
                                                                                  time_window=20_000)[[0, 1]])


@pytest.mark.parametrize("bins", [1, 8])
def test_frames_of_a_batch_are_each_samples_frames(bins):
    joined = batch()
    counted = eb.frames(joined, SENSOR, bins)
    assert counted.shape == (len(joined), bins, 2, SENSOR.height, SENSOR.width) and counted.dtype == np.int16
    for b, part in enumerate(joined.samples()):
        expected = fr.frames(part, SENSOR, n_time_bins=bins) if len(part) else 0
        assert np.array_equal(counted[b], np.zeros_like(counted[b]) + expected)


def test_frames_by_time_window_are_the_first_windows_of_each_sample():
    joined, window, steps = batch(), 9_973, 12  # windows ending away from any sample's last event
    counted = eb.frames(joined, SENSOR, steps, time_window=window)
    for b, part in enumerate(joined.samples()):
        if not len(part):
            assert not counted[b].any()
            continue
        mine = fr.frames(part, SENSOR, time_window=window, include_incomplete=True)[:steps]
        assert np.array_equal(counted[b, : len(mine)], mine) and not counted[b, len(mine):].any()
        assert counted[b].sum() == np.count_nonzero(part["t"] < part["t"][0] + steps * window)


def test_the_voxel_grid_and_the_filters_treat_each_sample_alone():
    joined = batch(2)
    grid = eb.voxel_grid(joined, SENSOR, 5)
    denoised, quiet = eb.denoise(joined, SENSOR, 3_000), eb.refractory(joined, SENSOR, 4_000)
    assert len(denoised) == len(quiet) == len(joined)
    assert 0 < len(denoised.events) < len(joined.events) and 0 < len(quiet.events) < len(joined.events)
    for b, part in enumerate(joined.samples()):
        assert np.array_equal(grid[b], transforms.voxel_grid(part, SENSOR, 5))
        assert denoised.sample(b).tolist() == transforms.denoise(part, SENSOR, 3_000).tolist()
        assert quiet.sample(b).tolist() == transforms.refractory(part, SENSOR, 4_000).tolist()


def test_the_fixed_changes_touch_only_the_samples_picked():
    joined = batch(3)
    which = np.array([True, False, True, True, False, False, True])
    flipped = aug.flip_batch(joined, SENSOR, "x", which)
    reversed_ = aug.reverse_time_batch(joined, SENSOR, which)
    for b, part in enumerate(joined.samples()):
        assert flipped.sample(b).tolist() == (aug.flip_lr(part, SENSOR) if which[b] else part).tolist()
        assert reversed_.sample(b).tolist() == (aug.reverse_time(part, SENSOR) if which[b] else part).tolist()
    assert aug.flip_batch(joined, SENSOR, "p").sample(0).tolist() == aug.flip_polarity(joined.sample(0),
                                                                                       SENSOR).tolist()
    eb.check(reversed_, SENSOR)
    with pytest.raises(InvalidValue, match="a bool array of that length"):
        aug.flip_batch(joined, SENSOR, "y", np.ones(3, dtype=bool))


def test_the_random_changes_draw_for_each_sample_and_keep_each_in_order():
    joined, rng = batch(4), np.random.default_rng(0)
    shifted = aug.shift_batch(joined, SENSOR, 3, rng)
    jittered = aug.time_jitter_batch(joined, SENSOR, 2_000.0, rng)
    thinned = aug.drop_batch(joined, SENSOR, 0.3, rng)
    for changed in (shifted, jittered, thinned):
        assert len(changed) == len(joined)
        eb.check(changed, SENSOR)  # on the sensor and in time order, sample by sample
    moves = np.random.default_rng(0).integers(-3, 4, (len(joined), 2))  # the shift's draw: one offset a sample
    assert len({tuple(m) for m in moves}) > 1
    for b, part in enumerate(joined.samples()):
        x, y = part["x"] + moves[b, 0], part["y"] + moves[b, 1]
        on = (x >= 0) & (x < SENSOR.width) & (y >= 0) & (y < SENSOR.height)
        assert shifted.sample(b).tolist() == ev.make(x[on], y[on], part["t"][on], part["p"][on]).tolist()
        assert len(thinned.sample(b)) == len(part) - int(0.3 * len(part) + 0.5)
        assert np.isin(thinned.sample(b), part).all()  # what is left is the sample's own
        mine = Counter(zip(part["x"].tolist(), part["y"].tolist(), part["p"].tolist()))
        moved = Counter(zip(*(jittered.sample(b)[f].tolist() for f in "xyp")))
        assert moved <= mine and moved.total() >= mine.total() - np.count_nonzero(part["t"] < 10_000)
    again = aug.drop_batch(joined, SENSOR, 0.3, np.random.default_rng(9))
    assert again.events.tolist() == aug.drop_batch(joined, SENSOR, 0.3, np.random.default_rng(9)).events.tolist()


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: eb.Batch(np.zeros(3, ev.DTYPE), np.array([0, 2])), InvalidValue, "offsets run from 0 to its 3"),
    (lambda: eb.Batch(np.zeros(3, ev.DTYPE), np.array([0, 2, 1, 3])), InvalidValue, "never decrease"),
    (lambda: eb.check(eb.from_samples([ev.make([1, 1], [1, 1], [5, 2], [0, 1])]), SENSOR), InvalidValue,
     "batch sample 0: event 1 at t = 2 us comes before"),
    (lambda: eb.check(eb.from_samples([ev.make([1], [1], [5], [0]), ev.make([30], [1], [1], [0])]), SENSOR),
     InvalidValue, "batch sample 1: event 0 has x = 30, outside 0..23"),
    (lambda: eb.frames(eb.from_samples([ev.make([1], [40], [5], [0])]), SENSOR, 4), InvalidValue,
     "has y = 40"),
    (lambda: eb.frames(batch(), SENSOR, 4, time_window=-5), InvalidValue, "time_window must be whole"),
    (lambda: eb.check([1, 2], SENSOR), InvalidType, "expected an event_batch.Batch"),
])
def test_bad_batches_are_refused_in_one_line(make, error, message):
    with pytest.raises(error, match=message):
        make()
