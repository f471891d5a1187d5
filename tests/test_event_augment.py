"""Random changes to event samples (data/event_augment.py): the fixed ones equal tonic 1.7.0's at chance 1, the
random ones keep what a sample must be (on the sensor, in time order) and follow their own seed."""

from __future__ import annotations

import numpy as np
import pytest
from tonic_reference import tonic_module

from spikevision.data import event_augment as aug
from spikevision.data import events as ev

SENSOR = ev.Sensor(34, 30)


def sample(seed: int = 0, count: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ev.make(rng.integers(0, SENSOR.width, count), rng.integers(0, SENSOR.height, count),
                   np.sort(rng.integers(0, 300_000, count)), rng.integers(0, 2, count))


@pytest.mark.parametrize("ours, tonic_name, options", [
    (lambda e: aug.flip_lr(e, SENSOR), "RandomFlipLR", {"sensor_size": (34, 30, 2), "p": 1.0}),
    (lambda e: aug.flip_ud(e, SENSOR), "RandomFlipUD", {"sensor_size": (34, 30, 2), "p": 1.0}),
    (lambda e: aug.flip_polarity(e, SENSOR), "RandomFlipPolarity", {"p": 1.0}),
    (lambda e: aug.reverse_time(e, SENSOR), "RandomTimeReversal", {"p": 1.0}),
    (lambda e: aug.reverse_time(e, SENSOR, flip_polarities=False), "RandomTimeReversal",
     {"p": 1.0, "flip_polarities": False}),
])
def test_the_fixed_changes_are_tonics_at_chance_one(ours, tonic_name, options):
    events = sample()
    before = events.copy()
    theirs = getattr(tonic_module("transforms"), tonic_name)(**options)(events.copy())
    assert ours(events).tolist() == theirs.tolist()
    assert np.array_equal(events, before)


def test_time_reversal_plays_the_sample_backwards_in_time_order():
    events = ev.make([1, 2, 3], [0, 0, 0], [100, 250, 1000], [1, 1, 0])
    back = aug.reverse_time(events, SENSOR)
    assert back.tolist() == [(3, 0, 0, 1), (2, 0, 750, 0), (1, 0, 900, 0)]


def test_time_jitter_moves_events_by_its_spread_and_keeps_the_sample_in_order():
    events = sample()
    jittered = aug.time_jitter(events, SENSOR, 1000.0, np.random.default_rng(1))
    ev.check(jittered, SENSOR)
    assert len(jittered) <= len(events) and jittered["t"].min() >= 0 and jittered.tolist() != events.tolist()
    assert aug.time_jitter(events, SENSOR, 1000.0, np.random.default_rng(1)).tolist() == jittered.tolist()
    assert aug.time_jitter(events, SENSOR, 0.0, np.random.default_rng(1)).tolist() == events.tolist()
    one = ev.make([0] * 4000, [0] * 4000, [50_000] * 4000, [1] * 4000)
    spread = aug.time_jitter(one, SENSOR, 1000.0, np.random.default_rng(2))["t"] - 50_000
    assert abs(spread.mean()) < 100 and 900 < spread.std() < 1100
    early = aug.time_jitter(ev.make([0] * 1000, [0] * 1000, [0] * 1000, [1] * 1000), SENSOR, 10.0,
                            np.random.default_rng(3))
    assert 300 < len(early) < 700  # about half pushed before 0 and dropped


def test_a_shift_moves_every_event_alike_and_drops_those_off_the_sensor():
    rng = np.random.default_rng(2)
    events = ev.make(rng.integers(0, SENSOR.width, 3000), rng.integers(0, SENSOR.height, 3000), np.arange(3000),
                     rng.integers(0, 2, 3000))  # one event a microsecond: an event is known by its time
    for seed in range(4):
        moved = aug.shift(events, SENSOR, 3, np.random.default_rng(seed))
        ev.check(moved, SENSOR)
        source = events[moved["t"]]
        offsets = set(zip((moved["x"] - source["x"]).tolist(), (moved["y"] - source["y"]).tolist()))
        assert len(offsets) == 1
        dx, dy = offsets.pop()
        assert max(abs(dx), abs(dy)) <= 3
        x, y = events["x"] + dx, events["y"] + dy
        stays = (x >= 0) & (x < SENSOR.width) & (y >= 0) & (y < SENSOR.height)
        assert np.array_equal(np.flatnonzero(stays), moved["t"])  # exactly those that stay on the sensor


def test_drop_takes_away_its_share_and_keeps_the_rest_in_order():
    events = sample(3)
    kept = aug.drop(events, SENSOR, 0.3, np.random.default_rng(0))
    assert len(kept) == 3000 - 900
    assert set(map(tuple, kept.tolist())) <= set(map(tuple, events.tolist()))
    ev.check(kept, SENSOR)
    assert aug.drop(events, SENSOR, 0.0, np.random.default_rng(0)).tolist() == events.tolist()


@pytest.mark.parametrize("call, message", [
    (lambda e: aug.shift(e, SENSOR, -1, np.random.default_rng()), "max_shift must be whole pixels >= 0"),
    (lambda e: aug.drop(e, SENSOR, 1.5, np.random.default_rng()), r"fraction must be in \[0, 1\]"),
    (lambda e: aug.time_jitter(e, SENSOR, -1.0, np.random.default_rng()), "std_us must be >= 0"),
    (lambda e: aug.flip_lr(e, ev.Sensor(10, 10)), "outside 0..9"),
])
def test_bad_arguments_are_refused_in_one_line(call, message):
    with pytest.raises(ValueError, match=message):
        call(sample(4, count=100))
