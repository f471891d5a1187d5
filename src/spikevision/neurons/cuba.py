"""Current-based LIF neurons (CubaLIF): a synaptic current that decays into a leaky membrane.

Dynamics, the same as snnTorch 1.0.0's ``snn.Synaptic`` (``reset_delay=True``) and NIR's ``CubaLIF`` in
discrete time, for each neuron::

    syn_t = alpha * syn_{t-1} + I_t
    mem_t = beta * mem_{t-1} + syn_t - S_{t-1} * threshold     reset="subtract"
    mem_t = beta * (1 - S_{t-1}) * mem_{t-1} + syn_t           reset="zero"
    mem_t = beta * mem_{t-1} + syn_t                           reset="none"
    S_t   = H(mem_t - threshold)                               H: Heaviside forward, surrogate backward

The synaptic current is never reset. "subtract" and "none" are snnTorch's ``Synaptic`` to the bit. "zero"
zeroes the old membrane, as our LIF does and as NIR's reset to ``v_reset`` right after a spike means (the
spikes of snnTorch's ``Synaptic(reset_delay=False)``, which its NIR importer builds); snnTorch's
``Synaptic(reset_mechanism="zero")`` with its default ``reset_delay=True`` zeroes the new membrane instead,
input included (``tests/test_cuba.py`` pins both). ``S_{t-1}`` is recomputed from ``mem_{t-1}`` and detached, as in
``neuron``. An input spike thus raises the membrane over several steps (a smoothed, delayed response)
instead of in one jump: the model of a synapse with its own time constant.

``cuba_sequence`` is the time loop, the shared skeleton over this step (``base.sequence``): the plain torch
loop (``"reference"``) or the fused kernel family ``cuba`` (``"numba"`` on the CPU, ``"triton"`` on CUDA),
which equals it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikevision.errors import InvalidValue
from spikevision.neurons import base, lif
from spikevision.neurons import surrogate as surrogates
from spikevision.neurons.base import RESETS, check_coefficient, coefficient, zero_state
from spikevision.neurons.layer import Spiking

Tensor = torch.Tensor
Number = float | int


@dataclass(frozen=True, eq=False)
class CubaParams:
    """Parameters of a layer of current-based LIF neurons.

    Args:
        alpha: synaptic current decay per step, in [0, 1] (a number, or a tensor clamped to [0, 1]).
        beta: membrane decay per step, in [0, 1], the same way.
        threshold: firing threshold; a positive number or a tensor.
        reset: "subtract", "zero" or "none" (see the module docstring).
        surrogate: a name from ``surrogate.NAMES`` or a ``surrogate.Surrogate``.
    """

    alpha: Number | Tensor = 0.9
    beta: Number | Tensor = 0.8
    threshold: Number | Tensor = 1.0
    reset: str = "subtract"
    surrogate: str | surrogates.Surrogate = surrogates.DEFAULT

    def __post_init__(self) -> None:
        check_coefficient("alpha", self.alpha, lambda v: 0 <= v <= 1, "lie in [0, 1]")
        check_coefficient("beta", self.beta, lambda v: 0 <= v <= 1, "lie in [0, 1]")
        check_coefficient("threshold", self.threshold, lambda v: 0 < v < math.inf, "be a positive number")
        if self.reset not in RESETS:
            raise InvalidValue(f"unknown reset {self.reset!r}; valid: {', '.join(RESETS)}")
        object.__setattr__(self, "surrogate", surrogates.get(self.surrogate))


class CubaState(NamedTuple):
    """State of a layer of current-based LIF neurons: synaptic current ``syn`` and membrane ``mem``, ``[B, ...]``."""

    syn: Tensor
    mem: Tensor


def initial_state(like: Tensor) -> CubaState:
    """Rest (zero current and membrane) for one step's input ``like`` ``[B, ...]``."""
    return zero_state(CubaState, like)


def cuba_step(current: Tensor, state: CubaState | None, params: CubaParams) -> tuple[Tensor, CubaState]:
    """Advance current-based LIF neurons by one step: ``(spk [B, ...], CubaState)`` (see the module docstring)."""
    return base.step(DYNAMICS, current, state, params)


def cuba_sequence(current: Tensor, state: CubaState | None, params: CubaParams, *, backend: str = "auto",
                  need_mem: bool = True) -> tuple[Tensor, Tensor | None, CubaState]:
    """Run current-based LIF neurons over a sequence: the shared skeleton (``base.sequence``) over CUBA's step.

    Args:
        current: input currents ``[T, B, ...]`` (a stride-0 expansion of one current is read once by the kernel).
        state: the state before the first step, or None for rest.
        params: the layer's ``CubaParams``.
        backend: "auto" (the fastest exact one here), "reference", "numba" or "triton" (CUDA tensors; CPU
            tensors under ``TRITON_INTERPRET=1``).
        need_mem: return the membranes over time (else None in their place).
    Returns:
        ``(spk [T, B, ...], mem [T, B, ...] or None, final CubaState)``.
    """
    return base.sequence(DYNAMICS, current, state, params, backend=backend, need_mem=need_mem)


def _advance(current: Tensor, state: CubaState, reset: Tensor, coefficients, params: CubaParams):
    """One step, op for op as snnTorch's Synaptic (reset to zero: as our LIF): ``(spk, CubaState)``."""
    alpha, beta, threshold = coefficients
    syn = alpha * state.syn + current
    if params.reset == "subtract":
        mem = (beta * state.mem + syn) - reset * threshold
    elif params.reset == "zero":
        mem = beta * ((1 - reset) * state.mem) + syn
    else:
        mem = beta * state.mem + syn
    return surrogates.get(params.surrogate)(mem - threshold), CubaState(syn, mem)


def coefficients(params: CubaParams, like: Tensor):
    """``alpha``, ``beta`` (clamped to [0, 1] if tensors) and ``threshold``, checked against one step's input."""
    return (coefficient("alpha", params.alpha, like, clamp=True), *lif.coefficients(params, like))


DYNAMICS = base.Dynamics(
    "CubaLIF", CubaState, coefficients, rest=lambda like, _: initial_state(like),
    fired=lambda state, coefficients: lif.fired(state.mem, coefficients[2]), advance=_advance, family="cuba",
    kernel_arguments=lambda coefficients, params: (coefficients, ()))


class CubaLIF(Spiking[CubaParams, CubaState]):
    """A layer of current-based LIF neurons: holds alpha, beta and threshold (fixed or learnable), never the state.

    A sibling of ``lif.LIF`` with a synaptic current: the same beta, threshold and learning options (alpha stays
    fixed).

    Args:
        alpha, beta, threshold, reset, surrogate: as in ``CubaParams``.
        learn_beta, learn_threshold, learn_tau: "none", "layer" or "neuron" (as ``lif.LIF``).
        shape: the neurons' shape without batch; needed for "neuron".
    """

    kernel_family: str | None = "cuba"
    dynamics = DYNAMICS

    def __init__(self, alpha: float = 0.9, beta: float = 0.8, threshold: float = 1.0, *, reset: str = "subtract",
                 surrogate: str | surrogates.Surrogate = surrogates.DEFAULT, learn_beta: str = "none",
                 learn_threshold: str = "none", learn_tau: str = "none",
                 shape: tuple[int, ...] | None = None) -> None:
        CubaParams(alpha, beta, threshold, reset, surrogate)  # validates alpha too
        super().__init__(beta, threshold, reset=reset, surrogate=surrogate, learn_beta=learn_beta,
                         learn_threshold=learn_threshold, learn_tau=learn_tau, shape=shape)
        self.alpha = float(alpha)

    @property
    def params(self) -> CubaParams:
        return CubaParams(self.alpha, self.beta, self.threshold, self.reset, self.surrogate)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}, " + super().extra_repr()


OPTIONS = {"alpha": base.Option(0.9, lambda v: 0 <= v <= 1, "in [0, 1]", "the synaptic current's decay per step")}

KINDS = {"cuba": base.NeuronKind(
    "cuba", "current-based: the input charges a synaptic current that decays by alpha and feeds the membrane",
    DYNAMICS, params=lambda beta, threshold, options: CubaParams(options["alpha"], beta, threshold),
    layer=lambda beta, threshold, options, **common: CubaLIF(options["alpha"], beta, threshold, **common),
    options=OPTIONS, traces=(("syn", "current", "synaptic current (decays by alpha)"),),
    drive=lambda options: max(0.1, 1 - options["alpha"]))}
