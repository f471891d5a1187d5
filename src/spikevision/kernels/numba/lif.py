"""The LIF family's compiled CPU loops: forward, and backward by recomputing the forward (see ``common`` for
the layout and the codes). The arithmetic is op for op ``neurons.lif``'s reference step."""

from __future__ import annotations

import numba
import numpy as np

from spikevision.kernels.numba.common import compiled, copy_row, fill, loop, spikes_of, surrogate_row

FORWARD_CHUNK = 1024  # neurons per task: 4 KiB of float32 spikes written contiguously per step
BACKWARD_CHUNK = 256  # the recomputed membranes of a chunk, (T + 1) x 256, stay in L2 for T up to ~1000


@compiled(inline="always")
def advance_row(mode, prev, x, r, beta, thr, one, out):
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


@compiled(inline="always")
def carry_row(mode, dm, prev, beta, thr, one, carry):
    """``carry = dm_t * d mem_t / d mem_{t-1}``: ``beta``, times ``1 - r_{t-1}`` for reset to zero."""
    zero = one - one
    n = carry.shape[0]
    if mode == 1:
        for j in range(n):
            carry[j] = dm[j] * beta[j] * (zero if prev[j] - thr[j] > 0 else one)
    else:
        for j in range(n):
            carry[j] = dm[j] * beta[j]


@compiled(inline="always")
def coefficient_sums(mode, dm, prev, thr, sum_beta, want_beta, sum_thr, want_thr):
    """A learnable beta's and threshold's share of one step back (``backward``'s, and the fused pair's):
    ``d mem_t / d beta = (1 - r_{t-1} for reset to zero) * mem_{t-1}``, ``d mem_t / d thr = -r_{t-1}``
    (subtract)."""
    n = dm.shape[0]
    # Branch-free loops (a select, not an if around the add) that LLVM vectorises: 4x faster than with the if.
    if want_beta and mode == 1:
        for j in range(n):
            sum_beta[j] += 0.0 if prev[j] - thr[j] > 0 else dm[j] * prev[j]
    elif want_beta:
        for j in range(n):
            sum_beta[j] += dm[j] * prev[j]
    if mode == 0 and want_thr:
        for j in range(n):
            sum_thr[j] -= dm[j] if prev[j] - thr[j] > 0 else 0.0


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
        copy_row(mem0[lo:hi], m)
        spikes_of(m, th, one, r)
        for t in range(steps):
            advance_row(mode, m, cur[t * cur_step, lo:hi], r, b, th, one, m)
            copy_row(r, spk[t, lo:hi])
            if store_mem:
                copy_row(m, mem[t, lo:hi])
        copy_row(m, last[lo:hi])


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
        copy_row(mem0[lo:hi], mems[0])
        spikes_of(mems[0], th, one, r)
        for t in range(steps):
            advance_row(mode, mems[t], cur[t * cur_step, lo:hi], r, b, th, one, mems[t + 1])

        if has_g_last:  # carry: dm_{t+1} * d mem_{t+1} / d mem_t
            copy_row(g_last[lo:hi], carry)
        else:
            fill(carry, zero)
        fill(sum_cur, 0.0)
        fill(sum_beta, 0.0)
        fill(sum_thr, 0.0)
        for t in range(steps - 1, -1, -1):
            now, prev = mems[t + 1], mems[t]
            if has_g_mem:
                for j in range(n):
                    dm[j] = carry[j] + g_mem[t, lo + j]
            else:
                copy_row(carry, dm)
            if has_g_spk:
                surrogate_row(code, consts, g_spk[t * spike_grad_step, lo:hi], now, th, through_spike)
                for j in range(n):
                    dm[j] += through_spike[j]
                if want_thr:
                    for j in range(n):
                        sum_thr[j] -= through_spike[j]
            carry_row(mode, dm, prev, b, th, one, carry)
            coefficient_sums(mode, dm, prev, th, sum_beta, want_beta, sum_thr, want_thr)
            if cur_step:
                copy_row(dm, d_cur[t, lo:hi])
            else:
                for j in range(n):
                    sum_cur[j] += dm[j]
        copy_row(carry, d_mem0[lo:hi])
        if not cur_step:
            copy_row(sum_cur, d_cur[0, lo:hi])
        if want_beta:
            copy_row(sum_beta, d_beta[lo:hi])
        if want_thr:
            copy_row(sum_thr, d_thr[lo:hi])
