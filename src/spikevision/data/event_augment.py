"""Random changes to training samples of events (``events.DTYPE``), the event-camera counterparts of
``augment``'s: each returns a new sample, in time order and on the sensor, the input untouched.

The fixed changes are tonic 1.7.0's with their chance set to 1 (tests/test_event_augment.py): ``flip_lr``
(x -> W - 1 - x), ``flip_ud``, ``flip_polarity`` (ON <-> OFF) and ``reverse_time`` (t -> t_last - t, the order
reversed, and by default the polarities flipped: a brightening played backwards is a darkening). The random ones
draw from a ``numpy.random.Generator``, so a seed gives the same sample: ``time_jitter`` (Gaussian, the sample
re-sorted and events pushed before 0 dropped), ``shift`` (every event by one offset, those pushed off the sensor
dropped: ``augment.random_shift``'s zero fill) and ``drop`` (a share of the events, EventDrop's random drop).
"""

from __future__ import annotations

import numpy as np

from spikevision.data import events as ev
from spikevision.errors import InvalidValue


def flip_lr(events: np.ndarray, sensor: ev.Sensor) -> np.ndarray:
    """The sample mirrored left-right."""
    out = ev.check(events, sensor).copy()
    out["x"] = sensor.width - 1 - out["x"]
    return out


def flip_ud(events: np.ndarray, sensor: ev.Sensor) -> np.ndarray:
    """The sample mirrored top-bottom."""
    out = ev.check(events, sensor).copy()
    out["y"] = sensor.height - 1 - out["y"]
    return out


def flip_polarity(events: np.ndarray, sensor: ev.Sensor) -> np.ndarray:
    """The sample with ON and OFF swapped."""
    out = ev.check(events, sensor).copy()
    out["p"] = 1 - out["p"]
    return out


def reverse_time(events: np.ndarray, sensor: ev.Sensor, *, flip_polarities: bool = True) -> np.ndarray:
    """The sample played backwards: ``t -> t_last - t``, the events in reverse order, and (by default) ON and OFF
    swapped."""
    out = ev.check(events, sensor)[::-1].copy()
    if out.size:
        out["t"] = out["t"][0] - out["t"]
    if flip_polarities:
        out["p"] = 1 - out["p"]
    return out


def time_jitter(events: np.ndarray, sensor: ev.Sensor, std_us: float,
                generator: np.random.Generator) -> np.ndarray:
    """Each event moved in time by a Gaussian draw of ``std_us`` us (rounded to whole us), the sample re-sorted
    by time (stably) and the events pushed before 0 dropped."""
    out = ev.check(events, sensor).copy()
    if not std_us >= 0:
        raise InvalidValue(f"std_us must be >= 0, got {std_us!r}")
    out["t"] = out["t"] + np.rint(generator.normal(0.0, std_us, out.size)).astype(np.int64)
    out = out[np.argsort(out["t"], kind="stable")]
    return out[out["t"] >= 0]


def shift(events: np.ndarray, sensor: ev.Sensor, max_shift: int, generator: np.random.Generator) -> np.ndarray:
    """Every event moved by one offset drawn in ``[-max_shift, max_shift]`` pixels each way; events pushed off
    the sensor are dropped."""
    if not (isinstance(max_shift, (int, np.integer)) and max_shift >= 0):
        raise InvalidValue(f"max_shift must be whole pixels >= 0, got {max_shift!r}")
    events = ev.check(events, sensor)
    dx, dy = generator.integers(-max_shift, max_shift + 1, 2)
    x, y = events["x"].astype(np.int64) + dx, events["y"].astype(np.int64) + dy
    on = (x >= 0) & (x < sensor.width) & (y >= 0) & (y < sensor.height)
    out = events[on]
    out["x"], out["y"] = x[on], y[on]
    return out


def drop(events: np.ndarray, sensor: ev.Sensor, fraction: float, generator: np.random.Generator) -> np.ndarray:
    """The sample without ``round(fraction * n)`` of its events, chosen at random; the rest in their order."""
    events = ev.check(events, sensor)
    if not 0 <= fraction <= 1:
        raise InvalidValue(f"fraction must be in [0, 1], got {fraction!r}")
    gone = generator.choice(events.size, int(fraction * events.size + 0.5), replace=False)
    keep = np.ones(events.size, dtype=bool)
    keep[gone] = False
    return events[keep]
