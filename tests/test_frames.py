"""Events into frames (``data.frames``): tonic 1.7.0's ``to_frame_numpy`` on the same events, for every slicing
rule, with and without overlap, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from tonic_reference import tonic_module

from spikevision.data import events as ev
from spikevision.data import frames as fr

SENSOR = ev.Sensor(34, 34)


def _tonic_to_frame():
    """tonic's ``to_frame_numpy`` (tests/tonic_reference.py)."""
    return tonic_module("functional.to_frame").to_frame_numpy


def _sample(seed: int, count: int = 3000, duration: int = 300_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ev.make(rng.integers(0, 34, count), rng.integers(0, 34, count),
                   np.sort(rng.integers(0, duration, count)), rng.integers(0, 2, count))


@pytest.mark.parametrize("rule", [
    {"n_time_bins": 10}, {"n_time_bins": 7, "overlap": 0.25}, {"n_event_bins": 9}, {"n_event_bins": 4, "overlap": 0.5},
    {"time_window": 30_000}, {"time_window": 45_000, "overlap": 15_000},
    {"time_window": 70_000, "include_incomplete": True}, {"event_count": 500}, {"event_count": 700, "overlap": 100},
    {"event_count": 1300, "include_incomplete": True},
])
def test_the_frames_are_tonics_frames(rule):
    to_frame = _tonic_to_frame()
    for seed in (0, 1):
        events = _sample(seed)
        ours = fr.frames(events, SENSOR, **rule)
        theirs = to_frame(events.copy(), sensor_size=(34, 34, 2), **rule)
        assert ours.dtype == theirs.dtype == np.int16 and ours.shape == theirs.shape and ours.shape[1:] == (2, 34, 34)
        assert np.array_equal(ours, theirs), rule
        assert ours.sum() > 0


def test_frames_count_each_event_once_without_overlap_and_leave_the_events_alone():
    events = _sample(3)
    before = events.copy()
    counted = fr.frames(events, SENSOR, event_count=1000)
    assert counted.shape == (3, 2, 34, 34) and int(counted.sum()) == 3000
    assert np.array_equal(events, before)
    single = fr.frames(events, ev.Sensor(34, 34, 1), event_count=3000)
    assert single.shape == (1, 1, 34, 34) and int(single.sum()) == 3000  # one channel: both polarities counted
    first = events[0]
    assert counted[0, first["p"], first["y"], first["x"]] >= 1


def test_bad_slicing_is_refused_in_one_line():
    events = _sample(4, count=50)
    with pytest.raises(ValueError, match="give exactly one of time_window, event_count, n_time_bins, n_event_bins"):
        fr.frames(events, SENSOR, time_window=10, event_count=5)
    with pytest.raises(ValueError, match="give exactly one of"):
        fr.frames(events, SENSOR)
    with pytest.raises(ValueError, match="n_time_bins must be a whole number >= 1"):
        fr.frames(events, SENSOR, n_time_bins=0)
    with pytest.raises(ValueError, match=r"time_window must be > 0 and overlap in \[0, time_window\)"):
        fr.frames(events, SENSOR, time_window=100, overlap=100)
    with pytest.raises(ValueError, match="the sample has no events"):
        fr.frames(events[:0], SENSOR, n_time_bins=3)
    with pytest.raises(ValueError, match="outside 0..9"):
        fr.frames(events, ev.Sensor(10, 10), n_time_bins=3)
