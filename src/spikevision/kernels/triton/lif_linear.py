"""The Triton kernels of ``lif_linear``: a layer of LIF, CUBA or ALIF neurons on a constant current fused with the
linear layer after it.

One program runs a block of ``BB`` samples x ``BN`` neurons through all T steps with the states in registers,
and multiplies each step's spikes by its block of the weight (``tl.dot`` in IEEE float32, never TF32). The
partial outputs of the neuron blocks go to ``out[block, t, b, k]`` and are summed by the caller, so no atomics
are needed and a run is deterministic. No ``[T, B, N]`` tensor is written unless the spikes are asked for.
``FAMILY`` (``kernels.lif_linear.FAMILY_CODES``) picks the step: 0 LIF, 1 CUBA (a synaptic current ``s`` into
the membrane), 2 ALIF (a threshold ``a`` that rises with each spike, the spikes read against it); each is the
family's own step function, so the spikes are the reference's bit for bit.

Backward needs no stored states either. The reference walks back in time, ``dm[t] = x[t] + c[t+1] dm[t+1]``
with ``x[t]`` the gradient through the spike at ``t`` and ``c[t] = beta k[t]`` the decay (``k[t] = 1 -
spike[t-1]`` for a reset to zero, else 1). Every sum it forms over ``dm`` is ``sum_s x[s] Y[s]`` for a ``Y``
that runs forward with the recomputed states, ``Y[s] = y[s] + c[s] Y[s-1]``:

- the constant current's gradient, ``y = 1`` (LIF, ALIF); for CUBA, whose current reaches the membrane through
  ``H[t] = G[t] + alpha H[t+1]``, ``y = A[s] = 1 + alpha A[s-1]``;
- a learnable beta's, ``y = k[s] mem[s-1]``; CUBA's alpha's, ``y = B[s] = syn[s-1] + alpha B[s-1]``;
- a learnable threshold's, ``-x[s]`` itself plus, for a reset by subtraction, ``y = spike[s-1]``.

The same sums in another order: equal to the reference within float rounding.
"""

import triton
import triton.language as tl

from spikevision.kernels.triton import alif, cuba, lif
from spikevision.kernels.triton.common import fired, surrogate


@triton.jit
def block(cur, beta, thr, weight, batch, size, classes, BB: tl.constexpr, BN: tl.constexpr, KP: tl.constexpr):
    """This program's block: its samples, neurons and outputs, the mask and offsets of its ``[BB, BN]`` tile,
    the tile's current, beta and threshold, and its ``[BN, KP]`` rows of ``weight.T``."""
    rows = tl.program_id(0).to(tl.int64) * BB + tl.arange(0, BB)
    cols = tl.program_id(1).to(tl.int64) * BN + tl.arange(0, BN)
    ks = tl.arange(0, KP)
    inside = (rows < batch)[:, None] & (cols < size)[None, :]
    at = rows[:, None] * size + cols[None, :]
    x = tl.load(cur + at, mask=inside, other=0.0)  # padding: no current, threshold 1, so it never fires
    b = tl.load(beta + at, mask=inside, other=0.0)
    th = tl.load(thr + at, mask=inside, other=1.0)
    w = tl.load(weight + ks[None, :] * size + cols[:, None],
                mask=(cols < size)[:, None] & (ks < classes)[None, :], other=0.0)
    return rows, cols, ks, inside, at, x, b, th, w


@triton.jit
def step(FAMILY: tl.constexpr, MODE: tl.constexpr, m, s, a, x, r, al, b, th, rho, gamma):
    """One step of the family's neurons: ``(mem, syn, threshold)`` after it (``syn`` CUBA's, the threshold
    ALIF's; the others pass through)."""
    if FAMILY == 1:
        s, m = cuba.advance(MODE, s, m, x, r, al, b, th)
    elif FAMILY == 2:
        m, a = alif.advance(MODE, m, a, x, r, b, th, rho, gamma)
    else:
        m = lif.advance(MODE, m, x, r, b, th)
    return m, s, a


@triton.jit
def forward_kernel(cur, alpha, beta, thr, adapt, weight, out, spk, batch, size, classes, steps,
                   FAMILY: tl.constexpr, MODE: tl.constexpr, STORE_SPK: tl.constexpr, BB: tl.constexpr,
                   BN: tl.constexpr, KP: tl.constexpr):
    rows, cols, ks, inside, at, x, b, th, w = block(cur, beta, thr, weight, batch, size, classes, BB, BN, KP)
    al = tl.load(alpha + at, mask=inside, other=0.0)
    rho, gamma = tl.load(adapt), tl.load(adapt + 1)
    out_mask = (rows < batch)[:, None] & (ks < classes)[None, :]
    out_at = (tl.program_id(1).to(tl.int64) * steps * batch + rows[:, None]) * classes + ks[None, :]
    m = tl.zeros([BB, BN], dtype=x.dtype)  # from rest
    s = tl.zeros([BB, BN], dtype=x.dtype)
    a = th
    r = fired(m, a)
    for t in range(steps):
        step_at = tl.cast(t, tl.int64)
        m, s, a = step(FAMILY, MODE, m, s, a, x, r, al, b, th, rho, gamma)
        r = fired(m, a)
        part = tl.dot(r, w, input_precision="ieee")
        tl.store(out + out_at + step_at * batch * classes, part.to(x.dtype), mask=out_mask)
        if STORE_SPK:
            tl.store(spk + step_at * batch * size + at, r, mask=inside)


@triton.jit
def backward_kernel(cur, alpha, beta, thr, adapt, weight, g_out, d_cur, d_weight, d_alpha, d_beta, d_thr, batch,
                    size, classes, steps, consts, FAMILY: tl.constexpr, MODE: tl.constexpr, CODE: tl.constexpr,
                    LEARN: tl.constexpr, BB: tl.constexpr, BN: tl.constexpr, KP: tl.constexpr):
    rows, cols, ks, inside, at, x, b, th, w = block(cur, beta, thr, weight, batch, size, classes, BB, BN, KP)
    al = tl.load(alpha + at, mask=inside, other=0.0)
    rho, gamma = tl.load(adapt), tl.load(adapt + 1)
    sa = tl.load(consts)  # the surrogate's constants, in the current's dtype
    sc = tl.load(consts + 1)
    g_mask = (rows < batch)[:, None] & (ks < classes)[None, :]
    g_at = rows[:, None] * classes + ks[None, :]
    m = tl.zeros([BB, BN], dtype=x.dtype)
    s = tl.zeros([BB, BN], dtype=x.dtype)
    a = th
    r = fired(m, a)
    zero = tl.zeros([BB, BN], dtype=x.dtype)
    reach, syn_reach, q, p, syn_sum, z = zero, zero, zero, zero, zero, zero  # the Y[s] of the docstring
    sum_cur = tl.zeros([BB, BN], dtype=tl.float64)
    sum_alpha, sum_beta, sum_thr = sum_cur, sum_cur, sum_cur
    sum_weight = tl.zeros([KP, BN], dtype=tl.float64)
    for t in range(steps):
        step_at = tl.cast(t, tl.int64)
        if MODE == 1:  # r, m and s are still the previous step's
            keep = 1.0 - r
            c = b * keep
        else:
            keep = 1.0
            c = b
        if FAMILY == 1:
            syn_reach = syn_reach * al + 1.0
            reach = reach * c + syn_reach
        else:
            reach = reach * c + 1.0
        if LEARN:
            q = q * c + keep * m
            p = p * c + r
            if FAMILY == 1:
                syn_sum = syn_sum * al + s
                z = z * c + syn_sum
        m, s, a = step(FAMILY, MODE, m, s, a, x, r, al, b, th, rho, gamma)
        r = fired(m, a)
        g = tl.load(g_out + step_at * batch * classes + g_at, mask=g_mask, other=0.0)  # [BB, KP]
        g_spk = tl.dot(g, tl.trans(w), input_precision="ieee")  # [BB, BN]
        through = g_spk * surrogate(CODE, m - a, sa, sc)
        sum_cur += (through * reach).to(tl.float64)
        if LEARN:
            sum_beta += (through * q).to(tl.float64)
            sum_alpha += (through * z).to(tl.float64)
            sum_thr -= through.to(tl.float64)
            if MODE == 0:
                sum_thr -= (through * p).to(tl.float64)
        sum_weight += tl.dot(tl.trans(g), r, input_precision="ieee").to(tl.float64)  # [KP, BN]
    tl.store(d_cur + at, sum_cur.to(x.dtype), mask=inside)
    w_at = (tl.program_id(0).to(tl.int64) * KP + ks[:, None]) * size + cols[None, :]
    tl.store(d_weight + w_at, sum_weight, mask=(cols < size)[None, :])
    if LEARN:
        tl.store(d_alpha + at, sum_alpha, mask=inside)
        tl.store(d_beta + at, sum_beta, mask=inside)
        tl.store(d_thr + at, sum_thr, mask=inside)
