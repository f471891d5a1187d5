"""The layer classes every neuron model builds on: parameters only, the state passed in and out.

- ``Neuron``: a layer of one model, run by the shared skeleton (``base.sequence`` over its ``dynamics``, or
  ``base.step`` for one step) with the layer's ``params``; typed by its params and its state;
- ``Decaying``: a ``Neuron`` with a decay ``beta`` fixed, learnable ("layer" or "neuron"), or learned as
  ``sigmoid(beta_logit)`` (PLIF's ``learn_tau``); the leaky-integrator readout (``readout.LI``) is one;
- ``Spiking``: a ``Decaying`` neuron with a firing threshold (fixed or learnable), a reset and a surrogate
  gradient: ``lif.LIF``, ``cuba.CubaLIF``, ``alif.ALIF`` and ``resonate.ResonateFire`` are siblings under it,
  each with its own params and state, none a subclass of another.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Generic, TypeVar, cast

import torch
from torch import nn

from spikevision.errors import InvalidValue
from spikevision.neurons import base
from spikevision.neurons import surrogate as surrogates

Tensor = torch.Tensor
P = TypeVar("P")
S = TypeVar("S")
LEARN_MODES = ("none", "layer", "neuron")


class Neuron(nn.Module, Generic[P, S]):
    """A layer of neurons of one model: its ``dynamics`` run with ``params``; the state is never kept.

    A subclass gives ``dynamics`` (a ``base.Dynamics``) and ``params``; ``kernel_family`` names the fused
    kernels that run it where they apply (a key of ``kernels.FAMILIES``), None where only the reference loop
    does.
    """

    kernel_family: str | None = None
    dynamics: ClassVar[base.Dynamics]

    @property
    def params(self) -> P:
        raise NotImplementedError(f"{type(self).__name__} gives no params")

    def forward(self, current: Tensor, state: S | None = None, *, backend: str = "auto",
                need_mem: bool = True) -> tuple[Tensor, Tensor | None, S]:
        """The model's time loop over ``current`` ``[T, B, ...]`` -> ``(spk [T, B, ...], mem or None, state)``
        (``base.sequence``)."""
        return base.sequence(self.dynamics, current, state, self.params, backend=backend, need_mem=need_mem)

    def step(self, current: Tensor, state: S | None = None) -> tuple[Tensor, S]:
        """One step on ``current`` ``[B, ...]`` -> ``(spk [B, ...], state)`` (``base.step``)."""
        return base.step(self.dynamics, current, state, self.params)


class Decaying(Neuron[P, S]):
    """A layer with a decay per step ``beta``, fixed, learnable or learned in range.

    Args:
        beta: initial decay per step, in [0, 1].
        learn_beta: "none" (a fixed number), "layer" (one learnable value) or "neuron" (one per neuron).
        learn_tau: the same choices for a learnable time constant kept in range by construction (PLIF, Fang
            et al. 2021): the parameter ``beta_logit`` is learned and ``beta = sigmoid(beta_logit)`` always lies
            in [0, 1], so no step of the optimiser can leave the valid range (``learn_beta`` clamps instead,
            which stops the gradient at the ends). ``beta`` must then lie in (0, 1).
        shape: the neurons' shape without batch, e.g. ``(512,)`` or ``(12, 12, 12)``; needed for "neuron".
    """

    def __init__(self, beta: float, *, learn_beta: str = "none", learn_tau: str = "none",
                 shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        base.check_coefficient("beta", beta, lambda v: 0 <= v <= 1, "lie in [0, 1]")
        self.shape = None if shape is None else tuple(int(n) for n in shape)
        if learn_tau != "none":
            if learn_beta != "none":
                raise InvalidValue("learn_tau and learn_beta both learn the decay; choose one (learn_tau keeps it "
                                   "in range by construction)")
            if not 0 < beta < 1:
                raise InvalidValue(f"learn_tau learns beta = sigmoid(w), which starts from beta in (0, 1); got {beta}")
            self.beta_logit = self._coefficient("tau", math.log(beta / (1 - beta)), learn_tau)
        else:
            self.beta = self._coefficient("beta", beta, learn_beta)

    def __getattr__(self, name: str) -> Any:
        # With learn_tau, ``beta`` is the sigmoid of the learned logit, computed when read (gradients flow).
        if name == "beta" and "beta_logit" in self._parameters:
            return torch.sigmoid(cast(Tensor, self._parameters["beta_logit"]))
        return super().__getattr__(name)

    def _coefficient(self, name: str, value: float, learn: str) -> float | nn.Parameter:
        """``value`` fixed, or as a learnable parameter of one value ("layer") or one per neuron ("neuron")."""
        if learn not in LEARN_MODES:
            raise InvalidValue(f"learn_{name} must be one of {', '.join(LEARN_MODES)}; got {learn!r}")
        if learn == "none":
            return float(value)
        if learn == "layer":
            return nn.Parameter(torch.tensor(float(value)))
        if self.shape is None:
            raise InvalidValue(f"learn_{name}='neuron' needs the neurons' shape: pass shape=(...) to "
                               f"{type(self).__name__}")
        return nn.Parameter(torch.full(self.shape, float(value)))

    def _shown_beta(self) -> str:
        return f"sigmoid({_shown(self.beta_logit)})" if "beta_logit" in self._parameters else _shown(self.beta)


class Spiking(Decaying[P, S]):
    """A decaying layer that fires: a threshold (fixed or learnable), a reset and a surrogate gradient.

    Args:
        beta, learn_beta, learn_tau, shape: as ``Decaying``.
        threshold: initial firing threshold, > 0.
        reset: "subtract", "zero" or "none" (``base.RESETS``).
        surrogate: a name from ``surrogate.NAMES`` or a ``surrogate.Surrogate``.
        learn_threshold: "none", "layer" or "neuron", as ``learn_beta``.
    """

    def __init__(self, beta: float = 0.95, threshold: float = 1.0, *, reset: str = "subtract",
                 surrogate: str | surrogates.Surrogate = surrogates.DEFAULT, learn_beta: str = "none",
                 learn_threshold: str = "none", learn_tau: str = "none",
                 shape: tuple[int, ...] | None = None) -> None:
        base.check_coefficient("threshold", threshold, lambda v: 0 < v < math.inf, "be a positive number")
        if reset not in base.RESETS:
            raise InvalidValue(f"unknown reset {reset!r}; valid: {', '.join(base.RESETS)}")
        super().__init__(beta, learn_beta=learn_beta, learn_tau=learn_tau, shape=shape)
        self.reset = reset
        self.surrogate = surrogates.get(surrogate)
        self.threshold = self._coefficient("threshold", threshold, learn_threshold)

    def extra_repr(self) -> str:
        return (f"beta={self._shown_beta()}, threshold={_shown(self.threshold)}, reset={self.reset!r}, "
                f"surrogate={self.surrogate.name!r}")


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else f"learnable{tuple(value.shape)}"
