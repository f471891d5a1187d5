"""Fast implementations of ``lif.lif_sequence``: a fused CPU kernel (numba) and a GPU kernel (Triton).

Each one runs the whole LIF recurrence of a layer in one call, forward and backward (the surrogate
gradient through time, the reset detached as in the reference), and is tested equal to the reference
loop: the same spikes and membranes bit for bit, gradients within float rounding. ``neuron`` dispatches
to them through ``choose``; nothing here is required: without numba (or, on a GPU, without Triton) the
reference loop runs.

What makes them fast:

- a constant current (direct encoding: a stride-0 expansion over time of one ``[B, ...]`` tensor) is
  read once, and its gradient is summed over time inside the kernel;
- each membrane stays in a register/L1 for all T steps: the spikes are written once, the membranes
  only when asked for (``need_mem``);
- backward recomputes the membranes from the inputs instead of storing ``[T, B, ...]`` of them;
- ``lif_linear`` goes one step further for a first hidden layer on a constant current: that layer and
  the linear layer after it in one kernel, so the hidden spikes never become a ``[T, B, N]`` tensor.

Example::

    >>> spk, mem, last = cpu_sequence(current, mem0, 0.95, 1.0, "subtract", surrogate.get("atan"), True)
"""

from __future__ import annotations

import torch

from spikevision.errors import InvalidValue
from spikevision.kernels._autograd import constant_source, supported  # noqa: F401  (re-exported)
from spikevision.kernels.lif_linear import lif_linear  # noqa: F401
from spikevision.kernels.lif_linear import supported as lif_linear_supported  # noqa: F401

Tensor = torch.Tensor

__all__ = ["choose", "cpu_sequence", "gpu_sequence", "constant_source", "supported", "lif_linear",
           "lif_linear_supported"]


def cpu_sequence(current: Tensor, mem0: Tensor, beta, threshold, reset: str, surrogate, need_mem: bool = True):
    """The LIF sequence on the CPU with the fused numba kernel.

    Args:
        current: input currents ``[T, B, ...]`` (float32 or float64, on the CPU); a stride-0
            expansion over time of one ``[B, ...]`` current is read once.
        mem0: initial membrane ``[B, ...]``.
        beta: decay, a number or a tensor broadcastable to ``[B, ...]`` (already clamped to [0, 1]).
        threshold: a number or a tensor like ``beta``.
        reset: "subtract", "zero" or "none".
        surrogate: a ``surrogate.Surrogate``.
        need_mem: also return the membranes ``[T, B, ...]``; otherwise None is returned in their place.
    Returns:
        ``(spk [T, B, ...], mem [T, B, ...] or None, last membrane [B, ...])``.
    """
    from spikevision.kernels import _autograd, cpu

    _check(current, reset, surrogate, beta, threshold, "numba", ("cpu",))
    if not cpu.available():
        raise InvalidValue("the 'numba' LIF backend needs numba: pip install numba, or use backend='auto'")
    return _autograd.run(cpu, current, mem0, beta, threshold, reset, surrogate, need_mem)


def gpu_sequence(current: Tensor, mem0: Tensor, beta, threshold, reset: str, surrogate, need_mem: bool = True):
    """The LIF sequence on a CUDA device with the Triton kernel; arguments and result as ``cpu_sequence``."""
    from spikevision.kernels import _autograd, gpu

    _check(current, reset, surrogate, beta, threshold, "triton", gpu.devices(), half=True)
    if not gpu.available():
        raise InvalidValue("the 'triton' LIF backend needs triton and a CUDA device (or TRITON_INTERPRET=1 for "
                           "CPU tensors); use backend='auto'")
    return _autograd.run(gpu, current, mem0, beta, threshold, reset, surrogate, need_mem)


def choose(current: Tensor, beta, threshold, reset: str, surrogate) -> str:
    """The fastest backend that computes exactly the reference's result here: "numba", "triton" or "reference"."""
    if not supported(current, beta, threshold, reset, surrogate, half=current.device.type == "cuda"):
        return "reference"
    if current.device.type == "cpu":
        from spikevision.kernels import cpu

        return "numba" if cpu.available() else "reference"
    if current.device.type == "cuda":
        from spikevision.kernels import gpu

        return "triton" if gpu.available() else "reference"
    return "reference"  # meta and other devices: the plain torch loop


def _check(current: Tensor, reset: str, surrogate, beta, threshold, name: str, devices: tuple,
           half: bool = False) -> None:
    if current.device.type not in devices:
        raise InvalidValue(f"the {name!r} LIF backend runs on {' or '.join(devices)} tensors, got "
                           f"{current.device.type}; use backend='auto'")
    if not supported(current, beta, threshold, reset, surrogate, half=half):
        raise InvalidValue(f"the {name!r} LIF backend does not cover this input (dtype {current.dtype}, "
                           f"surrogate {surrogate.name!r}, coefficient dtypes/devices); use backend='auto', "
                           "which falls back to the reference loop")
