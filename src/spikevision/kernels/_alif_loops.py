"""The compiled loops of the adaptive-threshold LIF (``spikevision.alif``) on the CPU, laid out as
``_numba_loops`` (flat arrays, chunks of neurons per thread, no fastmath, constants in the dtype), so that
spikes, membranes and thresholds are bit for bit the reference's. The threshold's parameters are fixed
numbers here and its state carries no gradient (it follows from the detached spikes), so backward is the
LIF's, with each step's threshold recomputed. Reset codes: 0 subtract, 1 zero, 2 none.
"""

from __future__ import annotations

import numba
import numpy as np

from spikevision.kernels._numba_loops import _compile, _surrogate_row

FORWARD_CHUNK = 1024
BACKWARD_CHUNK = 256


@_compile(inline="always")
def _alif_row(mode, m, thr, x, r, b, consts):
    """One step in place: ``m``, ``thr`` become ``mem_t``, ``A_t``; ``r`` (``S_{t-1}``) becomes ``S_t``.

    ``consts`` = (1, threshold, rho, gamma) in the dtype.
    """
    one, th, rho, gamma = consts[0], consts[1], consts[2], consts[3]
    zero = one - one
    n = m.shape[0]
    for j in range(n):
        a = (th + rho * (thr[j] - th)) + gamma * r[j]
        if mode == 0:
            v = (b[j] * m[j] + x[j]) - r[j] * thr[j]
        elif mode == 1:
            v = b[j] * ((one - r[j]) * m[j]) + x[j]
        else:
            v = b[j] * m[j] + x[j]
        m[j], thr[j] = v, a
        r[j] = one if v - a > 0 else zero


@_compile(parallel=True)
def forward(cur, cur_step, mem0, thr0, beta, mode, consts, spk, mem, store_mem, mem_last, thr_last):
    """Spikes ``spk [T, M]``, membranes ``mem [T, M]`` if ``store_mem``, the last membrane and threshold ``[M]``."""
    steps, size = spk.shape
    one = consts[0]
    zero = one - one
    for chunk in numba.prange((size + FORWARD_CHUNK - 1) // FORWARD_CHUNK):
        lo = chunk * FORWARD_CHUNK
        hi = min(lo + FORWARD_CHUNK, size)
        m = mem0[lo:hi].copy()
        a = thr0[lo:hi].copy()
        r = np.empty(hi - lo, spk.dtype)
        for j in range(hi - lo):
            r[j] = one if m[j] - a[j] > 0 else zero
        for t in range(steps):
            _alif_row(mode, m, a, cur[t * cur_step, lo:hi], r, beta[lo:hi], consts)
            spk[t, lo:hi] = r
            if store_mem:
                mem[t, lo:hi] = m
        mem_last[lo:hi] = m
        thr_last[lo:hi] = a


@_compile(parallel=True)
def backward(steps, cur, cur_step, mem0, thr0, beta, mode, consts, surrogate_consts, code,
             g_spk, has_g_spk, g_mem, has_g_mem, g_last, has_g_last, d_cur, d_mem0, d_beta, want_beta):
    """Surrogate gradient through time, recomputing membranes and thresholds (``k_t = 1 - S_{t-1}`` for reset
    to zero, else 1)::

        G_t = g_mem_t + g_spk_t * g(mem_t - A_t) + beta * k_{t+1} * G_{t+1}     (+ g_last at the last step)
        d_cur_t = G_t,  d_beta += G_t k_t mem_{t-1},  d_mem0 = beta k_0 G_0
    """
    size = mem0.shape[0]
    one = consts[0]
    zero = one - one
    for chunk in numba.prange((size + BACKWARD_CHUNK - 1) // BACKWARD_CHUNK):
        lo = chunk * BACKWARD_CHUNK
        hi = min(lo + BACKWARD_CHUNK, size)
        n = hi - lo
        b = beta[lo:hi]
        mems = np.empty((steps + 1, n), mem0.dtype)  # row 0: the initial state; row t + 1: after step t
        thrs = np.empty((steps + 1, n), mem0.dtype)
        mems[0] = mem0[lo:hi]
        thrs[0] = thr0[lo:hi]
        m = mems[0].copy()
        a = thrs[0].copy()
        r = np.empty(n, mem0.dtype)
        for j in range(n):
            r[j] = one if m[j] - a[j] > 0 else zero
        for t in range(steps):
            _alif_row(mode, m, a, cur[t * cur_step, lo:hi], r, b, consts)
            mems[t + 1] = m
            thrs[t + 1] = a
        carry = np.zeros(n, mem0.dtype)
        if has_g_last:
            carry[:] = g_last[lo:hi]
        big = np.empty(n, mem0.dtype)
        through = np.empty(n, mem0.dtype)
        sum_cur, sum_beta = np.zeros(n), np.zeros(n)
        for t in range(steps - 1, -1, -1):
            big[:] = carry
            if has_g_mem:
                big += g_mem[t, lo:hi]
            if has_g_spk:
                _surrogate_row(code, surrogate_consts, g_spk[t, lo:hi], mems[t + 1], thrs[t + 1], through)
                big += through
            for j in range(n):
                keep = zero if (mode == 1 and mems[t, j] - thrs[t, j] > 0) else one
                if want_beta:
                    sum_beta[j] += big[j] * keep * mems[t, j]
                carry[j] = big[j] * b[j] * keep
                if cur_step:
                    d_cur[t, lo + j] = big[j]
                else:
                    sum_cur[j] += big[j]
        d_mem0[lo:hi] = carry
        if not cur_step:
            d_cur[0, lo:hi] = sum_cur
        if want_beta:
            d_beta[lo:hi] = sum_beta
