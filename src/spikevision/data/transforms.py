"""Transforms of one sample of events (``events.DTYPE``): pure functions that return a new sample, the input
untouched, each tonic 1.7.0's result on the same events where tonic has the transform (tests/test_transforms.py).

- ``voxel_grid``: Zhu et al.'s event volume, float ``[T, 1, H, W]``: times scaled to ``[0, T]``, each event's
  polarity (+1 ON, -1 OFF) shared between the two bins either side of it, bilinearly (tonic's ``ToVoxelGrid``).
- ``denoise``: drop an event none of whose four neighbours fired within ``filter_time`` us before it
  (tonic's ``Denoise``); every pixel counts as having fired at time 0.
- ``refractory``: drop an event that comes ``period`` us or less after its pixel's event before it
  (tonic's ``RefractoryPeriod``, which also drops an event at time 0; here a pixel's first event is kept).
- ``downsample``: pixel coordinates and times scaled by factors and floored (tonic's ``Downsample``).
- ``crop`` a box of the sensor, ``center_crop`` its centre (tonic's ``CenterCrop``: a size larger than the
  sensor pads it).

The filters bound a pixel's neighbourhood by the sensor; tonic bounds it by the sample's largest x and y, which
differs only for events at those edges within ``filter_time`` of the start. Each function that changes the
sensor returns the new one with the events. The filters and the voxel grid are ``event_batch``'s on a batch of
one: there they run over a whole batch at once.
"""

from __future__ import annotations

import math

import numpy as np

from spikevision.data import event_batch as eb
from spikevision.data import events as ev
from spikevision.errors import InvalidValue


def voxel_grid(events: np.ndarray, sensor: ev.Sensor, n_time_bins: int) -> np.ndarray:
    """The sample's event volume, float64 ``[n_time_bins, 1, H, W]``: an event at scaled time ``s`` (its time as a
    share of the sample's span, times ``n_time_bins``) adds its polarity (+1, -1) times ``1 - frac(s)`` to bin
    ``floor(s)`` and times ``frac(s)`` to the bin after, where those bins exist. A sample whose events all share
    one time puts them whole in bin 0."""
    return eb.voxel_grid(eb.of_sample(events, sensor), sensor, n_time_bins)[0]


def denoise(events: np.ndarray, sensor: ev.Sensor, filter_time: int) -> np.ndarray:
    """The sample without its isolated events: those none of whose four neighbours fired within ``filter_time``
    us before them."""
    return eb.denoise(eb.of_sample(events, sensor), sensor, filter_time).events


def refractory(events: np.ndarray, sensor: ev.Sensor, period: int) -> np.ndarray:
    """The sample without the events that come ``period`` us or less after their pixel's event before them
    (kept or dropped: a pixel firing faster than ``period`` keeps only its first event)."""
    return eb.refractory(eb.of_sample(events, sensor), sensor, period).events


def downsample(events: np.ndarray, sensor: ev.Sensor, spatial_factor: float = 1.0,
               time_factor: float = 1.0) -> tuple[np.ndarray, ev.Sensor]:
    """Pixel coordinates times ``spatial_factor`` and times times ``time_factor``, floored (no event dropped;
    several may land on one pixel), and the sensor that holds them."""
    events = ev.check(events, sensor)
    if not (isinstance(spatial_factor, (int, float)) and 0 < spatial_factor <= 1):
        raise InvalidValue(f"spatial_factor must be a number in (0, 1], got {spatial_factor!r}")
    if not (isinstance(time_factor, (int, float)) and time_factor > 0):
        raise InvalidValue(f"time_factor must be a number > 0, got {time_factor!r}")
    out = events.copy()
    out["x"] = np.floor(events["x"] * spatial_factor)
    out["y"] = np.floor(events["y"] * spatial_factor)
    out["t"] = np.floor(events["t"] * time_factor)
    smaller = ev.Sensor(math.floor((sensor.width - 1) * spatial_factor) + 1,
                        math.floor((sensor.height - 1) * spatial_factor) + 1, sensor.polarities)
    return out, smaller


def crop(events: np.ndarray, sensor: ev.Sensor, left: int, top: int, width: int,
         height: int) -> tuple[np.ndarray, ev.Sensor]:
    """The events inside the box of ``width`` x ``height`` pixels from (``left``, ``top``), moved so that the box's
    corner is (0, 0), and the box as the sensor. A box reaching past the sensor (a negative corner) pads it."""
    events = ev.check(events, sensor)
    if not all(isinstance(v, (int, np.integer)) for v in (left, top, width, height)) or width < 1 or height < 1:
        raise InvalidValue(f"a crop box is whole pixels with width and height >= 1; got left={left}, top={top}, "
                           f"width={width}, height={height}")
    inside = ((events["x"] >= left) & (events["x"] < left + width)
              & (events["y"] >= top) & (events["y"] < top + height))
    out = events[inside]
    out["x"] -= left
    out["y"] -= top
    return out, ev.Sensor(width, height, sensor.polarities)


def center_crop(events: np.ndarray, sensor: ev.Sensor, width: int, height: int) -> tuple[np.ndarray, ev.Sensor]:
    """``crop``'s box of ``width`` x ``height`` at the sensor's centre (floored to whole pixels)."""
    return crop(events, sensor, (sensor.width - width) // 2, (sensor.height - height) // 2, width, height)
