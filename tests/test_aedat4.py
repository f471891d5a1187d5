"""AEDAT4 files (data/aedat4.py), written by iniVation's own writer (dv-processing): read back to the event,
tonic 1.7.0's read_aedat4 gets the same events, the event stream found among others, bad files refused."""

from __future__ import annotations

import dv_processing as dv  # the dev extras: iniVation's writer makes the test files
import numpy as np
import pytest
from tonic_reference import tonic_module

from spikevision.data import aedat4


def write(path, count: int = 20_000, *, seed: int = 0, config=None, resolution=(346, 260)):
    """``count`` random events written as a DV camera writes them; returns (x, y, t, p)."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, resolution[0], count), rng.integers(0, resolution[1], count)
    t, p = np.sort(rng.integers(1_000, 5_000_000, count)), rng.integers(0, 2, count)
    config = config or dv.io.MonoCameraWriter.EventOnlyConfig("DAVIS346_test", resolution)
    writer = dv.io.MonoCameraWriter(str(path), config)
    store = dv.EventStore()
    for k in range(count):
        store.push_back(int(t[k]), int(x[k]), int(y[k]), bool(p[k]))
    if count:
        writer.writeEvents(store)
    del writer  # closes the file
    return x, y, t, p


def test_a_recording_reads_back_event_for_event_with_its_sensor(tmp_path):
    path = tmp_path / "recording.aedat4"
    x, y, t, p = write(path)
    events, sensor = aedat4.read(path)
    assert sensor == (346, 260, 2)
    for name, column in zip("xytp", (x, y, t, p)):
        assert events[name].tolist() == column.tolist(), name


def test_tonic_reads_the_same_events(tmp_path):
    path = tmp_path / "recording.aedat4"
    write(path, seed=1)
    theirs = tonic_module("io").read_aedat4(str(path))
    ours, _ = aedat4.read(path)
    assert ours["t"].tolist() == theirs["t"].tolist() and ours["x"].tolist() == theirs["x"].tolist()
    assert ours["y"].tolist() == theirs["y"].tolist() and ours["p"].tolist() == theirs["on"].tolist()


def test_the_event_stream_is_found_beside_frames_and_imu(tmp_path):
    path = tmp_path / "davis.aedat4"
    x, _, t, _ = write(path, 500, seed=2, config=dv.io.MonoCameraWriter.DAVISConfig("DAVIS346_test", (346, 260)))
    events, _ = aedat4.read(path)
    assert events["t"].tolist() == t.tolist() and events["x"].tolist() == x.tolist()
    with pytest.raises(ValueError, match=r"stream 7 is not an event stream; the event streams are \[0\]"):
        aedat4.read(path, stream=7)


def test_bad_files_are_refused_in_one_line(tmp_path):
    path = tmp_path / "recording.aedat4"
    write(path, 5000, seed=3)
    cut = tmp_path / "cut.aedat4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut.aedat4: not a readable AEDAT4 file"):
        aedat4.read(cut)
    noise = tmp_path / "noise.aedat4"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=r"noise.aedat4: not a readable AEDAT4 file"):
        aedat4.read(noise)
    frames = tmp_path / "frames.aedat4"
    write(frames, 0, config=dv.io.MonoCameraWriter.FrameOnlyConfig("DAVIS346_test", (346, 260)))
    with pytest.raises(ValueError, match="frames.aedat4: the file has no event stream"):
        aedat4.read(frames)
    with pytest.raises(ValueError, match="missing.aedat4: no such file"):
        aedat4.read(tmp_path / "missing.aedat4")
