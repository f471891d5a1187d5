"""What every neuron model's time loop shares: the checks of a current, and the one sequence skeleton.

``run_sequence`` is the skeleton of ``lif_sequence``, ``cuba_sequence`` and ``alif_sequence``: it checks the
current (a floating-point tensor, time first, at least one step) and the state, integrates a half-precision
current in float32 (a stride-0 expansion over time stays one: its ``[B, ...]`` source is converted, never the
``[T, B, ...]`` view materialised), picks the backend ("auto": the fastest exact one here) and runs it. Each
model supplies what differs: its state check, its backends, how it chooses, and whether a backend reads half
precision itself (LIF's Triton kernel does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from spikevision import kernels
from spikevision.errors import InvalidType, InvalidValue

Tensor = torch.Tensor
HALF = (torch.float16, torch.bfloat16)


def check_current(current, name: str, min_dim: int) -> None:
    """A clear refusal of a current that is not a floating-point tensor of at least ``min_dim`` dimensions."""
    if not isinstance(current, Tensor):
        raise InvalidType(f"{name} must be a torch.Tensor, got {type(current).__name__}")
    if not current.is_floating_point():
        raise InvalidType(f"{name} must be floating point, got dtype {current.dtype}; convert it with .float()")
    if current.dim() < min_dim:
        raise InvalidValue(f"{name} must have at least {min_dim} dimension(s) (time first), "
                           f"got shape {tuple(current.shape)}")


def upcast(current: Tensor) -> Tensor:
    """``current`` in float32; a stride-0 expansion over time stays one (its ``[B, ...]`` source is converted)."""
    source = kernels.constant_source(current)
    if source is not None:
        return source.float().unsqueeze(0).expand(current.shape)
    return current.float()


def run_sequence(kind: str, current: Tensor, state, params, *, backend: str, need_mem: bool,
                 backends: Mapping[str, Callable], check_state: Callable, choose: Callable,
                 reads_half: Callable[[str], bool] = lambda backend: False):
    """One neuron model over a sequence: ``backends[name](current, state, params, need_mem)``.

    Args:
        kind: the model's name in messages ("LIF", "CubaLIF", "ALIF").
        current: input currents ``[T, B, ...]``.
        state: the state before the first step, or None for rest; ``check_state(state, current[0])`` returns
            the checked state (rest for None).
        params: the layer's parameters, passed to the backend.
        backend: "auto" or a key of ``backends``; ``choose(current, state)`` names the one "auto" runs.
        need_mem: return the membranes over time (else None in their place).
        reads_half: whether ``backend`` reads a float16/bfloat16 current itself (else it gets the exact float32
            copy, and the spikes come back in the current's dtype).
    """
    check_current(current, "current", min_dim=1)
    if current.shape[0] == 0:
        raise InvalidValue("current has no time steps (shape[0] == 0); give at least one step")
    state = check_state(state, current[0])
    if current.dtype in HALF and not reads_half(backend):
        # The same arithmetic as a kernel's half path: exact upcast, float32 loop, spikes cast back.
        spk, mem, state = run_sequence(kind, upcast(current), state, params, backend=backend, need_mem=need_mem,
                                       backends=backends, check_state=check_state, choose=choose)
        return spk.to(current.dtype), mem, state
    if backend == "auto":
        backend = choose(current, state)
    if backend not in backends:
        raise InvalidValue(f"unknown {kind} backend {backend!r}; valid: auto, {', '.join(backends)}")
    return backends[backend](current, state, params, need_mem)
