"""Events from an event camera (DVS, ATIS) as data: one structured numpy array per sample.

Each event is a pixel's report that its log brightness changed: where (``x``, ``y``, pixels from the top left),
when (``t``, microseconds from the recording's start) and which way (``p``: 1 brighter, ON; 0 darker, OFF). The
array's field names and units are tonic's, so a sample passes between the two libraries as it is (tonic's
``make_structured_array`` and its transforms read these fields by name). A sample knows nothing of its sensor;
the dataset says its size (``Sensor``: width, height, polarities), as tonic's ``sensor_size`` does.

``make(x, y, t, p)`` builds and checks one; ``check(events, sensor)`` refuses, in one line that says what is
wrong, a sample with a pixel outside the sensor, a polarity other than 0/1 or times that run backwards.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from spikevision.errors import InvalidType, InvalidValue

# x, y: pixel column and row; t: microseconds; p: polarity, 1 ON (brighter), 0 OFF (darker).
DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])


class Sensor(NamedTuple):
    """A camera's pixel array: ``width`` x ``height`` pixels, ``polarities`` channels (2: ON and OFF)."""

    width: int
    height: int
    polarities: int = 2


def make(x, y, t, p) -> np.ndarray:
    """A sample of events from four equal-length sequences (pixel columns, rows, microseconds, polarities)."""
    columns = [np.asarray(v) for v in (x, y, t, p)]
    if len({c.shape for c in columns}) != 1 or columns[0].ndim != 1:
        raise InvalidValue(f"x, y, t and p must be 1-d and of one length; got shapes {[c.shape for c in columns]}")
    events = np.empty(columns[0].shape[0], dtype=DTYPE)
    for name, values in zip("xytp", columns):  # DTYPE's fields, in its order
        if not np.issubdtype(values.dtype, np.integer) and not np.issubdtype(values.dtype, np.bool_):
            raise InvalidType(f"events' {name} must be whole numbers, got dtype {values.dtype}")
        events[name] = values
    return events


def check(events, sensor: Sensor, *, source: str = "events") -> np.ndarray:
    """``events`` if it is a sample of ``DTYPE`` whose every event lies on ``sensor``, with polarity 0 or 1 and
    times that never run backwards; else a one-line refusal naming ``source`` and the first bad event."""
    if not isinstance(events, np.ndarray) or events.dtype.names is None or set("xytp") - set(events.dtype.names):
        raise InvalidType(f"{source}: events must be a structured array with fields x, y, t, p (data.events.DTYPE)")
    if events.size == 0:
        return events
    for name, limit in (("x", sensor.width), ("y", sensor.height), ("p", 2)):
        column = events[name]
        if column.min() < 0 or column.max() >= limit:  # two passes; the first bad event only when there is one
            i = int(np.flatnonzero((column < 0) | (column >= limit))[0])
            raise InvalidValue(f"{source}: event {i} has {name} = {int(column[i])}, outside 0..{limit - 1} "
                               f"(a {sensor.width}x{sensor.height} sensor)")
    times = events["t"]
    if np.any(times[1:] < times[:-1]):
        i = int(np.flatnonzero(times[1:] < times[:-1])[0]) + 1
        raise InvalidValue(f"{source}: event {i} at t = {int(events['t'][i])} us comes before the event ahead of it "
                           f"(t = {int(events['t'][i - 1])} us): events must be in time order")
    return events
