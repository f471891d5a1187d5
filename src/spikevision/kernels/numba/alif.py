"""The compiled loops of the adaptive-threshold LIF (``spikevision.neurons.alif``) on the CPU, laid out as
``common`` (flat arrays, a range of chunks of neurons per call, a serial and a parallel build,
plain loops, no fastmath, constants in the dtype), so that spikes, membranes and thresholds are bit for bit
the reference's. The threshold's parameters are fixed
numbers here and its state carries no gradient (it follows from the detached spikes), so backward is the
LIF's, with each step's threshold recomputed. Reset codes: 0 subtract, 1 zero, 2 none.
"""

from __future__ import annotations

import numba
import numpy as np

from spikevision.kernels.numba.common import compiled, copy_row, fill, loop, spikes_of, surrogate_row

FORWARD_CHUNK = 1024
BACKWARD_CHUNK = 256


@compiled(inline="always")
def alif_row(mode, m, thr, x, r, b, consts, m_out, thr_out):
    """One step: ``m_out``, ``thr_out`` become ``mem_t``, ``A_t`` from ``m``, ``thr`` (the same arrays for a step in
    place); ``r`` (``S_{t-1}``) becomes ``S_t``. One loop per reset mode, so that each vectorises.

    ``consts`` = (1, threshold, rho, gamma) in the dtype.
    """
    one, th, rho, gamma = consts[0], consts[1], consts[2], consts[3]
    zero = one - one
    n = m.shape[0]
    if mode == 0:
        for j in range(n):
            a = (th + rho * (thr[j] - th)) + gamma * r[j]
            v = (b[j] * m[j] + x[j]) - r[j] * thr[j]
            m_out[j], thr_out[j] = v, a
            r[j] = one if v - a > 0 else zero
    elif mode == 1:
        for j in range(n):
            a = (th + rho * (thr[j] - th)) + gamma * r[j]
            v = b[j] * ((one - r[j]) * m[j]) + x[j]
            m_out[j], thr_out[j] = v, a
            r[j] = one if v - a > 0 else zero
    else:
        for j in range(n):
            a = (th + rho * (thr[j] - th)) + gamma * r[j]
            v = b[j] * m[j] + x[j]
            m_out[j], thr_out[j] = v, a
            r[j] = one if v - a > 0 else zero


@loop("alif")
def forward(first, stop, cur, cur_step, mem0, thr0, beta, mode, consts, spk, mem, store_mem, mem_last, thr_last):
    """For chunks ``first..stop``: spikes ``spk [T, M]``, membranes ``mem [T, M]`` if ``store_mem``, the last
    membrane and threshold ``[M]``."""
    steps, size = spk.shape
    one = consts[0]
    for chunk in numba.prange(first, stop):
        lo = chunk * FORWARD_CHUNK
        hi = min(lo + FORWARD_CHUNK, size)
        n = hi - lo
        m, a, r = np.empty(n, spk.dtype), np.empty(n, spk.dtype), np.empty(n, spk.dtype)
        copy_row(mem0[lo:hi], m)
        copy_row(thr0[lo:hi], a)
        spikes_of(m, a, one, r)
        for t in range(steps):
            alif_row(mode, m, a, cur[t * cur_step, lo:hi], r, beta[lo:hi], consts, m, a)
            copy_row(r, spk[t, lo:hi])
            if store_mem:
                copy_row(m, mem[t, lo:hi])
        copy_row(m, mem_last[lo:hi])
        copy_row(a, thr_last[lo:hi])


@loop("alif")
def backward(first, stop, steps, cur, cur_step, mem0, thr0, beta, mode, consts, surrogate_consts, code,
             g_spk, has_g_spk, g_mem, has_g_mem, g_last, has_g_last, d_cur, d_mem0, d_beta, want_beta):
    """Surrogate gradient through time for chunks ``first..stop``, recomputing membranes and thresholds
    (``k_t = 1 - S_{t-1}`` for reset to zero, else 1)::

        G_t = g_mem_t + g_spk_t * g(mem_t - A_t) + beta * k_{t+1} * G_{t+1}     (+ g_last at the last step)
        d_cur_t = G_t,  d_beta += G_t k_t mem_{t-1},  d_mem0 = beta k_0 G_0
    """
    size = mem0.shape[0]
    one = consts[0]
    zero = one - one
    spike_grad_step = 1 if g_spk.shape[0] == steps else 0  # [1, M]: the same gradient at every step
    for chunk in numba.prange(first, stop):
        lo = chunk * BACKWARD_CHUNK
        hi = min(lo + BACKWARD_CHUNK, size)
        n = hi - lo
        b = beta[lo:hi]
        mems = np.empty((steps + 1, n), mem0.dtype)  # row 0: the initial state; row t + 1: after step t
        thrs = np.empty((steps + 1, n), mem0.dtype)
        m, a, r = np.empty(n, mem0.dtype), np.empty(n, mem0.dtype), np.empty(n, mem0.dtype)
        copy_row(mem0[lo:hi], m)
        copy_row(thr0[lo:hi], a)
        copy_row(m, mems[0])
        copy_row(a, thrs[0])
        spikes_of(m, a, one, r)
        for t in range(steps):
            alif_row(mode, m, a, cur[t * cur_step, lo:hi], r, b, consts, m, a)
            copy_row(m, mems[t + 1])
            copy_row(a, thrs[t + 1])
        carry, big, through = np.empty(n, mem0.dtype), np.empty(n, mem0.dtype), np.empty(n, mem0.dtype)
        if has_g_last:
            copy_row(g_last[lo:hi], carry)
        else:
            fill(carry, zero)
        sum_cur, sum_beta = np.empty(n), np.empty(n)
        fill(sum_cur, 0.0)
        fill(sum_beta, 0.0)
        for t in range(steps - 1, -1, -1):
            if has_g_mem:
                for j in range(n):
                    big[j] = carry[j] + g_mem[t, lo + j]
            else:
                copy_row(carry, big)
            if has_g_spk:
                surrogate_row(code, surrogate_consts, g_spk[t * spike_grad_step, lo:hi], mems[t + 1], thrs[t + 1],
                               through)
                for j in range(n):
                    big[j] += through[j]
            for j in range(n):
                keep = zero if (mode == 1 and mems[t, j] - thrs[t, j] > 0) else one
                if want_beta:
                    sum_beta[j] += big[j] * keep * mems[t, j]
                carry[j] = big[j] * b[j] * keep
                if cur_step:
                    d_cur[t, lo + j] = big[j]
                else:
                    sum_cur[j] += big[j]
        copy_row(carry, d_mem0[lo:hi])
        if not cur_step:
            copy_row(sum_cur, d_cur[0, lo:hi])
        if want_beta:
            copy_row(sum_beta, d_beta[lo:hi])
