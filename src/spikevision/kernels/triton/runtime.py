"""The GPU engine: each kernel family's Triton kernels (``triton/<family>.py``), for CUDA tensors, launched with
their arguments in the order the family's record gives (``kernels.families``).

Triton is imported on first use only and is never required: ``available()`` is False without it (or
without a CUDA device) and the neurons then run the reference loop. Floating-point fusion (mul + add
into one FMA) is switched off at launch, so that every step rounds as torch's separate elementwise ops
do and the spikes and states equal the reference's bit for bit. Backward recomputes the states in
segments of about sqrt(T) steps (``segment_steps``), so its transient buffers hold about 2 sqrt(T) rows
of ``[M]`` per state rather than T + 1, and walks back through time.

Under Triton's interpreter (``TRITON_INTERPRET=1``) the same kernels run on CPU tensors, slowly: that is
how every CI run tests them without a GPU. ``kernels.select`` never picks them for CPU tensors; only an
explicit ``backend="triton"`` does.

Every float constant reaches a kernel inside a tensor of the inputs' dtype: Triton types a Python float
argument as fp32, which would round float64 surrogate constants on a real GPU (the interpreter keeps them
float64 and would hide it).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
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
        importlib.import_module("spikevision.kernels.triton.common")
    except ImportError:
        return False
    return True


@functools.cache
def kernels(name: str):
    """The Triton kernels of kernel family ``name`` (``triton/<name>.py``; imports triton)."""
    return importlib.import_module(f"spikevision.kernels.triton.{name}")


def grid(size: int):
    return ((size + BLOCK - 1) // BLOCK,)


def on(device: torch.device):
    """Launch on ``device``'s GPU (Triton launches on the current one); nothing to select for CPU tensors."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


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


def _tensor(values, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor([float(v) for v in values], dtype=like.dtype, device=like.device)


def forward(family, cur, cur_step, states0, coefficients, fixed, mode, spk, mem, lasts) -> None:
    """A family's forward kernel (see ``fused``); ``mem`` may be None (membranes not wanted)."""
    steps, size = spk.shape
    like = states0[0]
    with on(like.device):
        kernels(family.name).forward_kernel[grid(size)](
            cur, cur_step, *states0, *coefficients, *([_tensor(fixed, like)] if fixed else []), spk,
            lasts[0] if mem is None else mem, *lasts, steps, size, MODE=mode, STORE_MEM=mem is not None,
            BLOCK=BLOCK, enable_fp_fusion=False)


def backward(family, steps, cur, cur_step, states0, coefficients, fixed, mode, code, surrogate_constants,
             g_spk, g_mem, g_lasts, d_cur, d_states0, d_coefficients) -> None:
    """A family's backward kernel (see ``fused``); absent gradients are None, unwanted ones empty. Flags:
    ``HAS_G_LAST_<STATE>`` per trained state, ``WANT_<COEFFICIENT>`` per coefficient."""
    like = states0[0]
    size = like.numel()
    every, marks, segments = segment_buffers(steps, like, len(family.states))
    stand_in = segments[0]  # any tensor, for an argument the kernel does not read
    trained = [name for name in family.states if name in family.trained]
    flags = {f"HAS_G_LAST_{name.upper()}": g is not None for name, g in zip(trained, g_lasts)}
    flags.update({f"WANT_{name.upper()}": d.numel() > 0 for name, d in zip(family.coefficients, d_coefficients)})
    with on(like.device):
        kernels(family.name).backward_kernel[grid(size)](
            cur, cur_step, *states0, *coefficients, *([_tensor(fixed, like)] if fixed else []), *marks, *segments,
            stand_in if g_spk is None else g_spk, stand_in if g_mem is None else g_mem,
            *(like if g is None else g for g in g_lasts), d_cur, *d_states0,
            *(d if d.numel() else stand_in for d in d_coefficients), steps, size, every,
            _tensor(surrogate_constants, like), MODE=mode, CODE=code, HAS_G_SPK=g_spk is not None,
            HAS_G_MEM=g_mem is not None, CONSTANT=cur_step == 0, BLOCK=BLOCK,
            SPIKE_GRAD_STEP=spike_grad_step(g_spk, steps), enable_fp_fusion=False, **flags)
