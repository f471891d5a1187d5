"""The compiled loops of the current-based LIF (``spikevision.neurons.cuba``) on the CPU: forward, and backward by
recomputing the forward. Laid out as ``common`` (flat ``[T, M]`` arrays, a range of chunks of neurons
per call, a serial and a parallel build, plain loops, no fastmath, constants in the array's dtype), so
spikes, currents and membranes are bit for bit the reference's. Reset codes: 0 subtract, 1 zero, 2 none.
"""

from __future__ import annotations

import numba
import numpy as np

from spikevision.kernels.numba.common import compiled, copy_row, fill, loop, spikes_of, surrogate_row

FORWARD_CHUNK = 1024
BACKWARD_CHUNK = 256


@compiled(inline="always")
def cuba_row(mode, s, m, x, r, a, b, th, one, s_out, m_out):
    """One step: ``s_out``, ``m_out`` become ``syn_t``, ``mem_t`` from ``s``, ``m`` (``syn_{t-1}``, ``mem_{t-1}``;
    the same arrays for a step in place); ``r`` (``S_{t-1}``) becomes ``S_t``."""
    zero = one - one
    n = m.shape[0]
    if mode == 0:
        for j in range(n):
            sv = a[j] * s[j] + x[j]
            mv = (b[j] * m[j] + sv) - r[j] * th[j]
            s_out[j], m_out[j] = sv, mv
            r[j] = one if mv - th[j] > 0 else zero
    elif mode == 1:
        for j in range(n):
            sv = a[j] * s[j] + x[j]
            mv = b[j] * ((one - r[j]) * m[j]) + sv
            s_out[j], m_out[j] = sv, mv
            r[j] = one if mv - th[j] > 0 else zero
    else:
        for j in range(n):
            sv = a[j] * s[j] + x[j]
            mv = b[j] * m[j] + sv
            s_out[j], m_out[j] = sv, mv
            r[j] = one if mv - th[j] > 0 else zero


@loop("cuba")
def forward(first, stop, cur, cur_step, syn0, mem0, alpha, beta, thr, mode, one, spk, mem, store_mem, syn_last,
            mem_last):
    """For chunks ``first..stop``: spikes ``spk [T, M]``, membranes ``mem [T, M]`` if ``store_mem``, the last
    ``syn`` and ``mem`` ``[M]``.

    ``cur`` is ``[T, M]``, or ``[1, M]`` with ``cur_step = 0`` for a constant current.
    """
    steps, size = spk.shape
    for chunk in numba.prange(first, stop):
        lo = chunk * FORWARD_CHUNK
        hi = min(lo + FORWARD_CHUNK, size)
        n = hi - lo
        a, b, th = alpha[lo:hi], beta[lo:hi], thr[lo:hi]
        s, m, r = np.empty(n, spk.dtype), np.empty(n, spk.dtype), np.empty(n, spk.dtype)
        copy_row(syn0[lo:hi], s)
        copy_row(mem0[lo:hi], m)
        spikes_of(m, th, one, r)
        for t in range(steps):
            cuba_row(mode, s, m, cur[t * cur_step, lo:hi], r, a, b, th, one, s, m)
            copy_row(r, spk[t, lo:hi])
            if store_mem:
                copy_row(m, mem[t, lo:hi])
        copy_row(s, syn_last[lo:hi])
        copy_row(m, mem_last[lo:hi])


@compiled(inline="always")
def _restart(carry, given, has_given, lo, hi, zero):
    """``carry`` = the chunk's part of the gradient ``given`` for the last state, or zeros without one."""
    if has_given:
        copy_row(given[lo:hi], carry)
    else:
        fill(carry, zero)


@loop("cuba")
def backward(first, stop, steps, cur, cur_step, syn0, mem0, alpha, beta, thr, mode, consts, code,
             g_spk, has_g_spk, g_mem, has_g_mem, g_syn, has_g_syn, g_last, has_g_last,
             d_cur, d_syn0, d_mem0, d_alpha, want_alpha, d_beta, want_beta, d_thr, want_thr):
    """Surrogate gradient through time for chunks ``first..stop``, recomputing the states. With ``G_t`` the
    gradient reaching ``mem_t``, ``H_t`` the one reaching ``syn_t`` and ``k_t = 1 - S_{t-1}`` for reset to
    zero, else 1 (resets detached)::

        G_t = g_mem_t + g_spk_t * g(mem_t - thr) + beta * k_{t+1} * G_{t+1}    (+ g_last at the last step)
        H_t = G_t + alpha * H_{t+1}                                            (+ g_syn at the last step)
        d_cur_t = H_t,  d_beta += G_t k_t mem_{t-1},  d_alpha += H_t syn_{t-1},
        d_thr -= g_spk_t * g(mem_t - thr) + (G_t * S_{t-1} if subtract else 0)

    ``d_syn0 = alpha H_0`` and ``d_mem0 = beta k_0 G_0``; per-element coefficient gradients in float64.
    """
    size = mem0.shape[0]
    one, zero = consts[0], consts[1]
    spike_grad_step = 1 if g_spk.shape[0] == steps else 0  # [1, M]: the same gradient at every step
    for chunk in numba.prange(first, stop):
        lo = chunk * BACKWARD_CHUNK
        hi = min(lo + BACKWARD_CHUNK, size)
        n = hi - lo
        a, b, th = alpha[lo:hi], beta[lo:hi], thr[lo:hi]
        syns = np.empty((steps + 1, n), mem0.dtype)  # row 0: the initial state; row t + 1: after step t
        mems = np.empty((steps + 1, n), mem0.dtype)
        s, m, r = np.empty(n, mem0.dtype), np.empty(n, mem0.dtype), np.empty(n, mem0.dtype)
        copy_row(syn0[lo:hi], s)
        copy_row(mem0[lo:hi], m)
        copy_row(s, syns[0])
        copy_row(m, mems[0])
        spikes_of(m, th, one, r)
        for t in range(steps):
            cuba_row(mode, s, m, cur[t * cur_step, lo:hi], r, a, b, th, one, s, m)
            copy_row(s, syns[t + 1])
            copy_row(m, mems[t + 1])
        carry_m = np.empty(n, mem0.dtype)  # beta * k_{t+1} * G_{t+1}
        carry_s = np.empty(n, mem0.dtype)  # alpha * H_{t+1}
        _restart(carry_m, g_last, has_g_last, lo, hi, zero)
        _restart(carry_s, g_syn, has_g_syn, lo, hi, zero)
        big, through = np.empty(n, mem0.dtype), np.empty(n, mem0.dtype)
        sums = np.zeros((4, n))  # d_cur (constant current), d_alpha, d_beta, d_thr
        for t in range(steps - 1, -1, -1):
            if has_g_mem:
                for j in range(n):
                    big[j] = carry_m[j] + g_mem[t, lo + j]
            else:
                copy_row(carry_m, big)
            if has_g_spk:
                surrogate_row(code, consts, g_spk[t * spike_grad_step, lo:hi], mems[t + 1], th, through)
                for j in range(n):
                    big[j] += through[j]
                    if want_thr:
                        sums[3, j] -= through[j]
            for j in range(n):
                fired = mems[t, j] - th[j] > 0  # S_{t-1}
                gm = zero if (mode == 1 and fired) else big[j]  # G_t k_t: what reaches mem_{t-1} and beta
                h = big[j] + carry_s[j]
                if mode == 0 and want_thr and fired:
                    sums[3, j] -= big[j]
                if want_beta:
                    sums[2, j] += gm * mems[t, j]
                if want_alpha:
                    sums[1, j] += h * syns[t, j]
                carry_m[j] = gm * b[j]
                carry_s[j] = h * a[j]
                if cur_step:
                    d_cur[t, lo + j] = h
                else:
                    sums[0, j] += h
        copy_row(carry_m, d_mem0[lo:hi])
        copy_row(carry_s, d_syn0[lo:hi])
        for j in range(n):
            if not cur_step:
                d_cur[0, lo + j] = sums[0, j]
            if want_alpha:
                d_alpha[lo + j] = sums[1, j]
            if want_beta:
                d_beta[lo + j] = sums[2, j]
            if want_thr:
                d_thr[lo + j] = sums[3, j]
