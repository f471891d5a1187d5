"""The one way the data layer's loops are compiled: numba, cached on disk beside the module (or in the user's
cache folder where that is not writable), released from the GIL; compiled once per process where no cache
location is writable at all."""

from __future__ import annotations

import numba


def compiled(fn):
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba finds no writable cache location: compile once per process instead
        return numba.njit(nogil=True)(fn)
