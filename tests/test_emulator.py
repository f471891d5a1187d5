"""The event-camera emulator (data/emulator.py): each pixel's events against the model's own arithmetic worked by
hand, against a pixel-by-pixel loop written from the model's description, and its noise against its rates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikevision.data import emulator
from spikevision.data import events as ev

IDEAL = emulator.Camera(threshold_on=0.25, threshold_off=0.25, mismatch=0.0)


def video(log_levels, offset: float = IDEAL.log_offset) -> np.ndarray:
    """Frames ``[N, 1, 1, 1]`` of one pixel whose log intensity (as the camera sees it) takes ``log_levels``."""
    return (np.exp(np.asarray(log_levels, dtype=np.float64)) - offset).reshape(-1, 1, 1, 1)


def crossing_times(start: float, end: float, levels, t0: int, t1: int) -> list[int]:
    """Where a line from ``start`` (at t0) to ``end`` (at t1) meets each of ``levels``, rounded to microseconds."""
    return [t0 + round((level - start) / (end - start) * (t1 - t0)) for level in levels]


def test_a_rising_pixel_fires_on_events_where_its_log_intensity_crosses_each_threshold():
    events, offsets = emulator.emulate(video([0.0, 1.1]), [0, 1000], IDEAL)
    assert list(offsets) == [0, 4]
    assert list(events["t"]) == crossing_times(0, 1.1, [0.25, 0.5, 0.75, 1.0], 0, 1000)  # 227, 455, 682, 909
    assert set(events["p"]) == {1} and set(events["x"]) == {0} and set(events["y"]) == {0}


def test_a_darkening_pixel_fires_off_events_and_its_reference_carries_to_the_next_frame():
    events, _ = emulator.emulate(video([0.0, -0.2, -0.4, -0.6]), [0, 100, 200, 300], IDEAL)
    # The reference falls by one threshold per event: crossings at -0.25 and -0.5 only, in the 2nd and 3rd steps.
    assert list(events["p"]) == [0, 0]
    assert list(events["t"]) == [crossing_times(-0.2, -0.4, [-0.25], 100, 200)[0],
                                 crossing_times(-0.4, -0.6, [-0.5], 200, 300)[0]]


def test_a_refractory_pixel_loses_crossings_that_come_too_soon_and_keeps_following_the_light():
    camera = emulator.Camera(threshold_on=0.25, threshold_off=0.25, mismatch=0.0, refractory_us=300)
    events, _ = emulator.emulate(video([0.0, 1.1, 1.1]), [0, 1000, 2000], camera)
    assert list(events["t"]) == [227, 682]  # 455 and 909 fell within 300 us of the event before
    # and the reference moved with the lost crossings: the still second interval fires nothing.


def test_the_emulator_equals_a_pixel_by_pixel_loop_written_from_the_model():
    rng = np.random.default_rng(3)
    frames = rng.uniform(0, 1, (7, 2, 3, 4))
    times = np.cumsum(rng.integers(50, 400, 7))
    camera = emulator.Camera(threshold_on=0.2, threshold_off=0.3, mismatch=0.0, refractory_us=120)
    events, offsets = emulator.emulate(frames, times, camera)
    for b in range(2):
        got = events[offsets[b]: offsets[b + 1]]
        expected = _reference(frames[:, b], times, camera)
        assert sorted(got.tolist(), key=lambda e: (e[2], e[1], e[0])) == expected
        assert np.all(np.diff(got["t"]) >= 0)


def _reference(frames, times, camera) -> list[tuple]:
    """ESIM for one video, one pixel at a time: the reference steps one threshold per crossing; a crossing within
    the refractory time of the pixel's last event is lost."""
    out = []
    log = np.log(frames + camera.log_offset)
    for y in range(log.shape[1]):
        for x in range(log.shape[2]):
            reference, last = log[0, y, x], -math.inf
            for k in range(1, len(times)):
                start, end = log[k - 1, y, x], log[k, y, x]
                while True:
                    if end - reference >= camera.threshold_on:
                        reference, polarity = reference + camera.threshold_on, 1
                    elif reference - end >= camera.threshold_off:
                        reference, polarity = reference - camera.threshold_off, 0
                    else:
                        break
                    t = times[k - 1] + round((reference - start) / (end - start) * (times[k] - times[k - 1]))
                    if t - last >= camera.refractory_us:
                        out.append((x, y, t, polarity))
                        last = t
    return sorted(out, key=lambda e: (e[2], e[1], e[0]))


def test_mismatch_is_the_sensors_own_the_same_for_every_video_and_set_by_the_seed():
    frames = np.linspace(0.05, 1, 30).reshape(-1, 1, 1, 1) * np.ones((1, 2, 5, 5))  # two identical videos
    times = np.arange(30) * 1000
    camera = emulator.Camera(mismatch=0.05)
    events, offsets = emulator.emulate(frames, times, camera, seed=1)
    first, second = events[offsets[0]: offsets[1]], events[offsets[1]: offsets[2]]
    assert first.tolist() == second.tolist() and len(first) > 0
    assert emulator.emulate(frames, times, camera, seed=1)[0].tolist() == events.tolist()
    per_pixel = np.bincount(first["y"] * 5 + first["x"], minlength=25)
    assert len(set(per_pixel)) > 1  # thresholds differ from pixel to pixel
    assert emulator.emulate(frames, times, camera, seed=2)[0].tolist() != events.tolist()


def test_leak_makes_a_still_pixel_fire_on_events_at_its_rate():
    camera = emulator.Camera(threshold_on=0.3, mismatch=0.0, leak_hz=10.0)
    frames = np.full((11, 1, 4, 4), 0.5)
    events, _ = emulator.emulate(frames, np.arange(11) * 100_000, camera, seed=0)  # one second
    counts = np.bincount(events["y"] * 4 + events["x"], minlength=16)
    assert set(events["p"]) == {1}
    assert set(counts) == {10}  # a random phase below one threshold, then ten thresholds of drift: ten events


def test_shot_noise_comes_at_its_rate_in_both_polarities_and_in_time_order():
    camera = emulator.Camera(mismatch=0.0, shot_noise_hz=50.0)
    frames = np.full((21, 1, 10, 10), 0.5)
    events, _ = emulator.emulate(frames, np.arange(21) * 50_000, camera, seed=4)  # 100 pixels, one second
    expected = 50.0 * 100
    assert abs(len(events) - expected) < 5 * math.sqrt(expected)
    assert 0.4 < events["p"].mean() < 0.6
    ev.check(events, ev.Sensor(10, 10))  # on the sensor, polarities 0/1, time order


@pytest.mark.parametrize("frames, times, message", [
    (np.zeros((3, 4, 4)), [0, 1, 2], r"\[N, B, H, W\]"),
    (np.zeros((3, 1, 4, 4)), [0, 2, 1], "strictly increasing"),
    (np.zeros((3, 1, 4, 4)), [0.0, 1.0, 2.0], "whole microseconds"),
    (np.zeros((1, 1, 4, 4)), [0], "at least 2"),
    (-np.ones((2, 1, 4, 4)), [0, 1], "intensities >= 0"),
    (np.full((2, 1, 4, 4), np.nan), [0, 1], "finite"),
])
def test_bad_videos_are_refused_in_one_line(frames, times, message):
    with pytest.raises(ValueError, match=message):
        emulator.emulate(frames, np.asarray(times), IDEAL)


def test_a_camera_without_a_threshold_is_refused():
    with pytest.raises(ValueError, match="threshold_on must be > 0"):
        emulator.Camera(threshold_on=0)
    with pytest.raises(ValueError, match="refractory_us must be >= 0"):
        emulator.Camera(refractory_us=-1)
