"""The LIF family's Triton kernels (imported by ``runtime`` on first use; needs triton).

They mirror the CPU loops of ``numba/lif.py``: one program per block of neurons runs the whole time loop
with the membranes in registers; the arithmetic is op for op ``neurons.lif``'s reference step (see ``common``
for the codes).
"""

import triton
import triton.language as tl

from spikevision.kernels.triton.common import fired, surrogate


@triton.jit
def advance(mode: tl.constexpr, prev, x, r, b, th):
    if mode == 0:
        v = (b * prev + x) - r * th
    elif mode == 1:
        v = b * ((1.0 - r) * prev) + x
    else:
        v = b * prev + x
    return v


@triton.jit
def forward_kernel(cur, cur_step, mem0, beta, thr, spk, mem, last, steps, size,
                   MODE: tl.constexpr, STORE_MEM: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < size
    m = tl.load(mem0 + offs, mask=mask, other=0.0)
    b = tl.load(beta + offs, mask=mask, other=0.0)
    th = tl.load(thr + offs, mask=mask, other=1.0)
    r = fired(m, th)
    for t in range(steps):
        row = tl.cast(t, tl.int64) * size
        x = tl.load(cur + row * cur_step + offs, mask=mask, other=0.0).to(m.dtype)  # half: exact upcast
        m = advance(MODE, m, x, r, b, th)
        r = fired(m, th)
        tl.store(spk + row + offs, r, mask=mask)  # cast to the spikes' dtype (half for a half current)
        if STORE_MEM:
            tl.store(mem + row + offs, m, mask=mask)
    tl.store(last + offs, m, mask=mask)


@triton.jit
def keep_marks(MODE: tl.constexpr, cur, cur_step, m, b, th, marks, steps, size, every, offs, mask):
    """The forward again from ``m``, keeping the membrane before every ``every``-th step in ``marks``; returns
    the last membrane."""
    r = fired(m, th)
    for t in range(steps):
        if t % every == 0:
            tl.store(marks + tl.cast(t // every, tl.int64) * size + offs, m, mask=mask)
        x = tl.load(cur + tl.cast(t, tl.int64) * size * cur_step + offs, mask=mask, other=0.0).to(m.dtype)
        m = advance(MODE, m, x, r, b, th)
        r = fired(m, th)
    return m


@triton.jit
def recompute_segment(MODE: tl.constexpr, cur, cur_step, b, th, marks, seg, first, count, size, every, offs,
                      mask):
    """Steps ``first .. first + count - 1`` again from their mark: ``seg`` row i the membrane before step
    first + i, row count the one after the last."""
    m = tl.load(marks + tl.cast(first // every, tl.int64) * size + offs, mask=mask, other=0.0)
    tl.store(seg + offs, m, mask=mask)
    r = fired(m, th)
    for step in range(count):
        x = tl.load(cur + tl.cast(first + step, tl.int64) * size * cur_step + offs, mask=mask,
                    other=0.0).to(m.dtype)
        m = advance(MODE, m, x, r, b, th)
        r = fired(m, th)
        tl.store(seg + tl.cast(step + 1, tl.int64) * size + offs, m, mask=mask)


@triton.jit
def backward_kernel(cur, cur_step, mem0, beta, thr, marks, seg, g_spk, g_mem, g_last,
                    d_cur, d_mem0, d_beta, d_thr, steps, size, every, consts,
                    MODE: tl.constexpr, CODE: tl.constexpr, HAS_G_SPK: tl.constexpr,
                    HAS_G_MEM: tl.constexpr, HAS_G_LAST_MEM: tl.constexpr, WANT_BETA: tl.constexpr,
                    WANT_THR: tl.constexpr, CONSTANT: tl.constexpr, BLOCK: tl.constexpr,
                    SPIKE_GRAD_STEP: tl.constexpr):
    """Backward through time with the membranes recomputed in segments of ``every`` steps: a first pass keeps
    the membrane before each segment (``marks``), then each segment, last first, is recomputed into ``seg``
    (``every + 1`` rows) and walked back. About 2 sqrt(T) rows of membranes instead of T + 1, and the same
    values: the recomputation repeats the forward's operations exactly. ``SPIKE_GRAD_STEP`` 0: ``g_spk`` is
    one row, the same at every step."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < size
    a = tl.load(consts)  # the surrogate's constants, in the membranes' dtype (never fp32 Python floats)
    c = tl.load(consts + 1)
    m = tl.load(mem0 + offs, mask=mask, other=0.0)
    b = tl.load(beta + offs, mask=mask, other=0.0)
    th = tl.load(thr + offs, mask=mask, other=1.0)
    m = keep_marks(MODE, cur, cur_step, m, b, th, marks, steps, size, every, offs, mask)
    if HAS_G_LAST_MEM:
        carry = tl.load(g_last + offs, mask=mask, other=0.0)
    else:
        carry = m * 0.0
    sum_cur = tl.zeros([BLOCK], dtype=tl.float64)
    sum_beta = tl.zeros([BLOCK], dtype=tl.float64)
    sum_thr = tl.zeros([BLOCK], dtype=tl.float64)
    segments = (steps + every - 1) // every
    for j in range(segments):
        first = (segments - 1 - j) * every
        count = tl.minimum(every, steps - first)
        recompute_segment(MODE, cur, cur_step, b, th, marks, seg, first, count, size, every, offs, mask)
        for back in range(count):
            i = tl.cast(count - 1 - back, tl.int64)  # a name of its own: Triton types a loop's names once
            row = (first + i) * size
            now = tl.load(seg + (i + 1) * size + offs, mask=mask, other=0.0)
            prev = tl.load(seg + i * size + offs, mask=mask, other=0.0)
            dm = carry
            if HAS_G_MEM:
                dm += tl.load(g_mem + row + offs, mask=mask, other=0.0)
            if HAS_G_SPK:
                gs = tl.load(g_spk + row * SPIKE_GRAD_STEP + offs, mask=mask,
                             other=0.0).to(now.dtype)  # half spikes' gradient
                through = gs * surrogate(CODE, now - th, a, c)
                dm += through
                sum_thr -= through.to(tl.float64)
            before = fired(prev, th)  # r_{t-1}, the reset applied at step t
            if MODE == 1:
                keep = 1.0 - before
                carry = dm * b * keep
                sum_beta += (dm * keep * prev).to(tl.float64)
            else:
                carry = dm * b
                sum_beta += (dm * prev).to(tl.float64)
                if MODE == 0:
                    sum_thr -= (dm * before).to(tl.float64)
            if CONSTANT:
                sum_cur += dm.to(tl.float64)
            else:
                tl.store(d_cur + row + offs, dm, mask=mask)
    tl.store(d_mem0 + offs, carry, mask=mask)
    if CONSTANT:
        tl.store(d_cur + offs, sum_cur.to(carry.dtype), mask=mask)
    if WANT_BETA:
        tl.store(d_beta + offs, sum_beta, mask=mask)
    if WANT_THR:
        tl.store(d_thr + offs, sum_thr, mask=mask)
