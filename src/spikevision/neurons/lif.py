"""Leaky integrate-and-fire neurons: pure step and sequence functions with explicit state, and a module.

Dynamics, the same as snnTorch 1.0.0's ``snn.Leaky`` (``reset_delay=True``), for each neuron::

    mem_t = beta * mem_{t-1} + I_t - S_{t-1} * threshold     reset="subtract"
    mem_t = beta * (1 - S_{t-1}) * mem_{t-1} + I_t            reset="zero"
    mem_t = beta * mem_{t-1} + I_t                            reset="none"
    S_t   = H(mem_t - threshold)                              H: Heaviside forward, surrogate backward

``S_{t-1}`` is recomputed from ``mem_{t-1}`` and detached from the graph, as snnTorch does, so the reset
carries no gradient to the membrane (it still does to a learnable threshold). ``beta`` given as a tensor
is clamped to [0, 1]; as a number it must lie in [0, 1].

``lif_sequence`` is the LIF time loop. It dispatches to an implementation in ``BACKENDS``: the plain
torch loop below (``"reference"``), or the fused kernels of ``spikevision.kernels`` (``"numba"`` on the
CPU, ``"triton"`` on CUDA), which equal it and are chosen by ``backend="auto"`` where they apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikevision.errors import InvalidValue
from spikevision.neurons import base
from spikevision.neurons import surrogate as surrogates
from spikevision.neurons.base import RESETS, check_coefficient, coefficient, zero_state
from spikevision.neurons.layer import LEARN_MODES, Spiking

Tensor = torch.Tensor
Number = float | int

# Half-precision currents (autocast on a GPU) are integrated in float32: the membranes stay float32 and only
# the spikes, exact 0/1 in any dtype, come back in the input's dtype (base.sequence).
__all__ = ["LEARN_MODES", "RESETS", "LIF", "LIFParams", "LIFState", "lif_sequence", "lif_step", "initial_state"]

@dataclass(frozen=True, eq=False)
class LIFParams:
    """Parameters of a layer of LIF neurons.

    Args:
        beta: membrane decay per step; a number in [0, 1], or a tensor (one value, or one per neuron,
            broadcastable to the neurons' shape) that is clamped to [0, 1] when used.
        threshold: firing threshold; a positive number or a tensor like ``beta``.
        reset: "subtract" (reset by subtraction), "zero" (reset to zero) or "none".
        surrogate: a surrogate name from ``surrogate.NAMES`` or a ``surrogate.Surrogate``;
            stored as the ``Surrogate``.
    """

    beta: Number | Tensor = 0.95
    threshold: Number | Tensor = 1.0
    reset: str = "subtract"
    surrogate: str | surrogates.Surrogate = surrogates.DEFAULT

    def __post_init__(self) -> None:
        check_coefficient("beta", self.beta, lambda v: 0 <= v <= 1, "lie in [0, 1]")
        check_coefficient("threshold", self.threshold, lambda v: 0 < v < math.inf, "be a positive number")
        if self.reset not in RESETS:
            raise InvalidValue(f"unknown reset {self.reset!r}; valid: {', '.join(RESETS)}")
        object.__setattr__(self, "surrogate", surrogates.get(self.surrogate))


class LIFState(NamedTuple):
    """State of a layer of LIF neurons: the membrane potential ``mem`` ``[B, ...]``."""

    mem: Tensor


def initial_state(like: Tensor) -> LIFState:
    """The resting state (zero membrane) for one step's input ``like`` ``[B, ...]``: same shape, dtype, device
    (float32 for a half-precision input)."""
    return zero_state(LIFState, like)


def lif_step(current: Tensor, state: LIFState | None, params: LIFParams) -> tuple[Tensor, LIFState]:
    """Advance LIF neurons by one time step.

    Args:
        current: input current ``I_t`` ``[B, ...]``, floating point.
        state: the state after the previous step, or None for rest (zero membrane).
        params: the layer's ``LIFParams``.
    Returns:
        ``(spk [B, ...], LIFState(mem [B, ...]))``: spikes ``S_t`` in ``current``'s dtype and the new state.
    """
    return base.step(DYNAMICS, current, state, params)


def lif_sequence(
    current: Tensor, state: LIFState | None, params: LIFParams, *, backend: str = "auto", need_mem: bool = True
) -> tuple[Tensor, Tensor | None, LIFState]:
    """Run LIF neurons over a whole sequence: the shared skeleton (``base.sequence``) over LIF's step.

    Args:
        current: input currents ``[T, B, ...]``; may be a stride-0 expanded view of a constant current
            (direct encoding), which is read as it is, never copied.
        state: the state before the first step, or None for rest (zero membrane).
        params: the layer's ``LIFParams``.
        backend: "auto" (the fastest implementation available for this input), "reference", "numba" or
            "triton" (``base.BACKENDS``).
        need_mem: return the membranes over time; with False, ``mem`` is None and the fast kernels
            never write them (hidden layers whose membranes nobody reads).
    Returns:
        ``(spk [T, B, ...], mem [T, B, ...] or None, final LIFState)``, spikes in ``current``'s dtype; for a
        float16/bfloat16 current the membranes are float32 (the Triton kernel reads the half current itself).
    """
    return base.sequence(DYNAMICS, current, state, params, backend=backend, need_mem=need_mem)


def advance(current: Tensor, mem: Tensor, reset: Tensor, beta, threshold, params) -> tuple[Tensor, Tensor]:
    """One step of the dynamics in the module docstring, written op for op as snnTorch's Leaky:
    ``(spk, mem)``."""
    if params.reset == "subtract":
        mem = beta * mem + current - reset * threshold
    elif params.reset == "zero":
        mem = beta * ((1 - reset) * mem) + current
    else:
        mem = beta * mem + current
    return surrogates.get(params.surrogate)(mem - threshold), mem


def fired(mem: Tensor, threshold) -> Tensor:
    """``H(mem - threshold)`` as a detached 0/1 tensor: whether the previous step spiked."""
    return (mem - threshold > 0).to(mem.dtype)


def coefficients(params, like: Tensor):
    """``beta`` (clamped to [0, 1] if a tensor) and ``threshold`` of any neuron's params, checked against one
    step's input."""
    return coefficient("beta", params.beta, like, clamp=True), coefficient("threshold", params.threshold, like)


def _advance(current: Tensor, state: LIFState, reset: Tensor, coefficients, params) -> tuple[Tensor, LIFState]:
    beta, threshold = coefficients
    spk, mem = advance(current, state.mem, reset, beta, threshold, params)
    return spk, LIFState(mem)


DYNAMICS = base.Dynamics(
    "LIF", LIFState, coefficients, rest=lambda like, _: initial_state(like),
    fired=lambda state, coefficients: fired(state.mem, coefficients[1]), advance=_advance, family="lif",
    kernel_arguments=lambda coefficients, params: (coefficients, ()))


class LIF(Spiking[LIFParams, LIFState]):
    """A layer of LIF neurons: holds beta and threshold (fixed or learnable), never the state.

    Args:
        beta: initial membrane decay per step, in [0, 1].
        threshold: initial firing threshold, > 0.
        reset: "subtract", "zero" or "none".
        surrogate: a name from ``surrogate.NAMES`` or a ``surrogate.Surrogate``.
        learn_beta, learn_threshold, learn_tau, shape: as ``layer.Spiking`` ("none", "layer" or "neuron";
            learn_tau is PLIF's learned time constant, ``beta = sigmoid(beta_logit)``).
    """

    kernel_family: str | None = "lif"
    dynamics = DYNAMICS

    @property
    def params(self) -> LIFParams:
        """The current ``LIFParams`` (learnable tensors included, so gradients reach them)."""
        return LIFParams(self.beta, self.threshold, self.reset, self.surrogate)


def _layer(beta, threshold, options, **common):
    return LIF(beta, threshold, **common)


KINDS = {
    "lif": base.NeuronKind("lif", "leaky integrate-and-fire: the membrane decays by beta each step", DYNAMICS,
                           params=lambda beta, threshold, options: LIFParams(beta, threshold), layer=_layer),
    "if": base.NeuronKind("if", "integrate-and-fire: no leak (beta is 1)", DYNAMICS,
                          params=lambda beta, threshold, options: LIFParams(beta, threshold), layer=_layer,
                          fixed_beta=1.0),
}
