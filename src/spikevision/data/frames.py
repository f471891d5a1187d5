"""Events into frames: the counts of each pixel's ON and OFF events over slices of a sample, ``[T, P, H, W]``.

A sample is cut into slices by one of four rules, each tonic's (``ToFrame``), so that a network trained on
tonic's frames sees the same numbers here:

- ``time_window`` microseconds per slice, a new slice every ``time_window - overlap`` us from the first event
  (the last, shorter slice kept with ``include_incomplete``);
- ``event_count`` events per slice, a new one every ``event_count - overlap`` events;
- ``n_time_bins`` slices of ``(t_last - t_first) // n * (1 + overlap)`` us each, the window floored to whole
  microseconds as tonic does: events after the last window (the last event among them) fall in no slice;
- ``n_event_bins`` slices of ``n_events // n * (1 + overlap)`` events each.

A slice holds the events with ``start <= t < end`` (time) or at indices ``start <= i < end`` (count). The
counting is one compiled pass over the events (``_frame_loops``, numba), which also checks them (pixels on the
sensor, polarity 0/1, times in order): a bad sample is refused in ``events.check``'s words. The events are
never changed (a one-polarity sensor counts every event in channel 0).
"""

from __future__ import annotations

import functools

import numpy as np

from spikevision.data import events as ev
from spikevision.errors import InvalidValue


def frames(events: np.ndarray, sensor: ev.Sensor, *, time_window: float | None = None,
           event_count: int | None = None, n_time_bins: int | None = None, n_event_bins: int | None = None,
           overlap: float = 0, include_incomplete: bool = False) -> np.ndarray:
    """The frames of one sample: int16 ``[T, P, H, W]`` counts (rules in the module docstring; exactly one of
    ``time_window``, ``event_count``, ``n_time_bins``, ``n_event_bins``). The sample is checked as
    ``events.check`` does, in the same pass that counts."""
    rules = {"time_window": time_window, "event_count": event_count, "n_time_bins": n_time_bins,
             "n_event_bins": n_event_bins}
    chosen = [name for name, value in rules.items() if value is not None]
    if len(chosen) != 1:
        raise InvalidValue(f"give exactly one of {', '.join(rules)}; got {', '.join(chosen) or 'none'}")
    if not isinstance(events, np.ndarray) or events.dtype != ev.DTYPE:
        events = ev.check(events, sensor)  # a refusal in words, or another dtype with the same fields
        events = ev.make(events["x"], events["y"], events["t"], events["p"])
    if events.size == 0:
        raise InvalidValue("the sample has no events: there is nothing to cut into frames")
    columns = events["x"], events["y"], events["t"], events["p"]
    if chosen[0] in ("time_window", "n_time_bins"):  # by time: the slices' bounds found in the compiled sweep
        first, stride, length, n = _windows(events["t"], chosen[0], rules[chosen[0]], overlap, include_incomplete)
        out = np.zeros((n, sensor.polarities, sensor.height, sensor.width), dtype=np.int16)
        bad = loops().count_windows(*columns, float(first), float(stride), float(length), out)
    else:
        starts, ends = _slices(events.size, chosen[0], rules[chosen[0]], overlap, include_incomplete)
        ends = np.minimum(ends, events.size)  # a last, incomplete slice by count ends with the sample
        out = np.zeros((len(starts), sensor.polarities, sensor.height, sensor.width), dtype=np.int16)
        bad = loops().count(*columns, starts.astype(np.int64), ends.astype(np.int64), out)
    if bad >= 0:
        ev.check(events, sensor)  # says which event and why, in words
    return out


def _windows(times: np.ndarray, rule: str, value, overlap: float, include_incomplete: bool):
    """Slices by time as ``(first, stride, length, count)``: slice i is ``first + i * stride <= t < first + i *
    stride + length``, with tonic's arithmetic (n_time_bins' window floored to whole microseconds)."""
    if rule == "n_time_bins":
        _check_bins(rule, value, overlap)
        window = (times[-1] - times[0]) // value * (1 + overlap)
        return times[0], window * (1 - overlap), window, value
    _check_window(rule, value, overlap)
    stride = value - overlap
    steps = (times[-1] - times[0] - value) / stride
    return times[0], stride, value, max(int(np.ceil(steps) if include_incomplete else np.floor(steps)) + 1, 1)


def _slices(count: int, rule: str, value, overlap: float, include_incomplete: bool):
    """Slices by event count: the index range ``[start, end)`` of each."""
    if rule == "n_event_bins":
        _check_bins(rule, value, overlap)
        size = int(count // value * (1 + overlap))
        starts = np.arange(value) * int(size * (1 - overlap))
        return starts, starts + size
    _check_window(rule, value, overlap)
    stride = value - overlap
    length = min(value, count)
    steps = (count - length) / stride
    n = max(int(np.ceil(steps) if include_incomplete else np.floor(steps)) + 1, 1)
    starts = (np.arange(n) * stride).astype(np.int64)
    return starts, starts + length


def _check_bins(rule: str, value, overlap: float) -> None:
    if not (isinstance(value, (int, np.integer)) and value >= 1) or not 0 <= overlap < 1:
        raise InvalidValue(f"{rule} must be a whole number >= 1 and overlap a fraction in [0, 1); got {value}, "
                           f"{overlap}")


def _check_window(rule: str, value, overlap: float) -> None:
    if not value > 0 or not 0 <= overlap < value:
        raise InvalidValue(f"{rule} must be > 0 and overlap in [0, {rule}); got {value}, {overlap}")


@functools.cache
def loops():
    """The compiled counting loop (``_frame_loops``; imports numba)."""
    from spikevision.data import _frame_loops

    return _frame_loops
