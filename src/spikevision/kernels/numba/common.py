"""What every family's compiled CPU loops share: how a loop is compiled (``compiled``, ``Loop``: a serial and a
parallel build from one source), and the row operations every family's loop uses.

Layout: every array is flat, ``[T, M]`` or ``[M]`` (M = batch x neurons). The neurons are cut into
chunks of contiguous ones, and each chunk runs the whole time loop with its states in a local array
that stays in L1/L2, so the input is read once and the spikes are written once. Each loop takes the range
of chunks it runs, ``first <= chunk < stop``, and is compiled in two builds from its one source (``Loop``):
a serial one, which compiles in a few seconds, and one whose chunks ``prange`` hands to numba's threads,
which compiles in 10-20 s (numba's parfor passes and LLVM on the threaded body) and runs up to twice as fast
on 2 cores. ``runtime.build`` picks one per call (docs/PERFORMANCE.md, "The first run"). No array expressions:
outside ``parallel=True`` numba runs them slower than the plain loops here. Branches on the reset mode and
the surrogate sit outside the innermost loops, which are plain enough for LLVM to vectorise. The arithmetic
is written op for op as the neurons' reference steps, with no fastmath (no reassociation, no fused
multiply-add) and every constant in the array's dtype, so that spikes and states are bit for bit the
reference's in both builds.

Codes: reset 0 subtract, 1 zero, 2 none; surrogate 0 atan, 1 fast_sigmoid, 2 sigmoid, 3 triangular,
4 straight_through (the formulas of ``neurons/surrogate.py``).
"""

from __future__ import annotations

import types

import numba
import numpy as np


def compiled(**options):
    """``numba.njit`` with the on-disk cache where a cache directory is writable, without it otherwise."""

    def decorate(fn):
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:  # numba finds no writable cache location: compile once per process instead
            return numba.njit(**options)(fn)

    return decorate


class Loop:
    """One loop in two builds: ``serial`` (compiled at once; releases the GIL) and ``parallel`` (its ``prange``
    over chunks on numba's threads; compiled on first use). ``family`` names it for ``cache``."""

    def __init__(self, fn, family: str):
        self.family = family
        # numba's arithmetic errors as numpy's (no zero-division branch in the loops), as the parallel
        # build gets them: without it LLVM cannot vectorise the surrogate's division.
        self.serial = compiled(nogil=True, error_model="numpy")(fn)
        self._fn, self._parallel = fn, None

    @property
    def parallel(self):
        if self._parallel is None:
            # A twin function under its own name, so numba's on-disk cache keeps the two builds apart.
            fn = self._fn
            twin = types.FunctionType(fn.__code__, fn.__globals__, f"{fn.__name__}_parallel", fn.__defaults__,
                                      fn.__closure__)
            twin.__qualname__ = f"{fn.__qualname__}_parallel"
            self._parallel = compiled(parallel=True)(twin)
        return self._parallel


def loop(family: str):
    """Decorator: the function as a ``Loop`` of ``family``."""
    return lambda fn: Loop(fn, family)


@compiled(inline="always")
def copy_row(src, dst):
    """``dst[:] = src`` as a plain loop (numba's array expressions run slower outside ``parallel=True``)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@compiled(inline="always")
def fill(dst, value):
    """``dst[:] = value`` as a plain loop."""
    for j in range(dst.shape[0]):
        dst[j] = value


@compiled(inline="always")
def spikes_of(mem, thr, one, r):
    """``r = mem > thr`` as 0/1 in the dtype: the spikes an initial state carries into the first step."""
    zero = one - one
    for j in range(r.shape[0]):
        r[j] = one if mem[j] - thr[j] > 0 else zero


@compiled(inline="always")
def surrogate_row(code, consts, grad, mem, thr, out):
    """``out = grad * g(mem - thr)`` for the surrogate ``code``; ``consts`` = (1, 0, a, b) in the dtype."""
    one, zero, a, b = consts[0], consts[1], consts[2], consts[3]
    n = out.shape[0]
    if code == 0:  # atan: (alpha/2) / (1 + (pi/2 alpha x)^2); a = pi/2 alpha, b = alpha/2
        for j in range(n):
            y = a * (mem[j] - thr[j])
            out[j] = grad[j] * (b / (one + y * y))
    elif code == 1:  # fast_sigmoid: 1 / (1 + k|x|)^2; a = k
        for j in range(n):
            d = a * abs(mem[j] - thr[j]) + one
            out[j] = grad[j] / (d * d)
    elif code == 2:  # sigmoid: k e^{-|kx|} / (1 + e^{-|kx|})^2, which never overflows; a = k
        for j in range(n):
            e = np.exp(-abs(a * (mem[j] - thr[j])))
            out[j] = grad[j] * (a * e / ((one + e) * (one + e)))
    elif code == 3:  # triangular: max(0, 1 - |x|/w) / w; a = 1/w
        for j in range(n):
            out[j] = grad[j] * (max(zero, one - abs(mem[j] - thr[j]) * a) * a)
    else:  # straight_through: 1
        for j in range(n):
            out[j] = grad[j]
