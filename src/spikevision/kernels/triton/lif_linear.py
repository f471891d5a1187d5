"""The Triton kernels of ``lif_linear``: a LIF layer on a constant current fused with the linear layer after it.

One program runs a block of ``BB`` samples x ``BN`` neurons through all T steps with the membranes in
registers, and multiplies each step's spikes by its block of the weight (``tl.dot`` in IEEE float32, never
TF32). The partial outputs of the neuron blocks go to ``out[block, t, b, k]`` and are summed by the caller,
so no atomics are needed and a run is deterministic. No ``[T, B, N]`` tensor is written unless the spikes
are asked for.

Backward needs no stored membranes either. The reference walks back in time, ``dm[t] = x[t] + c[t] dm[t+1]``
with ``x[t]`` the gradient through the spike at ``t`` and ``c[t]`` the decay (times ``1 - spike[t-1]`` for a
reset to zero); the constant current's gradient is ``sum_t dm[t] = sum_s x[s] S[s]`` with
``S[s] = 1 + c[s] S[s-1]``, which runs forward with the recomputed membranes. The same sum, in another
order: equal to the reference within float rounding.
"""

import triton
import triton.language as tl

from spikevision.kernels.triton.common import fired, surrogate
from spikevision.kernels.triton.lif import advance


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
def forward_kernel(cur, beta, thr, weight, out, spk, batch, size, classes, steps,
                   MODE: tl.constexpr, STORE_SPK: tl.constexpr, BB: tl.constexpr, BN: tl.constexpr,
                   KP: tl.constexpr):
    rows, cols, ks, inside, at, x, b, th, w = block(cur, beta, thr, weight, batch, size, classes, BB, BN, KP)
    out_mask = (rows < batch)[:, None] & (ks < classes)[None, :]
    out_at = (tl.program_id(1).to(tl.int64) * steps * batch + rows[:, None]) * classes + ks[None, :]
    m = tl.zeros([BB, BN], dtype=x.dtype)  # from rest
    r = fired(m, th)
    for t in range(steps):
        step = tl.cast(t, tl.int64)
        m = advance(MODE, m, x, r, b, th)
        r = fired(m, th)
        part = tl.dot(r, w, input_precision="ieee")
        tl.store(out + out_at + step * batch * classes, part.to(x.dtype), mask=out_mask)
        if STORE_SPK:
            tl.store(spk + step * batch * size + at, r, mask=inside)


@triton.jit
def backward_kernel(cur, beta, thr, weight, g_out, d_cur, d_weight, batch, size, classes, steps, consts,
                    MODE: tl.constexpr, CODE: tl.constexpr, BB: tl.constexpr, BN: tl.constexpr,
                    KP: tl.constexpr):
    rows, cols, ks, inside, at, x, b, th, w = block(cur, beta, thr, weight, batch, size, classes, BB, BN, KP)
    a = tl.load(consts)  # the surrogate's constants, in the current's dtype
    c = tl.load(consts + 1)
    g_mask = (rows < batch)[:, None] & (ks < classes)[None, :]
    g_at = rows[:, None] * classes + ks[None, :]
    m = tl.zeros([BB, BN], dtype=x.dtype)
    r = fired(m, th)
    reach = tl.zeros([BB, BN], dtype=x.dtype)  # S[t]: the share of the spike gradient at t that reaches x
    sum_cur = tl.zeros([BB, BN], dtype=tl.float64)
    sum_weight = tl.zeros([KP, BN], dtype=tl.float64)
    for t in range(steps):
        step = tl.cast(t, tl.int64)
        m = advance(MODE, m, x, r, b, th)
        if MODE == 1:
            reach = reach * (b * (1.0 - r)) + 1.0  # r is still the previous step's spike
        else:
            reach = reach * b + 1.0
        r = fired(m, th)
        g = tl.load(g_out + step * batch * classes + g_at, mask=g_mask, other=0.0)  # [BB, KP]
        g_spk = tl.dot(g, tl.trans(w), input_precision="ieee")  # [BB, BN]
        sum_cur += (g_spk * surrogate(CODE, m - th, a, c) * reach).to(tl.float64)
        sum_weight += tl.dot(tl.trans(g), r, input_precision="ieee").to(tl.float64)  # [KP, BN]
    tl.store(d_cur + at, sum_cur.to(x.dtype), mask=inside)
    w_at = (tl.program_id(0).to(tl.int64) * KP + ks[:, None]) * size + cols[None, :]
    tl.store(d_weight + w_at, sum_weight, mask=(cols < size)[None, :])
