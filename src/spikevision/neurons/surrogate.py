"""Spike functions: Heaviside forward, surrogate gradient backward, chosen by name from one table.

The forward pass of every surrogate is exactly the Heaviside step ``H(x) = 1 if x > 0 else 0``
(so ``H(0) = 0``, as in snnTorch 1.0.0). The backward pass replaces the step's zero-almost-everywhere
derivative with a smooth stand-in ``dH/dx ~ g(x)``. Each table entry also names an antiderivative
``G`` of ``g`` (``G' = g``), so tests can check the backward against the numerical derivative of ``G``.

Example::

    >>> spike = get("atan")                  # snnTorch's default, alpha = 2
    >>> x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
    >>> spike(x)                             # tensor([0., 0., 1.], grad_fn=...)
    >>> get("fast_sigmoid", slope=10)        # a different slope
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from spikevision.errors import InvalidValue

Tensor = torch.Tensor


def _atan_grad(x: Tensor, alpha: float) -> Tensor:
    # g(x) = (alpha/2) / (1 + (pi/2 * alpha * x)^2): snnTorch's ATan (Fang et al. 2021)
    return (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2)


def _atan_primitive(x: Tensor, alpha: float) -> Tensor:
    return torch.atan(math.pi / 2 * alpha * x) / math.pi + 0.5


def _fast_sigmoid_grad(x: Tensor, slope: float) -> Tensor:
    # g(x) = 1 / (1 + k|x|)^2: SuperSpike (Zenke & Ganguli 2018), snnTorch's FastSigmoid
    return 1 / (slope * x.abs() + 1) ** 2


def _fast_sigmoid_primitive(x: Tensor, slope: float) -> Tensor:
    return x / (1 + slope * x.abs())


def _sigmoid_grad(x: Tensor, slope: float) -> Tensor:
    # g(x) = k s(kx) s(-kx) = k e^{-kx} / (1 + e^{-kx})^2: snnTorch's Sigmoid, written so that nothing
    # overflows (snnTorch's form is inf/inf = NaN for kx below about -88) and without 1 - s, which
    # cancels to 0 in float32 once kx is above about 17.
    return slope * torch.sigmoid(slope * x) * torch.sigmoid(-slope * x)


def _sigmoid_primitive(x: Tensor, slope: float) -> Tensor:
    return torch.sigmoid(slope * x)


def _triangular_grad(x: Tensor, width: float) -> Tensor:
    # g(x) = max(0, 1 - |x|/w) / w: a triangle of unit area (Esser et al. 2016, Bellec et al. 2018).
    # snnTorch 1.0.0's `triangular` is not this: it returns +threshold below 0 and -threshold above.
    return (1 - x.abs() / width).clamp(min=0) / width


def _triangular_primitive(x: Tensor, width: float) -> Tensor:
    u = (x / width).clamp(-1, 1)  # the ramp's CDF: 0 below -w, 1 above w, quadratic pieces between
    return torch.where(u < 0, (1 + u) ** 2 / 2, 1 - (1 - u) ** 2 / 2)


def _straight_through_grad(x: Tensor) -> Tensor:
    # g(x) = 1: the gradient passes through unchanged (Bengio et al. 2013), snnTorch's STE
    return torch.ones_like(x)


def _straight_through_primitive(x: Tensor) -> Tensor:
    return x.clone()


class _Entry(NamedTuple):
    grad: Callable[..., Tensor]
    primitive: Callable[..., Tensor]
    defaults: dict


# The one table. Parameter defaults follow snnTorch 1.0.0's.
_TABLE: dict[str, _Entry] = {
    "atan": _Entry(_atan_grad, _atan_primitive, {"alpha": 2.0}),
    "fast_sigmoid": _Entry(_fast_sigmoid_grad, _fast_sigmoid_primitive, {"slope": 25.0}),
    "sigmoid": _Entry(_sigmoid_grad, _sigmoid_primitive, {"slope": 25.0}),
    "triangular": _Entry(_triangular_grad, _triangular_primitive, {"width": 1.0}),
    "straight_through": _Entry(_straight_through_grad, _straight_through_primitive, {}),
}

NAMES: tuple[str, ...] = tuple(_TABLE)
DEFAULT = "atan"


@dataclass(frozen=True)
class Surrogate:
    """A spike function ``H(x)`` whose backward pass is the named surrogate derivative.

    Build it with :func:`get`; calling it on ``x`` (any shape) returns ``H(x)`` in ``x``'s dtype.
    """

    name: str
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.name not in _TABLE:
            raise InvalidValue(f"unknown surrogate {self.name!r}; valid: {', '.join(NAMES)}")
        if {key for key, _ in self.params} != set(_TABLE[self.name].defaults):
            raise InvalidValue(f"surrogate {self.name!r} needs parameters {sorted(_TABLE[self.name].defaults)}; "
                               "build it with surrogate.get(name, **params)")

    def __call__(self, x: Tensor) -> Tensor:
        """Heaviside ``H(x)`` (1 where ``x > 0``), same shape and dtype as ``x``; backward uses ``derivative``."""
        return _Spike.apply(x, self)

    def derivative(self, x: Tensor) -> Tensor:
        """The surrogate derivative ``g(x)`` used in place of ``dH/dx``; same shape as ``x``."""
        return _TABLE[self.name].grad(x, **dict(self.params))

    def primitive(self, x: Tensor) -> Tensor:
        """A smooth antiderivative ``G(x)`` of the surrogate derivative (``G' = g``); for checks and plots."""
        return _TABLE[self.name].primitive(x, **dict(self.params))


class _Spike(torch.autograd.Function):
    """Heaviside forward, ``grad * g(x)`` backward."""

    @staticmethod
    def forward(ctx, x: Tensor, surrogate: Surrogate) -> Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(x), None


def get(name: str | Surrogate = DEFAULT, **params: float) -> Surrogate:
    """The spike function with surrogate gradient ``name``; ``params`` override its defaults.

    Args:
        name: one of ``NAMES``: atan (alpha=2), fast_sigmoid (slope=25), sigmoid (slope=25),
            triangular (width=1), straight_through; a :class:`Surrogate` is returned as it is.
        **params: positive numbers, e.g. ``alpha=4`` for atan or ``slope=10`` for fast_sigmoid.
    Returns:
        A :class:`Surrogate`; ``get(name)(x)`` is ``H(x)`` with the surrogate backward.
    """
    if isinstance(name, Surrogate):
        if params:
            raise InvalidValue("pass parameters either to get(name, ...) or inside the Surrogate, not both")
        return name
    if not isinstance(name, str) or name not in _TABLE:
        raise InvalidValue(f"unknown surrogate {name!r}; valid: {', '.join(NAMES)}")
    defaults = _TABLE[name].defaults
    unknown = set(params) - set(defaults)
    if unknown:
        valid = ", ".join(defaults) if defaults else "none"
        raise InvalidValue(f"surrogate {name!r} has no parameter(s) {sorted(unknown)}; valid: {valid}")
    merged = {**defaults, **params}
    for key, value in merged.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InvalidValue(f"surrogate {name!r} parameter {key} must be a positive number, got {value!r}")
    return Surrogate(name, tuple((key, float(value)) for key, value in merged.items()))
