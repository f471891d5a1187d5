"""The compiled CPU loops of ``kernels.lif_linear``: a layer of LIF-like neurons on a constant current and the
linear layer it feeds, in one pass without ``[T, B, N]`` (the SIMD operations are ``simd``'s).

One pair for every family that can take it, told apart by ``family`` (``kernels.lif_linear.FAMILY_CODES``):
0 LIF (one state, the membrane), 1 CUBA (a synaptic current into the membrane), 2 ALIF (a threshold that rises
with each spike: the second state, which the spikes are read against). Only the step forward (``_advance``) and
the step back (``_back_row`` or ``_cuba_back_row``, with their coefficient sums) differ; the spikes' product with
the weight and its gradient are the same code."""

from __future__ import annotations

import numba
import numpy as np

from spikevision.kernels.numba import simd
from spikevision.kernels.numba.alif import alif_row
from spikevision.kernels.numba.common import compiled, copy_row, fill, loop, spikes_of, surrogate_row
from spikevision.kernels.numba.cuba import cuba_row
from spikevision.kernels.numba.lif import advance_row, coefficient_sums


@compiled(inline="always")
def _spike_bits(mem, thr, words):
    """The spikes ``mem > thr`` of one step as bits: neuron ``64 w + i`` is bit ``i`` of ``words[w]``."""
    n = mem.shape[0]
    full = n // 64
    for w in range(full):
        words[w] = simd.spike_word(mem, thr, w * 64)
    if full < words.shape[0]:  # the last, partial word
        base = full * 64
        bits = np.uint64(0)
        for i in range(n - base):
            bits |= np.uint64(mem[base + i] - thr[base + i] > 0) << np.uint64(i)
        words[full] = bits


@compiled(inline="always")
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


@compiled(inline="always")
def _back_row(mode, carry, through, prev, beta, thr, one, sum_cur):
    """One step back: ``dm = carry + through`` (left in ``through``), ``sum_cur += dm``, then ``carry`` for the
    step before."""
    zero = one - one
    n = carry.shape[0]
    if mode == 1:
        for j in range(n):
            dm = carry[j] + through[j]
            through[j] = dm
            sum_cur[j] += dm
            carry[j] = dm * beta[j] * (zero if prev[j] - thr[j] > 0 else one)
    else:
        for j in range(n):
            dm = carry[j] + through[j]
            through[j] = dm
            sum_cur[j] += dm
            carry[j] = dm * beta[j]


@compiled(inline="always")
def _advance(family, mode, second, mem, x, r, alpha, beta, thr, one, fixed):
    """One step of the pair's neurons in place: ``mem`` and the ``second`` state (CUBA's synaptic current,
    ALIF's threshold) become the step's, ``r`` the last spikes this step's."""
    if family == 1:
        cuba_row(mode, second, mem, x, r, alpha, beta, thr, one, second, mem)
    elif family == 2:
        alif_row(mode, mem, second, x, r, beta, fixed, mem, second)
    else:
        advance_row(mode, mem, x, r, beta, thr, one, mem)


@compiled(inline="always")
def _rest(family, mem, second, zero, fixed):
    """A layer at rest: no membrane, no synaptic current, the threshold at its resting value."""
    fill(mem, zero)
    fill(second, fixed[1] if family == 2 else zero)


@loop("lif_linear")
def forward(first, stop, family, cur, alpha, beta, thr, fixed, mode, one, weight_t, bias, out, spk, store_spk):
    """A layer of the family's neurons on a constant current from rest, and the linear layer after it, without
    ``[T, B, N]``, for the samples ``first..stop`` of the batch.

    ``cur``, ``alpha`` (CUBA's), ``beta``, ``thr`` (not ALIF's) are ``[B, N]`` (``[B, 0]`` where the family has
    none); ``fixed`` is ALIF's (1, threshold, rho, gamma); ``weight_t`` is the weight transposed ``[N, L]`` and
    ``bias`` ``[L]``, zero-padded to L >= K lanes; writes ``out [T, B, K]`` (the next layer's current) and, if
    ``store_spk``, the spikes ``spk [T, B, N]``. Spikes are 0/1, so the product with the weight is the sum of
    the rows of the neurons that spiked.
    """
    steps, _, classes = out.shape
    size = cur.shape[1]
    zero = one - one
    for b in numba.prange(first, stop):
        m, r = np.empty(size, cur.dtype), np.empty(size, cur.dtype)  # in the loop: one set per thread
        second = np.empty(size if family != 0 else 0, cur.dtype)
        words = np.empty((size + 63) // 64, np.uint64)
        acc = np.empty(weight_t.shape[1], cur.dtype)
        th = second if family == 2 else thr[b]  # ALIF's threshold moves (in place) with the state
        _rest(family, m, second, zero, fixed)
        spikes_of(m, th, one, r)
        for t in range(steps):
            _advance(family, mode, second, m, cur[b], r, alpha[b], beta[b], th, one, fixed)
            copy_row(bias, acc)
            _spike_bits(m, th, words)
            for lane in range(0, acc.shape[0], simd.LANES):  # acc += the rows of the neurons that spiked
                simd.sum_spiking_rows(words, weight_t, lane, acc)
            for k in range(classes):
                out[t, b, k] = acc[k]
            if store_spk:
                copy_row(r, spk[t, b])


@compiled(error_model="numpy")  # not inlined: inlined, the parallel build's whole backward ran 1.2x slower
def _add_spiking_rows(words, g_rows, rows):
    """``rows[j] += g_rows[t]`` for each spike ``(t, j)`` of ``words [T, W]``, ``t`` from last to first.

    64 neurons at a time: their 64 rows of ``rows`` stay in L1 over all T steps (over all neurons at once
    they are 64 KiB of float64 and each spike's add runs from L2). Each element is added to in the same
    order as a step-by-step pass would, so the sums are bit for bit the same.
    """
    steps, width = g_rows.shape
    for w in range(words.shape[1]):
        for t in range(steps - 1, -1, -1):
            for lane in range(0, width, simd.LANES):
                simd.add_to_word_rows(words[t, w], rows, w * 64, lane, g_rows, t * width)


@compiled(inline="always")
def _cuba_back_row(mode, carry_m, carry_s, big, h, prev_m, alpha, beta, thr, one, sum_cur):
    """CUBA's step back (``cuba.backward``'s recurrence): ``big`` holds the spikes' share on entry and leaves as
    ``G_t`` (the gradient reaching ``mem_t``), ``h`` as ``H_t`` (reaching ``syn_t``, and the current);
    ``carry_m``, ``carry_s`` become what reaches ``mem_{t-1}`` and ``syn_{t-1}``."""
    zero = one - one
    if mode == 1:  # G_t k_t: a reset to zero stops the gradient at a spike (one loop per mode: vectorised)
        for j in range(big.shape[0]):
            g = carry_m[j] + big[j]
            hj = g + carry_s[j]
            big[j], h[j] = g, hj
            sum_cur[j] += hj
            carry_m[j] = (zero if prev_m[j] - thr[j] > 0 else g) * beta[j]
            carry_s[j] = hj * alpha[j]
    else:
        for j in range(big.shape[0]):
            g = carry_m[j] + big[j]
            hj = g + carry_s[j]
            big[j], h[j] = g, hj
            sum_cur[j] += hj
            carry_m[j] = g * beta[j]
            carry_s[j] = hj * alpha[j]


@compiled(inline="always")
def _cuba_sums(mode, big, h, prev_m, prev_s, thr, sum_alpha, want_alpha, sum_beta, want_beta, sum_thr, want_thr):
    """A learnable alpha's, beta's and threshold's share of CUBA's step back, as ``cuba.backward`` sums them."""
    n = big.shape[0]
    if want_alpha:
        for j in range(n):
            sum_alpha[j] += h[j] * prev_s[j]
    coefficient_sums(mode, big, prev_m, thr, sum_beta, want_beta, sum_thr, want_thr)


@compiled(inline="always")
def _recompute(family, mode, mems, seconds, x, r, alpha, beta, thr, one, fixed):
    """The states after every step from rest: ``mems[t + 1]`` and ``seconds[t + 1]`` (CUBA's synaptic current,
    ALIF's threshold) after step ``t``, as ``forward`` steps them."""
    zero = one - one
    _rest(family, mems[0], seconds[0], zero, fixed)
    spikes_of(mems[0], seconds[0] if family == 2 else thr, one, r)
    for t in range(mems.shape[0] - 1):
        if family == 1:
            cuba_row(mode, seconds[t], mems[t], x, r, alpha, beta, thr, one, seconds[t + 1], mems[t + 1])
        elif family == 2:
            alif_row(mode, mems[t], seconds[t], x, r, beta, fixed, mems[t + 1], seconds[t + 1])
        else:
            advance_row(mode, mems[t], x, r, beta, thr, one, mems[t + 1])


@loop("lif_linear")
def backward(first, stop, family, steps, cur, alpha, beta, thr, fixed, mode, consts, code, weight, g_out, d_cur,
             d_weight_t, d_alpha, want_alpha, d_beta, want_beta, d_thr, want_thr):
    """Backward of ``forward`` for the batch's chunks ``first..stop``: ``d_cur [B, N]``, the weight's gradient
    and, when wanted, learnable coefficients' per-element gradients ``d_alpha``, ``d_beta``, ``d_thr``
    ``[B, N]`` (float64, as the families' own backward loops sum them; the caller sums them to the
    coefficient's shape), by recomputation. ALIF's threshold carries no gradient (it follows from the detached
    spikes): its step back is LIF's against each step's threshold.

    The gradient reaching the spikes, ``g_out[t, b] @ weight``, is formed row by row and never stored;
    ``d_weight_t [C, N, L]`` (float64, zeros on entry) gets one partial sum of ``spk^T g_out`` per
    chunk of the batch (C chunks), summed by the caller.
    """
    batch, size = cur.shape
    one, zero = consts[0], consts[1]
    chunks, classes = d_weight_t.shape[0], g_out.shape[2]
    per = (batch + chunks - 1) // chunks
    cuba, alif = family == 1, family == 2
    for chunk in numba.prange(first, stop):
        mems = np.empty((steps + 1, size), cur.dtype)  # in the loop: one set per thread
        seconds = np.empty((steps + 1, size if family != 0 else 0), cur.dtype)  # CUBA's current, ALIF's threshold
        r = np.empty(size, cur.dtype)
        words = np.empty((steps, (size + 63) // 64), np.uint64)
        g_wide = np.zeros((steps, d_weight_t.shape[2]))  # g_out[:, b], float64, padded to the lanes
        g_spk = np.empty(size, cur.dtype)
        through, h = np.empty(size, cur.dtype), np.empty(size, cur.dtype)
        carry, carry_s = np.empty(size, cur.dtype), np.empty(size, cur.dtype)
        sum_cur = np.empty(size)
        for b in range(chunk * per, min((chunk + 1) * per, batch)):
            th, ab, bb = thr[b], alpha[b], beta[b]
            _recompute(family, mode, mems, seconds, cur[b], r, ab, bb, th, one, fixed)
            for row in (d_alpha[b], d_beta[b], d_thr[b]):
                fill(row, 0.0)  # zero-length where not wanted
            fill(carry, zero)
            fill(carry_s, zero)
            fill(sum_cur, 0.0)
            for t in range(steps - 1, -1, -1):
                now, g = mems[t + 1], g_out[t, b]
                th_now, th_before = (seconds[t + 1], seconds[t]) if alif else (th, th)
                _matvec(g, weight, g_spk, zero)
                for k in range(classes):
                    g_wide[t, k] = g[k]
                _spike_bits(now, th_now, words[t])
                surrogate_row(code, consts, g_spk, now, th_now, through)
                if want_thr:
                    for j in range(size):
                        d_thr[b, j] -= through[j]
                if cuba:
                    _cuba_back_row(mode, carry, carry_s, through, h, mems[t], ab, bb, th, one, sum_cur)
                    _cuba_sums(mode, through, h, mems[t], seconds[t], th, d_alpha[b], want_alpha,
                               d_beta[b], want_beta, d_thr[b], want_thr)
                else:
                    _back_row(mode, carry, through, mems[t], bb, th_before, one, sum_cur)
                    coefficient_sums(mode, through, mems[t], th_before, d_beta[b], want_beta, d_thr[b], want_thr)
            copy_row(sum_cur, d_cur[b])
            _add_spiking_rows(words, g_wide, d_weight_t[chunk])
