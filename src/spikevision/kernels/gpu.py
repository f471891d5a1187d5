"""The GPU engine: Triton kernels (``_triton_loops``) for the LIF recurrence, for CUDA tensors.

Triton is imported on first use only and is never required: ``available()`` is False without it (or
without a CUDA device) and ``neuron`` then runs the reference loop. Floating-point fusion (mul + add
into one FMA) is switched off at launch, so that every step rounds as torch's separate elementwise ops
do and the spikes and membranes equal the reference's bit for bit. Backward recomputes the membranes in
segments of about sqrt(T) steps (``segment_steps``), so its transient buffers hold about 2 sqrt(T) rows
of ``[M]`` rather than T + 1, and walks back through time.

Under Triton's interpreter (``TRITON_INTERPRET=1``) the same kernels run on CPU tensors, slowly: that is
how every CI run tests them without a GPU. ``kernels.choose`` never picks them for CPU tensors; only an
explicit ``backend="triton"`` does.

Every float constant reaches a kernel inside a tensor of the inputs' dtype: Triton types a Python float
argument as fp32, which would round float64 surrogate constants on a real GPU (the interpreter keeps them
float64 and would hide it).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os

import torch

BLOCK = 256  # neurons per program


def interpreting() -> bool:
    """Whether Triton's interpreter is on (``TRITON_INTERPRET=1``): kernels then run on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def devices() -> tuple[str, ...]:
    """The tensor device types the kernels accept here: "cuda", and "cpu" under the interpreter."""
    return ("cuda", "cpu") if interpreting() else ("cuda",)


@functools.cache
def available() -> bool:
    """Whether Triton can run here: a CUDA device, or its interpreter, and triton installed."""
    if not (torch.cuda.is_available() or interpreting()):
        return False
    try:
        _kernels()
    except ImportError:
        return False
    return True


@functools.cache
def _kernels():
    """The Triton kernels (imports triton)."""
    from spikevision.kernels import _triton_loops

    return _triton_loops


def _grid(size: int):
    return ((size + BLOCK - 1) // BLOCK,)


def _on(device: torch.device):
    """Launch on ``device``'s GPU (Triton launches on the current one); nothing to select for CPU tensors."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def forward(cur, cur_step, mem0, beta, thr, mode, spk, mem, last) -> None:
    """See ``_numba_loops.forward``; ``mem`` may be None (membranes not wanted)."""
    kernel = _kernels().forward_kernel
    steps, size = spk.shape
    with _on(mem0.device):
        kernel[_grid(size)](cur, cur_step, mem0, beta, thr, spk, last if mem is None else mem, last, steps, size,
                            MODE=mode, STORE_MEM=mem is not None, BLOCK=BLOCK, enable_fp_fusion=False)


def segment_steps(steps: int) -> int:
    """The backward's segment length: about sqrt(T), which makes the membranes it keeps (T / every marks and
    one segment of every + 1 rows) fewest, about 2 sqrt(T) rows of ``[M]`` instead of T + 1."""
    return math.isqrt(steps - 1) + 1 if steps > 1 else 1  # ceil(sqrt(T))


def segment_buffers(steps: int, state: torch.Tensor, states: int) -> tuple:
    """``(every, marks, segments)`` for a backward that recomputes ``states`` state tensors like ``state``
    (``[M]``) in segments of ``every`` steps: per state, ``[ceil(T / every), M]`` marks and an
    ``[every + 1, M]`` segment."""
    every = segment_steps(steps)
    size = state.numel()
    marks = torch.empty((states, -(-steps // every), size), dtype=state.dtype, device=state.device)
    segment = torch.empty((states, every + 1, size), dtype=state.dtype, device=state.device)
    return every, tuple(marks), tuple(segment)


def spike_grad_step(g_spk: torch.Tensor | None, steps: int) -> int:
    """1 where the spikes' gradient has a row per step; 0 where it is one row, the same at every step."""
    return 1 if g_spk is None or g_spk.shape[0] == steps else 0


def backward(steps, cur, cur_step, mem0, beta, thr, mode, code, constants,
             g_spk, g_mem, g_last, d_cur, d_mem0, d_beta, d_thr) -> None:
    """See ``_numba_loops.backward``; absent gradients are None, unwanted ones empty."""
    kernel = _kernels().backward_kernel
    size = mem0.numel()
    every, (marks,), (seg,) = segment_buffers(steps, mem0, 1)
    consts = torch.tensor([float(c) for c in constants], dtype=mem0.dtype, device=mem0.device)
    with _on(mem0.device):
        kernel[_grid(size)](cur, cur_step, mem0, beta, thr, marks, seg,
                            seg if g_spk is None else g_spk, seg if g_mem is None else g_mem,
                            mem0 if g_last is None else g_last, d_cur, d_mem0,
                            d_beta if d_beta.numel() else seg, d_thr if d_thr.numel() else seg,
                            steps, size, every, consts,
                            MODE=mode, CODE=code, HAS_G_SPK=g_spk is not None, HAS_G_MEM=g_mem is not None,
                            HAS_G_LAST=g_last is not None, WANT_BETA=d_beta.numel() > 0,
                            WANT_THR=d_thr.numel() > 0, CONSTANT=cur_step == 0, BLOCK=BLOCK,
                            SPIKE_GRAD_STEP=spike_grad_step(g_spk, steps), enable_fp_fusion=False)
