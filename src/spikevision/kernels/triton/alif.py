"""The Triton kernels of the adaptive-threshold LIF (``spikevision.neurons.alif``), for CUDA tensors (or CPU tensors
under ``TRITON_INTERPRET=1``). They mirror ``numba/alif.py``: membranes and thresholds in registers for the whole
time loop, op for op ``neurons.alif``'s step, launched with floating-point fusion off. The threshold's constants
(``threshold``, ``rho``, ``gamma``) come in a tensor of the states' dtype.
"""

import triton
import triton.language as tl

from spikevision.kernels.triton.common import fired, surrogate


@triton.jit
def advance(mode: tl.constexpr, m, a, x, r, b, th, rho, gamma):
    """``(mem_t, A_t)`` from ``mem_{t-1}``, ``A_{t-1}``, the input and the last spikes ``r``."""
    a_new = (th + rho * (a - th)) + gamma * r
    if mode == 0:
        v = (b * m + x) - r * a
    elif mode == 1:
        v = b * ((1.0 - r) * m) + x
    else:
        v = b * m + x
    return v, a_new


@triton.jit
def forward_kernel(cur, cur_step, mem0, thr0, beta, consts, spk, mem, mem_last, thr_last, steps, size,
                   MODE: tl.constexpr, STORE_MEM: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < size
    th, rho, gamma = tl.load(consts), tl.load(consts + 1), tl.load(consts + 2)
    m = tl.load(mem0 + offs, mask=mask, other=0.0)
    a = tl.load(thr0 + offs, mask=mask, other=1.0)
    b = tl.load(beta + offs, mask=mask, other=0.0)
    r = fired(m, a)
    for t in range(steps):
        row = tl.cast(t, tl.int64) * size
        x = tl.load(cur + row * cur_step + offs, mask=mask, other=0.0)
        m, a = advance(MODE, m, a, x, r, b, th, rho, gamma)
        r = fired(m, a)
        tl.store(spk + row + offs, r, mask=mask)
        if STORE_MEM:
            tl.store(mem + row + offs, m, mask=mask)
    tl.store(mem_last + offs, m, mask=mask)
    tl.store(thr_last + offs, a, mask=mask)


@triton.jit
def keep_marks(MODE: tl.constexpr, cur, cur_step, m, a, b, th, rho, gamma, mem_marks, thr_marks, steps, size, every,
               offs, mask):
    """The forward again, keeping membrane and threshold before every ``every``-th step; returns the last ones."""
    r = fired(m, a)
    for t in range(steps):
        if t % every == 0:
            at = tl.cast(t // every, tl.int64) * size + offs
            tl.store(mem_marks + at, m, mask=mask)
            tl.store(thr_marks + at, a, mask=mask)
        x = tl.load(cur + tl.cast(t, tl.int64) * size * cur_step + offs, mask=mask, other=0.0)
        m, a = advance(MODE, m, a, x, r, b, th, rho, gamma)
        r = fired(m, a)
    return m, a


@triton.jit
def recompute_segment(MODE: tl.constexpr, cur, cur_step, b, th, rho, gamma, mem_marks, thr_marks, mems, thrs, first,
                      count, size, every, offs, mask):
    """Steps ``first .. first + count - 1`` again from their marks: row i of ``mems`` / ``thrs`` the states
    before step first + i, row count the ones after the last."""
    at = tl.cast(first // every, tl.int64) * size + offs
    m = tl.load(mem_marks + at, mask=mask, other=0.0)
    a = tl.load(thr_marks + at, mask=mask, other=1.0)
    tl.store(mems + offs, m, mask=mask)
    tl.store(thrs + offs, a, mask=mask)
    r = fired(m, a)
    for step in range(count):
        x = tl.load(cur + tl.cast(first + step, tl.int64) * size * cur_step + offs, mask=mask, other=0.0)
        m, a = advance(MODE, m, a, x, r, b, th, rho, gamma)
        r = fired(m, a)
        row = tl.cast(step + 1, tl.int64) * size
        tl.store(mems + row + offs, m, mask=mask)
        tl.store(thrs + row + offs, a, mask=mask)


@triton.jit
def backward_kernel(cur, cur_step, mem0, thr0, beta, fixed, mem_marks, thr_marks, mems, thrs, g_spk, g_mem, g_last,
                    d_cur, d_mem0, d_beta, steps, size, every, consts, MODE: tl.constexpr, CODE: tl.constexpr,
                    HAS_G_SPK: tl.constexpr, HAS_G_MEM: tl.constexpr, HAS_G_LAST_MEM: tl.constexpr,
                    WANT_BETA: tl.constexpr, CONSTANT: tl.constexpr, BLOCK: tl.constexpr,
                    SPIKE_GRAD_STEP: tl.constexpr):
    """The recurrence of ``numba/alif.py``'s backward, the states recomputed in segments as the LIF backward does
    (``lif.backward_kernel``): marks before every ``every``-th step, one segment's states at a time.

    ``fixed`` = (threshold, rho, gamma): the threshold's constants; ``consts`` = (a, c): the surrogate's.
    """
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < size
    th, rho, gamma = tl.load(fixed), tl.load(fixed + 1), tl.load(fixed + 2)
    c0, c1 = tl.load(consts), tl.load(consts + 1)
    m = tl.load(mem0 + offs, mask=mask, other=0.0)
    a = tl.load(thr0 + offs, mask=mask, other=1.0)
    b = tl.load(beta + offs, mask=mask, other=0.0)
    m, a = keep_marks(MODE, cur, cur_step, m, a, b, th, rho, gamma, mem_marks, thr_marks, steps, size, every, offs,
                      mask)
    if HAS_G_LAST_MEM:
        carry = tl.load(g_last + offs, mask=mask, other=0.0)
    else:
        carry = m * 0.0
    sum_cur = tl.zeros([BLOCK], dtype=tl.float64)
    sum_beta = tl.zeros([BLOCK], dtype=tl.float64)
    segments = (steps + every - 1) // every
    for j in range(segments):
        first = (segments - 1 - j) * every
        count = tl.minimum(every, steps - first)
        recompute_segment(MODE, cur, cur_step, b, th, rho, gamma, mem_marks, thr_marks, mems, thrs, first, count,
                          size, every, offs, mask)
        for back in range(count):
            i = tl.cast(count - 1 - back, tl.int64)
            row = (first + i) * size
            now = tl.load(mems + (i + 1) * size + offs, mask=mask, other=0.0)
            now_thr = tl.load(thrs + (i + 1) * size + offs, mask=mask, other=1.0)
            prev = tl.load(mems + i * size + offs, mask=mask, other=0.0)
            prev_thr = tl.load(thrs + i * size + offs, mask=mask, other=1.0)
            big = carry
            if HAS_G_MEM:
                big += tl.load(g_mem + row + offs, mask=mask, other=0.0)
            if HAS_G_SPK:
                gs = tl.load(g_spk + row * SPIKE_GRAD_STEP + offs, mask=mask, other=0.0)
                big += gs * surrogate(CODE, now - now_thr, c0, c1)
            if MODE == 1:
                keep = 1.0 - fired(prev, prev_thr)
                gm = big * keep
            else:
                gm = big
            sum_beta += (gm * prev).to(tl.float64)
            carry = gm * b
            if CONSTANT:
                sum_cur += big.to(tl.float64)
            else:
                tl.store(d_cur + row + offs, big, mask=mask)
    tl.store(d_mem0 + offs, carry, mask=mask)
    if CONSTANT:
        tl.store(d_cur + offs, sum_cur.to(carry.dtype), mask=mask)
    if WANT_BETA:
        tl.store(d_beta + offs, sum_beta, mask=mask)
