"""The compiled loop of ``frames``: count each slice's events per pixel, checking every event once on the way.

Kept apart from ``frames.py`` because importing it compiles the loop (or loads it from numba's on-disk cache
beside this file, or in the user's cache folder where this one is not writable).
"""

from __future__ import annotations

from spikevision.data._compiled import compiled


@compiled
def count(x, y, t, p, starts, ends, out) -> int:
    """Add 1 to ``out[i, p, y, x]`` for each event of slice ``i`` (``starts[i] <= event < ends[i]``); returns -1,
    or the index of the first event off ``out``'s sensor, with a polarity not 0/1 or earlier than the one before
    (nothing is then counted for certain: the caller refuses the sample)."""
    polarities, height, width = out.shape[1], out.shape[2], out.shape[3]
    for k in range(t.shape[0]):
        if (x[k] < 0 or x[k] >= width or y[k] < 0 or y[k] >= height or p[k] < 0 or p[k] > 1
                or (k > 0 and t[k] < t[k - 1])):
            return k
    for i in range(starts.shape[0]):
        for k in range(starts[i], ends[i]):
            channel = p[k] if polarities > 1 else 0
            out[i, channel, y[k], x[k]] += 1
    return -1


@compiled
def count_time_bins(x, y, t, p, starts, ends, window_us, out) -> int:
    """Cut sample ``b`` (events ``starts[b] <= k < ends[b]``) into ``out.shape[1]`` time bins of ``window_us``
    microseconds from its first event (``window_us`` 0: ``frames``' rule ``n_time_bins``, windows of
    ``(t_last - t_first) // T`` us, events past the last window in none) and add 1 to ``out[b, bin, p, y, x]``
    for each; returns -1, or the first event off the sensor, with a polarity not 0/1 or earlier than the one
    before (the caller refuses the sample)."""
    bins, polarities, height, width = out.shape[1], out.shape[2], out.shape[3], out.shape[4]
    for b in range(starts.shape[0]):
        first, last = starts[b], ends[b]
        if last <= first:
            continue
        window = window_us if window_us > 0 else (t[last - 1] - t[first]) // bins
        for k in range(first, last):
            if (x[k] < 0 or x[k] >= width or y[k] < 0 or y[k] >= height or p[k] < 0 or p[k] > 1
                    or (k > first and t[k] < t[k - 1])):
                return k
            if window > 0:
                step = (t[k] - t[first]) // window
                if step < bins:
                    out[b, step, p[k] if polarities > 1 else 0, y[k], x[k]] += 1
    return -1


@compiled
def _first_at_or_after(t, value, low):
    """The first index from ``low`` on whose time is ``>= value`` (``len(t)`` if none): numpy's searchsorted
    (side left) on the sorted times, by bisection."""
    high = t.shape[0]
    while low < high:
        middle = (low + high) // 2
        if t[middle] < value:
            low = middle + 1
        else:
            high = middle
    return low


@compiled
def count_windows(x, y, t, p, first, stride, length, out) -> int:
    """``count`` for slices by time: slice i holds the events with ``first + i * stride <= t < first + i * stride +
    length`` (``out.shape[0]`` slices), found by sweeping the sorted times once instead of searching for each
    bound; returns -1, or the first bad event as ``count`` does."""
    polarities, height, width = out.shape[1], out.shape[2], out.shape[3]
    for k in range(t.shape[0]):
        if (x[k] < 0 or x[k] >= width or y[k] < 0 or y[k] >= height or p[k] < 0 or p[k] > 1
                or (k > 0 and t[k] < t[k - 1])):
            return k
    start = end = 0  # both bounds only move forward: the windows are in time order and of one length
    for i in range(out.shape[0]):
        begin = first + i * stride
        start = _first_at_or_after(t, begin, start)
        end = _first_at_or_after(t, begin + length, max(end, start))
        for k in range(start, end):
            channel = p[k] if polarities > 1 else 0
            out[i, channel, y[k], x[k]] += 1
    return -1
