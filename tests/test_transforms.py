"""Transforms of event samples (data/transforms.py): tonic 1.7.0's result on the same events for each transform
tonic has, the differences the module documents shown on their own, and the input never changed."""

from __future__ import annotations

import numpy as np
import pytest
from tonic_reference import tonic_module

from spikevision.data import events as ev
from spikevision.data import transforms

SENSOR = ev.Sensor(34, 30)


def sample(seed: int, count: int = 4000, duration: int = 300_000, start: int = 1) -> np.ndarray:
    """Random events that reach the sensor's last column and row (where tonic's bounds and ours coincide)."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, SENSOR.width, count), rng.integers(0, SENSOR.height, count)
    x[0], y[1] = SENSOR.width - 1, SENSOR.height - 1
    return ev.make(x, y, np.sort(rng.integers(start, duration, count)), rng.integers(0, 2, count))


def clustered(seed: int) -> np.ndarray:
    """Events in bursts around a few pixels plus scattered noise: a filter has something to keep and to drop."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(3, 27, (6, 2))
    burst = centres[rng.integers(0, 6, 3000)] + rng.integers(-1, 2, (3000, 2))
    noise = np.stack([rng.integers(0, SENSOR.width, 300), rng.integers(0, SENSOR.height, 300)], 1)
    xy = np.concatenate([burst, noise, [[SENSOR.width - 1, SENSOR.height - 1]]])
    return ev.make(xy[:, 0], xy[:, 1], np.sort(rng.integers(20_000, 400_000, len(xy))), rng.integers(0, 2, len(xy)))


@pytest.mark.parametrize("bins", [1, 5, 10])
def test_the_voxel_grid_is_tonics(bins):
    to_voxel_grid = tonic_module("functional.to_voxel_grid").to_voxel_grid_numpy
    for seed in (0, 1):
        events = sample(seed)
        before = events.copy()
        ours = transforms.voxel_grid(events, SENSOR, bins)
        theirs = to_voxel_grid(events.copy(), (SENSOR.width, SENSOR.height, 2), bins)
        assert ours.shape == theirs.shape == (bins, 1, SENSOR.height, SENSOR.width)
        assert np.allclose(ours, theirs, rtol=0, atol=1e-9) and np.abs(ours).sum() > 0
        assert np.array_equal(events, before)  # tonic's own writes -1 into its input's OFF polarities


def test_a_voxel_grid_shares_each_event_between_the_bins_either_side():
    events = ev.make([0, 1, 2], [0, 0, 0], [0, 250, 1000], [1, 0, 1])
    grid = transforms.voxel_grid(events, ev.Sensor(3, 1), 4)[:, 0, 0]  # (T, W)
    assert grid[:, 0].tolist() == [1, 0, 0, 0]  # t = 0: all of it in bin 0
    assert grid[:, 1].tolist() == [0, -1, 0, 0]  # t = 250 of 1000: scaled time 1.0, OFF
    assert grid[:, 2].tolist() == [0, 0, 0, 0]  # the last event sits at T, past the last bin
    still = transforms.voxel_grid(ev.make([0, 2], [0, 0], [5, 5], [1, 1]), ev.Sensor(3, 1), 2)
    assert still[:, 0, 0].tolist() == [[1, 0, 1], [0, 0, 0]]


@pytest.mark.parametrize("filter_time", [1000, 5000, 20_000])
def test_denoise_keeps_the_events_tonic_keeps(filter_time):
    denoise = tonic_module("functional.denoise").denoise_numpy
    for seed in (0, 1, 2):
        events = clustered(seed)
        ours = transforms.denoise(events, SENSOR, filter_time)
        theirs = denoise(events.copy(), filter_time)
        assert ours.tolist() == theirs.tolist()
        assert 0 < len(ours) < len(events)


def test_denoise_drops_an_isolated_event_and_keeps_one_beside_a_recent_neighbour():
    events = ev.make([5, 5, 6, 20], [5, 5, 5, 20], [50_000, 60_000, 61_000, 90_000], [1, 1, 0, 1])
    kept = transforms.denoise(events, SENSOR, 5000)
    assert kept["t"].tolist() == [61_000]  # its neighbour (5, 5) fired 1 ms before; the same pixel does not count


@pytest.mark.parametrize("period", [0, 500, 5000])
def test_the_refractory_filter_keeps_the_events_tonic_keeps(period):
    refractory = tonic_module("functional.refractory_period").refractory_period_numpy
    for seed in (0, 1):
        events = clustered(seed)
        ours = transforms.refractory(events, SENSOR, period)
        theirs = refractory(events.copy(), period)
        assert ours.tolist() == theirs.tolist()


def test_a_pixels_first_event_passes_the_refractory_filter_even_at_time_zero():
    events = ev.make([3, 3, 3, 3, 4], [3, 3, 3, 3, 3], [0, 400, 900, 2000, 2100], [1, 1, 1, 1, 0])
    kept = transforms.refractory(events, SENSOR, 500)
    assert kept["t"].tolist() == [0, 2000, 2100]  # 400 and 900: each within 500 us of the pixel's event before
    theirs = tonic_module("functional.refractory_period").refractory_period_numpy(events.copy(), 500)
    assert theirs["t"].tolist() == [2000, 2100]  # tonic drops the event at 0 (the one documented difference)


@pytest.mark.parametrize("spatial, time", [(0.5, 1.0), (0.25, 0.001), (1.0, 0.5), (0.3, 1.0)])
def test_downsampling_is_tonics(spatial, time):
    downsample = tonic_module("transforms").Downsample(time_factor=time, spatial_factor=spatial)
    events = sample(3)
    ours, smaller = transforms.downsample(events, SENSOR, spatial, time)
    theirs = downsample(events.copy())
    assert ours.tolist() == theirs.tolist()
    ev.check(ours, smaller)
    assert smaller.width - 1 == ours["x"].max() and smaller.height - 1 == ours["y"].max()


@pytest.mark.parametrize("size", [(20, 16), (33, 29), (40, 36), (34, 30)])
def test_the_centre_crop_is_tonics(size):
    center_crop = tonic_module("transforms").CenterCrop(sensor_size=(SENSOR.width, SENSOR.height, 2), size=size)
    events = sample(4)
    ours, cropped = transforms.center_crop(events, SENSOR, *size)
    theirs = center_crop(events.copy())
    assert ours.tolist() == theirs.tolist() and cropped == ev.Sensor(*size, 2)
    ev.check(ours, cropped)


def test_a_crop_keeps_the_box_and_moves_it_to_the_corner():
    events = ev.make([0, 5, 9, 10, 7], [0, 5, 6, 6, 12], [1, 2, 3, 4, 5], [1, 0, 1, 0, 1])
    out, box = transforms.crop(events, SENSOR, 5, 5, 5, 7)
    assert box == ev.Sensor(5, 7, 2) and out.tolist() == [(0, 0, 2, 0), (4, 1, 3, 1)]


@pytest.mark.parametrize("call, message", [
    (lambda e: transforms.voxel_grid(e, SENSOR, 0), "n_time_bins must be a whole number >= 1"),
    (lambda e: transforms.denoise(e, SENSOR, -1), "filter_time must be whole microseconds >= 0"),
    (lambda e: transforms.refractory(e, SENSOR, 1.5), "period must be whole microseconds >= 0"),
    (lambda e: transforms.downsample(e, SENSOR, 2.0), r"spatial_factor must be a number in \(0, 1\]"),
    (lambda e: transforms.downsample(e, SENSOR, 0.5, 0), "time_factor must be a number > 0"),
    (lambda e: transforms.crop(e, SENSOR, 0, 0, 0, 5), "width and height >= 1"),
    (lambda e: transforms.denoise(e, ev.Sensor(10, 10), 100), "outside 0..9"),
])
def test_bad_arguments_are_refused_in_one_line(call, message):
    with pytest.raises(ValueError, match=message):
        call(sample(5, count=50))
