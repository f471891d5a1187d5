"""Adaptive-threshold LIF neurons (ALIF, the neuron of Bellec et al.'s LSNN): each spike raises the neuron's
threshold, which decays back, so a neuron that has just fired a burst needs more input to fire again.

Dynamics, in ``neuron``'s convention (the reset and the adaptation use the previous step's spike, detached)::

    A_t   = threshold + rho * (A_{t-1} - threshold) + gamma * S_{t-1}     the adaptive threshold, A_0 = threshold
    mem_t = beta * mem_{t-1} + I_t - S_{t-1} * A_{t-1}                    reset="subtract" (the threshold crossed)
    mem_t = beta * (1 - S_{t-1}) * mem_{t-1} + I_t                        reset="zero"
    mem_t = beta * mem_{t-1} + I_t                                        reset="none"
    S_t   = H(mem_t - A_t)

``rho`` (``adapt_decay``) is the threshold's decay back to ``threshold`` per step and ``gamma``
(``adapt_step``) its rise per spike: with ``gamma = 0`` it is ``neuron``'s LIF exactly (tested). Norse's LSNN
is this threshold with ``gamma = rho * beta_a`` on a current-based membrane, its updates ordered otherwise
(``tests/test_alif.py`` says where).

``alif_sequence`` is the time loop, the shared skeleton over this step (``base.sequence``): the reference loop,
or the fused kernel family ``alif`` (numba on the CPU, Triton on CUDA) where the threshold's parameters are
numbers (the reference learns a tensor threshold too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikevision.errors import InvalidValue
from spikevision.neurons import base, lif
from spikevision.neurons import surrogate as surrogates
from spikevision.neurons.base import RESETS, check_coefficient, zeros_like_step
from spikevision.neurons.layer import Spiking

Tensor = torch.Tensor
Number = float | int


@dataclass(frozen=True, eq=False)
class ALIFParams:
    """Parameters of a layer of adaptive-threshold LIF neurons.

    Args:
        beta: membrane decay per step, in [0, 1] (a number, or a tensor clamped to [0, 1]).
        threshold: the resting threshold, > 0 (a number or a tensor).
        adapt_decay: ``rho``, the adaptive threshold's decay back to ``threshold`` per step, in [0, 1].
        adapt_step: ``gamma``, how much each spike raises the threshold, >= 0.
        reset, surrogate: as in ``lif.LIFParams``.
    """

    beta: Number | Tensor = 0.9
    threshold: Number | Tensor = 1.0
    adapt_decay: float = 0.95
    adapt_step: float = 0.2
    reset: str = "subtract"
    surrogate: str | surrogates.Surrogate = surrogates.DEFAULT

    def __post_init__(self) -> None:
        check_coefficient("beta", self.beta, lambda v: 0 <= v <= 1, "lie in [0, 1]")
        check_coefficient("threshold", self.threshold, lambda v: 0 < v < math.inf, "be a positive number")
        for name, ok, rule in (("adapt_decay", lambda v: 0 <= v <= 1, "lie in [0, 1]"),
                               ("adapt_step", lambda v: 0 <= v < math.inf, "be a number >= 0")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
                raise InvalidValue(f"{name} must {rule}, got {value!r}")
        if self.reset not in RESETS:
            raise InvalidValue(f"unknown reset {self.reset!r}; valid: {', '.join(RESETS)}")
        object.__setattr__(self, "surrogate", surrogates.get(self.surrogate))


class ALIFState(NamedTuple):
    """State of a layer of ALIF neurons: membrane ``mem`` and adaptive threshold ``thr``, ``[B, ...]``."""

    mem: Tensor
    thr: Tensor


def initial_state(like: Tensor, threshold) -> ALIFState:
    """Rest: zero membrane, the threshold at its resting value, for one step's input ``like`` ``[B, ...]``."""
    mem = zeros_like_step(like)
    if isinstance(threshold, Tensor):
        threshold = threshold.detach()
    thr = torch.broadcast_to(torch.as_tensor(threshold, dtype=mem.dtype, device=mem.device), mem.shape)
    return ALIFState(mem, thr.detach().clone())


def alif_step(current: Tensor, state: ALIFState | None, params: ALIFParams) -> tuple[Tensor, ALIFState]:
    """Advance ALIF neurons by one step: ``(spk [B, ...], ALIFState)`` (see the module docstring)."""
    return base.step(DYNAMICS, current, state, params)


def alif_sequence(current: Tensor, state: ALIFState | None, params: ALIFParams, *, backend: str = "auto",
                  need_mem: bool = True) -> tuple[Tensor, Tensor | None, ALIFState]:
    """Run ALIF neurons over a sequence: ``(spk [T, B, ...], mem [T, B, ...] or None, final ALIFState)``.

    Args:
        current: input currents ``[T, B, ...]``.
        state: the state before the first step, or None for rest.
        params: the layer's ``ALIFParams``.
        backend: "auto" (a fused kernel where it is exact), "reference", "numba" or "triton" (CUDA tensors;
            CPU tensors under ``TRITON_INTERPRET=1``).
        need_mem: return the membranes over time (else None in their place).
    """
    return base.sequence(DYNAMICS, current, state, params, backend=backend, need_mem=need_mem)


def advance(current: Tensor, state: ALIFState, reset: Tensor, coefficients, params: ALIFParams):
    """One step: ``(spk, ALIFState)``, the threshold first (it decides this step's spike)."""
    beta, threshold = coefficients
    thr = (threshold + params.adapt_decay * (state.thr - threshold)) + params.adapt_step * reset
    if params.reset == "subtract":
        mem = (beta * state.mem + current) - reset * state.thr
    elif params.reset == "zero":
        mem = beta * ((1 - reset) * state.mem) + current
    else:
        mem = beta * state.mem + current
    return surrogates.get(params.surrogate)(mem - thr), ALIFState(mem, thr)


def _kernel_arguments(coefficients, params: ALIFParams):
    """The kernel family's order: beta learned; the resting threshold and the adaptation fixed numbers (a
    tensor threshold, learned, is no fixed number: the reference loop runs it)."""
    beta, threshold = coefficients
    return (beta,), (threshold, params.adapt_decay, params.adapt_step)


DYNAMICS = base.Dynamics(
    "ALIF", ALIFState, lif.coefficients, rest=lambda like, coefficients: initial_state(like, coefficients[1]),
    fired=lambda state, _: lif.fired(state.mem, state.thr), advance=advance, family="alif",
    kernel_arguments=_kernel_arguments)


class ALIF(Spiking[ALIFParams, ALIFState]):
    """A layer of adaptive-threshold LIF neurons: a sibling of ``lif.LIF`` whose threshold rises with each spike.

    Args:
        beta, threshold, reset, surrogate, learn_beta, learn_threshold, learn_tau, shape: as ``lif.LIF``.
        adapt_decay, adapt_step: ``rho`` and ``gamma`` (``ALIFParams``), fixed numbers.
    """

    kernel_family: str | None = "alif"
    dynamics = DYNAMICS

    def __init__(self, beta: float = 0.9, threshold: float = 1.0, *, adapt_decay: float = 0.95,
                 adapt_step: float = 0.2, **options) -> None:
        ALIFParams(beta, threshold, adapt_decay, adapt_step, options.get("reset", "subtract"),
                   options.get("surrogate", surrogates.DEFAULT))  # validates the adaptation too
        super().__init__(beta, threshold, **options)
        self.adapt_decay, self.adapt_step = float(adapt_decay), float(adapt_step)
        if options.get("learn_threshold", "none") != "none":
            self.kernel_family = None  # the fused kernels take the adaptation's numbers only: the reference loop

    @property
    def params(self) -> ALIFParams:
        return ALIFParams(self.beta, self.threshold, self.adapt_decay, self.adapt_step, self.reset, self.surrogate)

    def extra_repr(self) -> str:
        return f"adapt_decay={self.adapt_decay:g}, adapt_step={self.adapt_step:g}, " + super().extra_repr()


def threshold_trace(spikes: Tensor, params: ALIFParams) -> Tensor:
    """The adaptive threshold ``A_t`` ``[T, ...]`` over given spikes ``[T, ...]``, from rest (it depends on them
    alone)."""
    thr = torch.broadcast_to(torch.as_tensor(params.threshold, dtype=spikes.dtype), spikes.shape[1:])
    threshold, rows, reset = thr, [], torch.zeros_like(spikes[0])
    for spk in spikes.unbind(0):
        thr = (threshold + params.adapt_decay * (thr - threshold)) + params.adapt_step * reset
        rows.append(thr)
        reset = spk
    return torch.stack(rows)


OPTIONS = {
    "adapt_decay": base.Option(0.95, lambda v: 0 <= v <= 1, "in [0, 1]", "the threshold's decay back per step"),
    "adapt_step": base.Option(0.2, lambda v: 0 <= v < math.inf, ">= 0", "how much each spike raises the threshold"),
}

KINDS = {"alif": base.NeuronKind(
    "alif", "adaptive threshold: each spike raises it, it decays back", DYNAMICS,
    params=lambda beta, threshold, options: ALIFParams(beta, threshold, **options),
    layer=lambda beta, threshold, options, **common: ALIF(beta, threshold, **options, **common),
    options=OPTIONS, traces=(("thr", "threshold", "adaptive threshold (rises with each spike)"),))}
