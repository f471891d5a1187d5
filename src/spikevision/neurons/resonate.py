"""Resonate-and-fire neurons (RF, Izhikevich 2001): a damped oscillation instead of a leak, so a neuron answers
most to input that arrives at its own rhythm.

Each neuron's state is a point ``z = mem + i * imag`` that turns by ``omega`` radians and shrinks by ``beta``
each step (the damped oscillator ``z' = (b + i w) z + I`` sampled exactly, as Frady et al. 2022 and Lava's RF
neuron write it), with the reset and the spike of ``lif``::

    mem_t  = beta * (cos(omega) * mem_{t-1} - sin(omega) * imag_{t-1}) + I_t - S_{t-1} * threshold
    imag_t = beta * (sin(omega) * mem_{t-1} + cos(omega) * imag_{t-1})
    S_t    = H(mem_t - threshold)

(``reset="zero"`` zeroes both parts after a spike; ``"none"`` leaves them.) An input spike starts a ringing of
period ``2 pi / omega`` steps: a second spike half a period later cancels it, one a whole period later adds to
it, so the neuron fires for pairs of spikes a period apart and not for pairs at other intervals (its
resonance; ``tests/test_resonate.py``). With ``omega = 0`` it is ``lif``'s LIF neuron to the bit.

Everything a neuron model needs is in this file: the step (``advance``), its ``Dynamics`` for the shared
sequence skeleton (the reference loop: no fused kernel), the layer and its ``NeuronKind``, which the
registry (``spikevision.neurons``) names as ``model.neuron = "rf"`` and ``spikevision neuron --model rf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikevision.neurons import base, lif
from spikevision.neurons import surrogate as surrogates
from spikevision.neurons.base import Option, zero_state
from spikevision.neurons.layer import Spiking

Tensor = torch.Tensor
OMEGA = 0.2  # radians per step: a period of about 31 steps


@dataclass(frozen=True, eq=False)
class RFParams:
    """Parameters of a layer of resonate-and-fire neurons: ``lif.LIFParams`` and the rotation ``omega``.

    Args:
        beta: the oscillation's decay per step, in [0, 1] (a number, or a tensor clamped to [0, 1]).
        threshold: firing threshold of ``mem``, the real part; a positive number or a tensor.
        omega: radians the state turns per step, in [0, pi] (a number).
        reset, surrogate: as ``lif.LIFParams``.
    """

    beta: float | Tensor = 0.95
    threshold: float | Tensor = 1.0
    omega: float = OMEGA
    reset: str = "subtract"
    surrogate: str | surrogates.Surrogate = surrogates.DEFAULT

    def __post_init__(self) -> None:
        lif.LIFParams(self.beta, self.threshold, self.reset, self.surrogate)  # the same checks as the LIF's
        OPTIONS["omega"].check("omega", self.omega)
        object.__setattr__(self, "surrogate", surrogates.get(self.surrogate))


class RFState(NamedTuple):
    """State of a layer of RF neurons: the real part ``mem`` (what crosses the threshold) and ``imag``."""

    mem: Tensor
    imag: Tensor


def initial_state(like: Tensor) -> RFState:
    """Rest (both parts zero) for one step's input ``like`` ``[B, ...]``."""
    return zero_state(RFState, like)


def advance(current: Tensor, state: RFState, reset: Tensor, coefficients, params: RFParams):
    """One step of the module docstring's dynamics: ``(spk, RFState)``."""
    beta, threshold = coefficients
    cos, sin = math.cos(params.omega), math.sin(params.omega)
    turned_mem = cos * state.mem - sin * state.imag
    imag = beta * (sin * state.mem + cos * state.imag)
    if params.reset == "subtract":
        mem = beta * turned_mem + current - reset * threshold
    elif params.reset == "zero":
        keep = 1 - reset
        mem, imag = beta * (keep * turned_mem) + current, keep * imag
    else:
        mem = beta * turned_mem + current
    return surrogates.get(params.surrogate)(mem - threshold), RFState(mem, imag)


DYNAMICS = base.Dynamics("RF", RFState, lif.coefficients, rest=lambda like, _: initial_state(like),
                         fired=lambda state, coefficients: lif.fired(state.mem, coefficients[1]), advance=advance)


class ResonateFire(Spiking[RFParams, RFState]):
    """A layer of resonate-and-fire neurons: ``lif.LIF``'s beta and threshold (fixed or learnable, PLIF's
    ``learn_tau`` included) and a fixed rotation ``omega``.

    Args:
        beta, threshold, reset, surrogate, learn_beta, learn_threshold, learn_tau, shape: as ``lif.LIF``.
        omega: radians per step, in [0, pi].
    """

    dynamics = DYNAMICS  # the reference loop: no kernel family yet

    def __init__(self, beta: float = 0.95, threshold: float = 1.0, *, omega: float = OMEGA, **options) -> None:
        OPTIONS["omega"].check("omega", omega)
        super().__init__(beta, threshold, **options)
        self.omega = float(omega)

    @property
    def params(self) -> RFParams:
        return RFParams(self.beta, self.threshold, self.omega, self.reset, self.surrogate)

    def extra_repr(self) -> str:
        return f"omega={self.omega:g}, " + super().extra_repr()


OPTIONS = {"omega": Option(OMEGA, lambda v: 0 <= v <= math.pi, "in [0, pi]",
                           "radians the state turns per step (its period is 2 pi / omega steps)")}

KINDS = {"rf": base.NeuronKind(
    "rf", "resonate-and-fire: a damped oscillation, so the neuron answers input at its own rhythm",
    DYNAMICS, params=lambda beta, threshold, options: RFParams(beta, threshold, **options),
    layer=lambda beta, threshold, options, **common: ResonateFire(beta, threshold, **options, **common),
    options=OPTIONS, traces=(("imag", "membrane", "imaginary part (the turning half)"),))}
