"""The compiled loops of the CPU engine (numba): LIF forward, and backward by recomputing the forward.

Kept apart from ``cpu.py`` because calling these compiles them (or loads them from numba's on-disk
cache); ``cpu.py`` imports this module on first use only.

Layout: every array is flat, ``[T, M]`` or ``[M]`` (M = batch x neurons). The neurons are cut into
chunks of contiguous ones, and each chunk runs the whole time loop with its membranes in a local array
that stays in L1/L2, so the input is read once and the spikes are written once. Each loop takes the range
of chunks it runs, ``first <= chunk < stop``, and is compiled in two builds from its one source (``Loop``):
a serial one, which compiles in a few seconds, and one whose chunks ``prange`` hands to numba's threads,
which compiles in 10-20 s (numba's parfor passes and LLVM on the threaded body) and runs up to twice as fast
on 2 cores. ``cpu.build`` picks one per call (docs/PERFORMANCE.md, "The first run"). No array expressions:
outside ``parallel=True`` numba runs them slower than the plain loops here. Branches on the reset mode and
the surrogate sit outside the innermost loops, which are plain enough for LLVM to vectorise. The arithmetic
is written op for op as ``lif._advance``, with no fastmath (no reassociation, no fused multiply-add) and
every constant in the array's dtype, so that spikes and membranes are bit for bit the reference's in both
builds.

Codes: reset 0 subtract, 1 zero, 2 none; surrogate 0 atan, 1 fast_sigmoid, 2 sigmoid, 3 triangular,
4 straight_through (the formulas of ``surrogate.py``).
"""

from __future__ import annotations

import types

import numba
import numpy as np

from spikevision.kernels import _simd

FORWARD_CHUNK = 1024  # neurons per task: 4 KiB of float32 spikes written contiguously per step
BACKWARD_CHUNK = 256  # the recomputed membranes of a chunk, (T + 1) x 256, stay in L2 for T up to ~1000


def _compile(**options):
    """``numba.njit`` with the on-disk cache where a cache directory is writable, without it otherwise."""

    def decorate(fn):
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:  # numba finds no writable cache location: compile once per process instead
            return numba.njit(**options)(fn)

    return decorate


class Loop:
    """One loop in two builds: ``serial`` (compiled at once; releases the GIL) and ``parallel`` (its ``prange``
    over chunks on numba's threads; compiled on first use). ``family`` names it for ``kernels.cache``."""

    def __init__(self, fn, family: str):
        self.family = family
        # numba's arithmetic errors as numpy's (no zero-division branch in the loops), as the parallel
        # build gets them: without it LLVM cannot vectorise the surrogate's division.
        self.serial = _compile(nogil=True, error_model="numpy")(fn)
        self._fn, self._parallel = fn, None

    @property
    def parallel(self):
        if self._parallel is None:
            # A twin function under its own name, so numba's on-disk cache keeps the two builds apart.
            fn = self._fn
            twin = types.FunctionType(fn.__code__, fn.__globals__, f"{fn.__name__}_parallel", fn.__defaults__,
                                      fn.__closure__)
            twin.__qualname__ = f"{fn.__qualname__}_parallel"
            self._parallel = _compile(parallel=True)(twin)
        return self._parallel


def loop(family: str):
    """Decorator: the function as a ``Loop`` of ``family``."""
    return lambda fn: Loop(fn, family)


@_compile(inline="always")
def _copy(src, dst):
    """``dst[:] = src`` as a plain loop (numba's array expressions run slower outside ``parallel=True``)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@_compile(inline="always")
def _fill(dst, value):
    """``dst[:] = value`` as a plain loop."""
    for j in range(dst.shape[0]):
        dst[j] = value


@_compile(inline="always")
def _spikes_of(mem, thr, one, r):
    """``r = mem > thr`` as 0/1 in the dtype: the spikes an initial state carries into the first step."""
    zero = one - one
    for j in range(r.shape[0]):
        r[j] = one if mem[j] - thr[j] > 0 else zero


@_compile(inline="always")
def _advance_row(mode, prev, x, r, beta, thr, one, out):
    """``out = mem_t`` from ``prev = mem_{t-1}``, input ``x`` and last spikes ``r``; ``r`` becomes ``S_t``."""
    zero = one - one
    n = out.shape[0]
    if mode == 0:
        for j in range(n):
            v = (beta[j] * prev[j] + x[j]) - r[j] * thr[j]
            out[j] = v
            r[j] = one if v - thr[j] > 0 else zero
    elif mode == 1:
        for j in range(n):
            v = beta[j] * ((one - r[j]) * prev[j]) + x[j]
            out[j] = v
            r[j] = one if v - thr[j] > 0 else zero
    else:
        for j in range(n):
            v = beta[j] * prev[j] + x[j]
            out[j] = v
            r[j] = one if v - thr[j] > 0 else zero


@_compile(inline="always")
def _surrogate_row(code, consts, grad, mem, thr, out):
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


@_compile(inline="always")
def _carry_row(mode, dm, prev, beta, thr, one, carry):
    """``carry = dm_t * d mem_t / d mem_{t-1}``: ``beta``, times ``1 - r_{t-1}`` for reset to zero."""
    zero = one - one
    n = carry.shape[0]
    if mode == 1:
        for j in range(n):
            carry[j] = dm[j] * beta[j] * (zero if prev[j] - thr[j] > 0 else one)
    else:
        for j in range(n):
            carry[j] = dm[j] * beta[j]


@loop("lif")
def forward(first, stop, cur, cur_step, mem0, beta, thr, mode, one, spk, mem, store_mem, last):
    """Run the recurrence of chunks ``first..stop``: spikes ``spk [T, M]``, membranes ``mem [T, M]`` if
    ``store_mem``, ``last [M]``.

    ``cur`` is ``[T, M]``, or ``[1, M]`` with ``cur_step = 0`` for a constant current; ``beta`` and
    ``thr`` are ``[M]``; ``one`` is 1 in the dtype.
    """
    steps, size = spk.shape
    for chunk in numba.prange(first, stop):
        lo = chunk * FORWARD_CHUNK
        hi = min(lo + FORWARD_CHUNK, size)
        b, th = beta[lo:hi], thr[lo:hi]
        m, r = np.empty(hi - lo, spk.dtype), np.empty(hi - lo, spk.dtype)
        _copy(mem0[lo:hi], m)
        _spikes_of(m, th, one, r)
        for t in range(steps):
            _advance_row(mode, m, cur[t * cur_step, lo:hi], r, b, th, one, m)
            _copy(r, spk[t, lo:hi])
            if store_mem:
                _copy(m, mem[t, lo:hi])
        _copy(m, last[lo:hi])


@loop("lif")
def backward(first, stop, steps, cur, cur_step, mem0, beta, thr, mode, consts, code,
             g_spk, has_g_spk, g_mem, has_g_mem, g_last, has_g_last,
             d_cur, d_mem0, d_beta, want_beta, d_thr, want_thr):
    """Surrogate gradient through time for ``forward``'s recurrence of chunks ``first..stop``, recomputing
    its membranes.

    With ``dm_t`` the whole gradient reaching ``mem_t`` (the reset ``r`` detached, as in the reference)::

        dm_t = g_mem_t + g_spk_t * g(mem_t - thr) + dm_{t+1} * beta * (1 - r_t if reset zero else 1)
        d_cur_t = dm_t,  d_beta += dm_t * (1 - r_{t-1} if zero else 1) * mem_{t-1},
        d_thr -= g_spk_t * g(mem_t - thr) + (dm_t * r_{t-1} if subtract else 0)

    ``g_spk`` is ``[T, M]``, or ``[1, M]`` when it is the same at every step. Writes ``d_cur`` (``[T, M]``, or
    ``[1, M]`` summed over time when ``cur_step = 0``), ``d_mem0 [M]``
    and, when wanted, per-element ``d_beta [M]``/``d_thr [M]`` (float64; the caller sums them to the
    coefficient's shape). The recurrence runs in the dtype, sums over time in float64.
    """
    size = mem0.shape[0]
    one, zero = consts[0], consts[1]
    spike_grad_step = 1 if g_spk.shape[0] == steps else 0  # [1, M]: the same gradient at every step
    for chunk in numba.prange(first, stop):
        lo = chunk * BACKWARD_CHUNK
        hi = min(lo + BACKWARD_CHUNK, size)
        n = hi - lo
        b, th = beta[lo:hi], thr[lo:hi]
        mems = np.empty((steps + 1, n), mem0.dtype)  # row 0: the initial state; row t + 1: after step t
        r, carry = np.empty(n, mem0.dtype), np.empty(n, mem0.dtype)
        dm, through_spike = np.empty(n, mem0.dtype), np.empty(n, mem0.dtype)
        sum_cur, sum_beta, sum_thr = np.empty(n), np.empty(n), np.empty(n)
        _copy(mem0[lo:hi], mems[0])
        _spikes_of(mems[0], th, one, r)
        for t in range(steps):
            _advance_row(mode, mems[t], cur[t * cur_step, lo:hi], r, b, th, one, mems[t + 1])

        if has_g_last:  # carry: dm_{t+1} * d mem_{t+1} / d mem_t
            _copy(g_last[lo:hi], carry)
        else:
            _fill(carry, zero)
        _fill(sum_cur, 0.0)
        _fill(sum_beta, 0.0)
        _fill(sum_thr, 0.0)
        for t in range(steps - 1, -1, -1):
            now, prev = mems[t + 1], mems[t]
            if has_g_mem:
                for j in range(n):
                    dm[j] = carry[j] + g_mem[t, lo + j]
            else:
                _copy(carry, dm)
            if has_g_spk:
                _surrogate_row(code, consts, g_spk[t * spike_grad_step, lo:hi], now, th, through_spike)
                for j in range(n):
                    dm[j] += through_spike[j]
                if want_thr:
                    for j in range(n):
                        sum_thr[j] -= through_spike[j]
            _carry_row(mode, dm, prev, b, th, one, carry)
            if want_beta:  # d mem_t / d beta = (1 - r_{t-1} for reset to zero) * mem_{t-1}
                for j in range(n):
                    if mode != 1 or not prev[j] - th[j] > 0:
                        sum_beta[j] += dm[j] * prev[j]
            if mode == 0 and want_thr:  # d mem_t / d thr = -r_{t-1} for reset by subtraction
                for j in range(n):
                    if prev[j] - th[j] > 0:
                        sum_thr[j] -= dm[j]
            if cur_step:
                _copy(dm, d_cur[t, lo:hi])
            else:
                for j in range(n):
                    sum_cur[j] += dm[j]
        _copy(carry, d_mem0[lo:hi])
        if not cur_step:
            _copy(sum_cur, d_cur[0, lo:hi])
        if want_beta:
            _copy(sum_beta, d_beta[lo:hi])
        if want_thr:
            _copy(sum_thr, d_thr[lo:hi])


@_compile(inline="always")
def _spike_bits(mem, thr, words):
    """The spikes ``mem > thr`` of one step as bits: neuron ``64 w + i`` is bit ``i`` of ``words[w]``."""
    n = mem.shape[0]
    full = n // 64
    for w in range(full):
        words[w] = _simd.spike_word(mem, thr, w * 64)
    if full < words.shape[0]:  # the last, partial word
        base = full * 64
        bits = np.uint64(0)
        for i in range(n - base):
            bits |= np.uint64(mem[base + i] - thr[base + i] > 0) << np.uint64(i)
        words[full] = bits


@_compile(inline="always")
def _matvec(g, weight, out, zero):
    """``out = g @ weight`` (``g [K]``, ``weight [K, N]``), four rows of the weight per pass over ``out``.

    Fewer passes keep ``out`` in registers longer: 1.6x faster than two rows per pass for K = 10.
    """
    rows, n = weight.shape
    k = rows % 4
    if k == 0:
        for j in range(n):
            out[j] = zero
    elif k == 1:
        for j in range(n):
            out[j] = g[0] * weight[0, j]
    elif k == 2:
        for j in range(n):
            out[j] = g[0] * weight[0, j] + g[1] * weight[1, j]
    else:
        for j in range(n):
            out[j] = g[0] * weight[0, j] + g[1] * weight[1, j] + g[2] * weight[2, j]
    while k < rows:
        g0, g1, g2, g3 = g[k], g[k + 1], g[k + 2], g[k + 3]
        w0, w1, w2, w3 = weight[k], weight[k + 1], weight[k + 2], weight[k + 3]
        for j in range(n):
            out[j] += g0 * w0[j] + g1 * w1[j] + g2 * w2[j] + g3 * w3[j]
        k += 4


@_compile(inline="always")
def _back_row(mode, carry, through, prev, beta, thr, one, sum_cur):
    """One step back: ``dm = carry + through``, ``sum_cur += dm``, then ``carry`` for the step before."""
    zero = one - one
    n = carry.shape[0]
    if mode == 1:
        for j in range(n):
            dm = carry[j] + through[j]
            sum_cur[j] += dm
            carry[j] = dm * beta[j] * (zero if prev[j] - thr[j] > 0 else one)
    else:
        for j in range(n):
            dm = carry[j] + through[j]
            sum_cur[j] += dm
            carry[j] = dm * beta[j]


@loop("lif_linear")
def lif_linear_forward(first, stop, cur, beta, thr, mode, one, weight_t, bias, out, spk, store_spk):
    """A LIF layer on a constant current from rest, and the linear layer after it, without ``[T, B, N]``,
    for the samples ``first..stop`` of the batch.

    ``cur``, ``beta``, ``thr`` are ``[B, N]``; ``weight_t`` is the weight transposed ``[N, L]`` and
    ``bias`` ``[L]``, zero-padded to L >= K lanes; writes ``out [T, B, K]`` (the next layer's current)
    and, if ``store_spk``, the spikes ``spk [T, B, N]``. Spikes are 0/1, so the product with the weight
    is the sum of the rows of the neurons that spiked.
    """
    steps, _, classes = out.shape
    size = cur.shape[1]
    zero = one - one
    for b in numba.prange(first, stop):
        m, r = np.empty(size, cur.dtype), np.empty(size, cur.dtype)  # in the loop: one set per thread
        words = np.empty((size + 63) // 64, np.uint64)
        acc = np.empty(weight_t.shape[1], cur.dtype)
        th = thr[b]
        _fill(m, zero)
        _spikes_of(m, th, one, r)
        for t in range(steps):
            _advance_row(mode, m, cur[b], r, beta[b], th, one, m)
            _copy(bias, acc)
            _spike_bits(m, th, words)
            for lane in range(0, acc.shape[0], _simd.LANES):  # acc += the rows of the neurons that spiked
                _simd.sum_spiking_rows(words, weight_t, lane, acc)
            for k in range(classes):
                out[t, b, k] = acc[k]
            if store_spk:
                _copy(r, spk[t, b])


@_compile(error_model="numpy")  # not inlined: inlined, the parallel build's whole backward ran 1.2x slower
def _add_spiking_rows(words, g_rows, rows):
    """``rows[j] += g_rows[t]`` for each spike ``(t, j)`` of ``words [T, W]``, ``t`` from last to first.

    64 neurons at a time: their 64 rows of ``rows`` stay in L1 over all T steps (over all neurons at once
    they are 64 KiB of float64 and each spike's add runs from L2). Each element is added to in the same
    order as a step-by-step pass would, so the sums are bit for bit the same.
    """
    steps, width = g_rows.shape
    for w in range(words.shape[1]):
        for t in range(steps - 1, -1, -1):
            for lane in range(0, width, _simd.LANES):
                _simd.add_to_word_rows(words[t, w], rows, w * 64, lane, g_rows, t * width)


@loop("lif_linear")
def lif_linear_backward(first, stop, steps, cur, beta, thr, mode, consts, code, weight, g_out, d_cur,
                        d_weight_t):
    """Backward of ``lif_linear_forward`` for the batch's chunks ``first..stop``: ``d_cur [B, N]`` and the
    weight's gradient, by recomputation.

    The gradient reaching the spikes, ``g_out[t, b] @ weight``, is formed row by row and never stored;
    ``d_weight_t [C, N, L]`` (float64, zeros on entry) gets one partial sum of ``spk^T g_out`` per
    chunk of the batch (C chunks), summed by the caller.
    """
    batch, size = cur.shape
    one, zero = consts[0], consts[1]
    chunks, classes = d_weight_t.shape[0], g_out.shape[2]
    per = (batch + chunks - 1) // chunks
    for chunk in numba.prange(first, stop):
        mems = np.empty((steps + 1, size), cur.dtype)  # in the loop: one set per thread
        r = np.empty(size, cur.dtype)
        words = np.empty((steps, (size + 63) // 64), np.uint64)
        g_wide = np.zeros((steps, d_weight_t.shape[2]))  # g_out[:, b], float64, padded to the lanes
        g_spk = np.empty(size, cur.dtype)
        through = np.empty(size, cur.dtype)
        carry = np.empty(size, cur.dtype)
        sum_cur = np.empty(size)
        for b in range(chunk * per, min((chunk + 1) * per, batch)):
            th, bb = thr[b], beta[b]
            _fill(mems[0], zero)
            _spikes_of(mems[0], th, one, r)
            for t in range(steps):
                _advance_row(mode, mems[t], cur[b], r, bb, th, one, mems[t + 1])
            _fill(carry, zero)
            _fill(sum_cur, 0.0)
            for t in range(steps - 1, -1, -1):
                now, g = mems[t + 1], g_out[t, b]
                _matvec(g, weight, g_spk, zero)
                for k in range(classes):
                    g_wide[t, k] = g[k]
                _spike_bits(now, th, words[t])
                _surrogate_row(code, consts, g_spk, now, th, through)
                _back_row(mode, carry, through, mems[t], bb, th, one, sum_cur)
            _copy(sum_cur, d_cur[b])
            _add_spiking_rows(words, g_wide, d_weight_t[chunk])
