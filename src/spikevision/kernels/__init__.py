"""Fast implementations of the neurons' time loops: a fused CPU kernel (numba) and a GPU kernel (Triton) per
kernel family (``families``: LIF, CUBA, ALIF), behind one autograd node (``fused``) and one choice point
(``select``).

Each one runs a layer's whole recurrence in one call, forward and backward (the surrogate gradient through
time, the reset detached as in the reference), and is tested equal to the neuron's reference loop: the same
spikes and states bit for bit, gradients within float rounding. Nothing here is required: without numba (or,
on a GPU, without Triton) the reference loop runs. This layer never imports the neurons, the model or the runs.

What makes them fast:

- a constant current (direct encoding: a stride-0 expansion over time of one ``[B, ...]`` tensor) is
  read once, and its gradient is summed over time inside the kernel;
- each state stays in a register/L1 for all T steps: the spikes are written once, the membranes
  only when asked for (``need_mem``);
- backward recomputes the states from the inputs instead of storing ``[T, B, ...]`` of them;
- ``lif_linear`` goes one step further for a first hidden layer on a constant current: that layer (LIF or
  CUBA, ``neuron_linear``) and the linear layer after it in one kernel, so the hidden spikes never become a
  ``[T, B, N]`` tensor.

Example::

    >>> spk, mem, last = sequence("numba", "lif", current, (mem0,), (0.95, 1.0), (), "subtract",
    ...                           surrogate.get("atan"))
"""

from __future__ import annotations

import importlib

import torch

from spikevision.errors import InvalidValue
from spikevision.kernels.families import FAMILIES, Family
from spikevision.kernels.fused import constant_source, supported
from spikevision.kernels.lif_linear import FAMILY_CODES, lif_linear, neuron_linear, pair_supported
from spikevision.kernels.lif_linear import supported as lif_linear_supported

Tensor = torch.Tensor

ENGINES = ("numba", "triton")

PAIR_FAMILIES = tuple(FAMILY_CODES)  # the families the fused pair (a layer and the Linear after it) runs

__all__ = ["ENGINES", "FAMILIES", "Family", "select", "sequence", "constant_source", "lif_linear",
           "lif_linear_supported", "neuron_linear", "pair_supported", "PAIR_FAMILIES"]


def select(family: str, current: Tensor, states, coefficients, fixed, reset: str, surrogate) -> str:
    """The one choice point: the fastest engine that computes exactly the reference's result for this input of
    ``family`` here, "numba" (CPU), "triton" (CUDA) or "reference"."""
    engine = _engine_for(current.device.type)
    if engine is None or not _installed(engine):
        return "reference"
    if not supported(FAMILIES[family], engine, current, states, coefficients, fixed, reset, surrogate):
        return "reference"
    return engine


def sequence(engine: str, family: str, current: Tensor, states, coefficients, fixed, reset: str, surrogate,
             need_mem: bool = True) -> tuple:
    """``family``'s recurrence on ``engine`` ("numba" or "triton"): ``(spk [T, B, ...], mem [T, B, ...] or None,
    *last states)``; arguments as ``fused.run``. An engine that cannot run this input here is refused with a
    one-line reason."""
    record = FAMILIES[family]
    _check_runs_here(engine, record, current)
    from spikevision.kernels import fused

    reason = fused.refusal(record, engine, current, states, coefficients, fixed, reset, surrogate)
    if reason is not None:
        raise InvalidValue(f"the {engine!r} backend of {family} neurons does not cover this input ({reason}); use "
                           "backend='auto', which falls back to the reference loop")
    return fused.run(_runtime(engine), record, current, states, coefficients, fixed, reset, surrogate, need_mem)


def _engine_for(device_type: str) -> str | None:
    return {"cpu": "numba", "cuda": "triton"}.get(device_type)  # meta and other devices: the reference loop


def _runtime(engine: str):
    """The engine's runtime module (``numba/runtime.py`` or ``triton/runtime.py``), imported on first use."""
    return importlib.import_module(f"spikevision.kernels.{engine}.runtime")


def _installed(engine: str) -> bool:
    return _runtime(engine).available()


def _devices(engine: str) -> tuple[str, ...]:
    return ("cpu",) if engine == "numba" else _runtime(engine).devices()


def _check_runs_here(engine: str, family: Family, current: Tensor) -> None:
    """A one-line refusal of an explicit ``engine`` that cannot run ``current`` here (device, or not installed)."""
    if engine not in ENGINES:
        raise InvalidValue(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    devices = _devices(engine)
    if current.device.type not in devices:
        raise InvalidValue(f"the {engine!r} backend of {family.name} neurons runs on {' or '.join(devices)} "
                           f"tensors, got {current.device.type}; use backend='auto'")
    if not _installed(engine):
        needs = "numba" if engine == "numba" else "triton and a CUDA device (or TRITON_INTERPRET=1 for CPU tensors)"
        raise InvalidValue(f"the {engine!r} backend of {family.name} neurons needs {needs} here; "
                           "use backend='auto'")
