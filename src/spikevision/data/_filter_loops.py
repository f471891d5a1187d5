"""The compiled loops of ``transforms``' filters: each event decided in time order from what its pixel and its
neighbours did before it, a sequential pass numpy cannot vectorise.

Kept apart from ``transforms.py`` because importing it compiles the loops (or loads them from numba's on-disk
cache).
"""

from __future__ import annotations

import numpy as np

from spikevision.data._compiled import compiled


@compiled
def denoise(x, y, t, offsets, width, height, filter_time):
    """Which events have a 4-neighbour that fired within ``filter_time`` before them, each sample (events
    ``offsets[b] <= k < offsets[b + 1]``) on its own (every pixel counts as having fired at its time 0)."""
    active_until = np.empty((height, width), dtype=np.int64)  # a pixel's last event + filter_time
    keep = np.zeros(t.shape[0], dtype=np.bool_)
    for b in range(offsets.shape[0] - 1):
        active_until[:] = filter_time
        for k in range(offsets[b], offsets[b + 1]):
            col, row, now = x[k], y[k], t[k]
            active_until[row, col] = now + filter_time
            keep[k] = ((col > 0 and active_until[row, col - 1] > now)
                       or (col < width - 1 and active_until[row, col + 1] > now)
                       or (row > 0 and active_until[row - 1, col] > now)
                       or (row < height - 1 and active_until[row + 1, col] > now))
    return keep


@compiled
def refractory(x, y, t, offsets, width, height, period):
    """Which events come more than ``period`` after their pixel's event before them (kept or not), each sample
    on its own; a pixel's first event in a sample is always kept."""
    last = np.zeros((height, width), dtype=np.int64)
    seen = np.zeros((height, width), dtype=np.bool_)
    keep = np.zeros(t.shape[0], dtype=np.bool_)
    for b in range(offsets.shape[0] - 1):
        seen[:] = False
        for k in range(offsets[b], offsets[b + 1]):
            col, row = x[k], y[k]
            keep[k] = not seen[row, col] or t[k] - last[row, col] > period
            last[row, col] = t[k]
            seen[row, col] = True
    return keep
