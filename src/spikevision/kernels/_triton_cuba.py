"""The Triton kernels of the current-based LIF (``spikevision.cuba``), for CUDA tensors (or CPU tensors under
``TRITON_INTERPRET=1``). They mirror ``_cuba_loops``: one program per block of neurons runs the whole time
loop with the synaptic currents and membranes in registers, op for op ``cuba._advance``, launched with
floating-point fusion off. Reset codes: 0 subtract, 1 zero, 2 none; surrogates as ``_triton_loops``.
"""

import triton
import triton.language as tl

from spikevision.kernels._triton_loops import fired, surrogate


@triton.jit
def advance(mode: tl.constexpr, s, m, x, r, a, b, th):
    """``(syn_t, mem_t)`` from ``syn_{t-1}``, ``mem_{t-1}``, the input and the last spikes ``r``."""
    sv = a * s + x
    if mode == 0:
        v = (b * m + sv) - r * th
    elif mode == 1:
        v = b * ((1.0 - r) * m) + sv
    else:
        v = b * m + sv
    return sv, v


@triton.jit
def forward_kernel(cur, cur_step, syn0, mem0, alpha, beta, thr, spk, mem, syn_last, mem_last, steps, size,
                   MODE: tl.constexpr, STORE_MEM: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < size
    s = tl.load(syn0 + offs, mask=mask, other=0.0)
    m = tl.load(mem0 + offs, mask=mask, other=0.0)
    a = tl.load(alpha + offs, mask=mask, other=0.0)
    b = tl.load(beta + offs, mask=mask, other=0.0)
    th = tl.load(thr + offs, mask=mask, other=1.0)
    r = fired(m, th)
    for t in range(steps):
        row = tl.cast(t, tl.int64) * size
        x = tl.load(cur + row * cur_step + offs, mask=mask, other=0.0)
        s, m = advance(MODE, s, m, x, r, a, b, th)
        r = fired(m, th)
        tl.store(spk + row + offs, r, mask=mask)
        if STORE_MEM:
            tl.store(mem + row + offs, m, mask=mask)
    tl.store(syn_last + offs, s, mask=mask)
    tl.store(mem_last + offs, m, mask=mask)


@triton.jit
def backward_kernel(cur, cur_step, syn0, mem0, alpha, beta, thr, syns, mems, g_spk, g_mem, g_syn, g_last,
                    d_cur, d_syn0, d_mem0, d_alpha, d_beta, d_thr, steps, size, consts,
                    MODE: tl.constexpr, CODE: tl.constexpr, HAS_G_SPK: tl.constexpr, HAS_G_MEM: tl.constexpr,
                    HAS_G_SYN: tl.constexpr, HAS_G_LAST: tl.constexpr, WANT_ALPHA: tl.constexpr,
                    WANT_BETA: tl.constexpr, WANT_THR: tl.constexpr, CONSTANT: tl.constexpr, BLOCK: tl.constexpr):
    """The recurrences of ``_cuba_loops.backward``, the states recomputed into ``syns`` / ``mems`` ``[T + 1, M]``."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < size
    c0 = tl.load(consts)  # the surrogate's constants, in the states' dtype
    c1 = tl.load(consts + 1)
    s = tl.load(syn0 + offs, mask=mask, other=0.0)
    m = tl.load(mem0 + offs, mask=mask, other=0.0)
    a = tl.load(alpha + offs, mask=mask, other=0.0)
    b = tl.load(beta + offs, mask=mask, other=0.0)
    th = tl.load(thr + offs, mask=mask, other=1.0)
    tl.store(syns + offs, s, mask=mask)
    tl.store(mems + offs, m, mask=mask)
    r = fired(m, th)
    for t in range(steps):
        row = tl.cast(t, tl.int64) * size
        x = tl.load(cur + row * cur_step + offs, mask=mask, other=0.0)
        s, m = advance(MODE, s, m, x, r, a, b, th)
        r = fired(m, th)
        tl.store(syns + row + size + offs, s, mask=mask)
        tl.store(mems + row + size + offs, m, mask=mask)
    if HAS_G_LAST:
        carry_m = tl.load(g_last + offs, mask=mask, other=0.0)
    else:
        carry_m = m * 0.0
    if HAS_G_SYN:
        carry_s = tl.load(g_syn + offs, mask=mask, other=0.0)
    else:
        carry_s = m * 0.0
    sum_cur = tl.zeros([BLOCK], dtype=tl.float64)
    sum_alpha = tl.zeros([BLOCK], dtype=tl.float64)
    sum_beta = tl.zeros([BLOCK], dtype=tl.float64)
    sum_thr = tl.zeros([BLOCK], dtype=tl.float64)
    for i in range(steps):
        row = tl.cast(steps - 1 - i, tl.int64) * size
        now = tl.load(mems + row + size + offs, mask=mask, other=0.0)
        prev = tl.load(mems + row + offs, mask=mask, other=0.0)
        big = carry_m
        if HAS_G_MEM:
            big += tl.load(g_mem + row + offs, mask=mask, other=0.0)
        if HAS_G_SPK:
            through = tl.load(g_spk + row + offs, mask=mask, other=0.0) * surrogate(CODE, now - th, c0, c1)
            big += through
            sum_thr -= through.to(tl.float64)
        before = fired(prev, th)  # S_{t-1}
        h = big + carry_s
        if MODE == 1:
            gm = big * (1.0 - before)
        else:
            gm = big
            if MODE == 0:
                sum_thr -= (big * before).to(tl.float64)
        sum_beta += (gm * prev).to(tl.float64)
        sum_alpha += (h * tl.load(syns + row + offs, mask=mask, other=0.0)).to(tl.float64)
        carry_m = gm * b
        carry_s = h * a
        if CONSTANT:
            sum_cur += h.to(tl.float64)
        else:
            tl.store(d_cur + row + offs, h, mask=mask)
    tl.store(d_mem0 + offs, carry_m, mask=mask)
    tl.store(d_syn0 + offs, carry_s, mask=mask)
    if CONSTANT:
        tl.store(d_cur + offs, sum_cur.to(carry_m.dtype), mask=mask)
    if WANT_ALPHA:
        tl.store(d_alpha + offs, sum_alpha, mask=mask)
    if WANT_BETA:
        tl.store(d_beta + offs, sum_beta, mask=mask)
    if WANT_THR:
        tl.store(d_thr + offs, sum_thr, mask=mask)
