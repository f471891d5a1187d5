"""The Triton kernels of the current-based LIF (``spikevision.neurons.cuba``), for CUDA tensors (or CPU tensors under
``TRITON_INTERPRET=1``). They mirror ``numba/cuba.py``: one program per block of neurons runs the whole time
loop with the synaptic currents and membranes in registers, op for op ``neurons.cuba``'s step, launched with
floating-point fusion off. Reset codes: 0 subtract, 1 zero, 2 none; surrogates as ``common``.
"""

import triton
import triton.language as tl

from spikevision.kernels.triton.common import fired, surrogate


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
def keep_marks(MODE: tl.constexpr, cur, cur_step, s, m, a, b, th, syn_marks, mem_marks, steps, size, every, offs,
               mask):
    """The forward again, keeping both states before every ``every``-th step; returns the last ones."""
    r = fired(m, th)
    for t in range(steps):
        if t % every == 0:
            at = tl.cast(t // every, tl.int64) * size + offs
            tl.store(syn_marks + at, s, mask=mask)
            tl.store(mem_marks + at, m, mask=mask)
        x = tl.load(cur + tl.cast(t, tl.int64) * size * cur_step + offs, mask=mask, other=0.0)
        s, m = advance(MODE, s, m, x, r, a, b, th)
        r = fired(m, th)
    return s, m


@triton.jit
def recompute_segment(MODE: tl.constexpr, cur, cur_step, a, b, th, syn_marks, mem_marks, syns, mems, first, count,
                      size, every, offs, mask):
    """Steps ``first .. first + count - 1`` again from their marks: row i of ``syns`` / ``mems`` the states
    before step first + i, row count the ones after the last."""
    at = tl.cast(first // every, tl.int64) * size + offs
    s = tl.load(syn_marks + at, mask=mask, other=0.0)
    m = tl.load(mem_marks + at, mask=mask, other=0.0)
    tl.store(syns + offs, s, mask=mask)
    tl.store(mems + offs, m, mask=mask)
    r = fired(m, th)
    for step in range(count):
        x = tl.load(cur + tl.cast(first + step, tl.int64) * size * cur_step + offs, mask=mask, other=0.0)
        s, m = advance(MODE, s, m, x, r, a, b, th)
        r = fired(m, th)
        row = tl.cast(step + 1, tl.int64) * size
        tl.store(syns + row + offs, s, mask=mask)
        tl.store(mems + row + offs, m, mask=mask)


@triton.jit
def backward_kernel(cur, cur_step, syn0, mem0, alpha, beta, thr, syn_marks, mem_marks, syns, mems, g_spk, g_mem,
                    g_syn, g_last, d_cur, d_syn0, d_mem0, d_alpha, d_beta, d_thr, steps, size, every, consts,
                    MODE: tl.constexpr, CODE: tl.constexpr, HAS_G_SPK: tl.constexpr, HAS_G_MEM: tl.constexpr,
                    HAS_G_LAST_SYN: tl.constexpr, HAS_G_LAST_MEM: tl.constexpr, WANT_ALPHA: tl.constexpr,
                    WANT_BETA: tl.constexpr, WANT_THR: tl.constexpr, CONSTANT: tl.constexpr, BLOCK: tl.constexpr,
                    SPIKE_GRAD_STEP: tl.constexpr):
    """The recurrences of ``numba/cuba.py``'s backward, the states recomputed in segments as the LIF backward does
    (``lif.backward_kernel``): marks before every ``every``-th step, one segment's states at a time."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < size
    c0 = tl.load(consts)  # the surrogate's constants, in the states' dtype
    c1 = tl.load(consts + 1)
    s = tl.load(syn0 + offs, mask=mask, other=0.0)
    m = tl.load(mem0 + offs, mask=mask, other=0.0)
    a = tl.load(alpha + offs, mask=mask, other=0.0)
    b = tl.load(beta + offs, mask=mask, other=0.0)
    th = tl.load(thr + offs, mask=mask, other=1.0)
    s, m = keep_marks(MODE, cur, cur_step, s, m, a, b, th, syn_marks, mem_marks, steps, size, every, offs, mask)
    if HAS_G_LAST_MEM:
        carry_m = tl.load(g_last + offs, mask=mask, other=0.0)
    else:
        carry_m = m * 0.0
    if HAS_G_LAST_SYN:
        carry_s = tl.load(g_syn + offs, mask=mask, other=0.0)
    else:
        carry_s = m * 0.0
    sum_cur = tl.zeros([BLOCK], dtype=tl.float64)
    sum_alpha = tl.zeros([BLOCK], dtype=tl.float64)
    sum_beta = tl.zeros([BLOCK], dtype=tl.float64)
    sum_thr = tl.zeros([BLOCK], dtype=tl.float64)
    segments = (steps + every - 1) // every
    for j in range(segments):
        first = (segments - 1 - j) * every
        count = tl.minimum(every, steps - first)
        recompute_segment(MODE, cur, cur_step, a, b, th, syn_marks, mem_marks, syns, mems, first, count, size,
                          every, offs, mask)
        for back in range(count):
            i = tl.cast(count - 1 - back, tl.int64)
            row = (first + i) * size
            now = tl.load(mems + (i + 1) * size + offs, mask=mask, other=0.0)
            prev = tl.load(mems + i * size + offs, mask=mask, other=0.0)
            big = carry_m
            if HAS_G_MEM:
                big += tl.load(g_mem + row + offs, mask=mask, other=0.0)
            if HAS_G_SPK:
                gs = tl.load(g_spk + row * SPIKE_GRAD_STEP + offs, mask=mask, other=0.0)
                through = gs * surrogate(CODE, now - th, c0, c1)
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
            sum_alpha += (h * tl.load(syns + i * size + offs, mask=mask, other=0.0)).to(tl.float64)
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
