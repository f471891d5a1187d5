"""What every spiking neuron model shares: the checks of a current, the one step and the one sequence skeleton.

A model says what it is in a ``Dynamics`` record (its step, its state, its coefficients, its kernel family);
``step`` and ``sequence`` do the rest for all of them:

- ``sequence`` checks the current (a floating-point tensor, time first, at least one step) and the state,
  integrates a half-precision current in float32 (a stride-0 expansion over time stays one: its ``[B, ...]``
  source is converted, never the ``[T, B, ...]`` view materialised) unless the engine reads it itself, picks
  the backend ("auto": ``kernels.select``, the fastest exact one here) and runs it: the reference loop over
  the model's step, or the model's fused kernel family (``kernels.sequence``), tested equal to it;
- the reset and every state update use the previous step's spikes, detached (snnTorch's convention).

A new model is one module (its params, its state as a NamedTuple, its ``Dynamics``, its layer and its
``NeuronKind``) and one line in the registry (``spikevision.neurons.REGISTRY``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from spikevision import kernels
from spikevision.errors import InvalidType, InvalidValue

Tensor = torch.Tensor
HALF = (torch.float16, torch.bfloat16)
BACKENDS = ("auto", "reference", *kernels.ENGINES)
RESETS = ("subtract", "zero", "none")  # after a spike: subtract the threshold, zero the membrane, or nothing


@dataclass(frozen=True)
class Dynamics:
    """One neuron model as ``step`` and ``sequence`` run it.

    Args:
        kind: its name in messages ("LIF").
        state: its state, a NamedTuple of ``[B, ...]`` tensors (in its kernel family's state order).
        coefficients: ``(params, like) -> coefficients``, the params checked against one step's input ``like``
            (tensors broadcastable to it; decays clamped), as ``advance`` takes them.
        rest: ``(like, coefficients) -> state``, the resting state for one step's input.
        fired: ``(state, coefficients) -> spikes``, the 0/1 spikes a state carries into its next step.
        advance: ``(current, state, reset, coefficients, params) -> (spk, state)``, one step, ``reset`` the
            previous step's spikes, detached.
        family: its fused kernel family (a key of ``kernels.FAMILIES``), or None (the reference loop only).
        kernel_arguments: ``(coefficients, params) -> (coefficients, fixed)`` in the family's order.
    """

    kind: str
    state: type
    coefficients: Callable[[Any, Tensor], tuple]
    rest: Callable[[Tensor, tuple], tuple]
    fired: Callable[[Any, tuple], Tensor]
    advance: Callable[..., tuple]
    family: str | None = None
    kernel_arguments: Callable[[tuple, Any], tuple] | None = None


@dataclass(frozen=True)
class Option:
    """A neuron model's own parameter beyond beta and threshold (``cuba``'s alpha, ``resonate``'s omega): its
    default, the rule it keeps and one line of help."""

    default: float
    ok: Callable[[float], bool]
    rule: str
    help: str

    def check(self, name: str, value) -> float:
        """``value`` as a float, or a one-line refusal that says the rule."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not self.ok(value):
            raise InvalidValue(f"{name} must be a number {self.rule}, got {value!r}")
        return float(value)


@dataclass(frozen=True)
class NeuronKind:
    """A neuron model as the registry (``spikevision.neurons``) names it for ``model.neuron`` and
    ``spikevision neuron``.

    Args:
        name: its registry name ("lif").
        summary: one line for help texts.
        dynamics: its ``Dynamics`` (the step ``spikevision neuron`` runs).
        params: ``(beta, threshold, options) -> params`` of one neuron, its options by name.
        layer: ``(beta, threshold, options, *, reset, surrogate, learn_beta, learn_threshold, learn_tau,
            shape) -> nn.Module``, a layer of it.
        options: its own parameters (``Option``), by name.
        traces: state fields drawn beside the membrane by ``spikevision neuron``: ``(field, panel, label)``,
            panel "current" (over the input), "threshold" (over the membrane, as a threshold) or "membrane"
            (over the membrane).
        fixed_beta: the decay it always has (integrate-and-fire: 1), or None.
        drive: ``options -> factor`` on the default input of ``spikevision neuron`` (a synaptic current
            sums its input over about ``1 / (1 - alpha)`` steps).
    """

    name: str
    summary: str
    dynamics: Dynamics
    params: Callable[..., Any]
    layer: Callable[..., Any]
    options: Mapping[str, Option] = field(default_factory=dict)
    traces: tuple[tuple[str, str, str], ...] = ()
    fixed_beta: float | None = None
    drive: Callable[[Mapping[str, float]], float] = lambda options: 1.0

    def checked_options(self, given: Mapping[str, Any]) -> dict[str, float]:
        """Its options, the defaults filled in, each checked; a one-line refusal of a name it does not have."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise InvalidValue(f"neuron {self.name!r} has no option {unknown[0]!r}; its options: {valid}")
        return {name: option.check(name, given.get(name, option.default)) for name, option in self.options.items()}


def check_current(current, name: str, min_dim: int) -> None:
    """A clear refusal of a current that is not a floating-point tensor of at least ``min_dim`` dimensions."""
    if not isinstance(current, Tensor):
        raise InvalidType(f"{name} must be a torch.Tensor, got {type(current).__name__}")
    if not current.is_floating_point():
        raise InvalidType(f"{name} must be floating point, got dtype {current.dtype}; convert it with .float()")
    if current.dim() < min_dim:
        raise InvalidValue(f"{name} must have at least {min_dim} dimension(s) (time first), "
                           f"got shape {tuple(current.shape)}")


def state_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype states are kept in for currents of ``dtype``: float32 for half precision, else the same."""
    return torch.float32 if dtype in HALF else dtype


def zeros_like_step(like: Tensor) -> Tensor:
    """A zero state tensor for one step's input ``like``: its shape and device, in ``state_dtype``."""
    return torch.zeros(like.shape, dtype=state_dtype(like.dtype), device=like.device)


def zero_state(kind: type[Any], like: Tensor) -> Any:
    """A ``kind`` (a NamedTuple of tensors) with every field zero, for one step's input ``like`` (``state_dtype``)."""
    return kind(*(zeros_like_step(like) for _ in kind._fields))


def check_state(state: Any, kind: type[Any], like: Tensor) -> Any:
    """``state`` if it is a ``kind`` (a NamedTuple of tensors) whose every field has one step's shape."""
    if not isinstance(state, kind):
        raise InvalidType(f"state must be a {kind.__name__} or None, got {type(state).__name__}")
    for name, value in zip(state._fields, state):
        if value.shape != like.shape:
            raise InvalidValue(f"state.{name} has shape {tuple(value.shape)} but one step of input has shape "
                               f"{tuple(like.shape)}; pass state=None to start from rest")
    return state


def coefficient(name: str, value, like: Tensor, *, clamp: bool = False):
    """A coefficient as the loops use it: a number as it is, a tensor checked to fit one step's input ``like``
    and, with ``clamp`` (a decay), clamped to [0, 1]."""
    if not isinstance(value, Tensor):
        return value
    if not _broadcasts_to(value.shape, like.shape):
        raise InvalidValue(
            f"{name} of shape {tuple(value.shape)} does not fit neurons of shape {tuple(like.shape[1:])}; "
            f"give one value (shape ()) or one per neuron (shape {tuple(like.shape[1:])})"
        )
    return value.clamp(0, 1) if clamp else value


def _broadcasts_to(shape: torch.Size, target: torch.Size) -> bool:
    try:
        return torch.broadcast_shapes(shape, target) == target
    except RuntimeError:
        return False


def check_coefficient(name: str, value, ok: Callable[[float], bool], rule: str) -> None:
    """A clear refusal of a parameter that is neither a floating-point tensor nor a number that passes ``ok``."""
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise InvalidType(f"{name} must be a floating-point tensor or a number, got dtype {value.dtype}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(f"{name} must be a number or a tensor, got {type(value).__name__}")
    if not ok(value):  # NaN fails every comparison, so it lands here too
        raise InvalidValue(f"{name} must {rule}, got {value}")


def upcast(current: Tensor) -> Tensor:
    """``current`` in float32; a stride-0 expansion over time stays one (its ``[B, ...]`` source is converted)."""
    source = kernels.constant_source(current)
    if source is not None:
        return source.float().unsqueeze(0).expand(current.shape)
    return current.float()


def step(model: Dynamics, current: Tensor, state, params) -> tuple[Tensor, Any]:
    """Advance ``model``'s neurons by one step: ``(spk [B, ...], state)``, spikes in ``current``'s dtype."""
    check_current(current, "current", min_dim=0)
    coefficients = model.coefficients(params, current)
    state = _checked(model, state, current, coefficients)
    return model.advance(current, state, model.fired(state, coefficients), coefficients, params)


def sequence(model: Dynamics, current: Tensor, state, params, *, backend: str = "auto", need_mem: bool = True):
    """``model``'s neurons over a sequence: ``(spk [T, B, ...], mem [T, B, ...] or None, final state)``.

    Args:
        model: the neuron model's ``Dynamics``.
        current: input currents ``[T, B, ...]``; a stride-0 expansion of one current is read as it is.
        state: the state before the first step, or None for rest.
        params: the layer's parameters.
        backend: "auto" (the fastest exact one here), "reference", "numba" or "triton" (CUDA tensors; CPU
            tensors under ``TRITON_INTERPRET=1``).
        need_mem: return the membranes over time (else None in their place; the kernels never write them).
    Returns:
        Spikes in ``current``'s dtype; for a float16/bfloat16 current the states are float32.
    """
    check_current(current, "current", min_dim=1)
    if current.shape[0] == 0:
        raise InvalidValue("current has no time steps (shape[0] == 0); give at least one step")
    if backend not in BACKENDS:
        raise InvalidValue(f"unknown {model.kind} backend {backend!r}; valid: {', '.join(BACKENDS)}")
    coefficients = model.coefficients(params, current[0])
    state = _checked(model, state, current[0], coefficients)
    chosen = _choose(model, current, state, coefficients, params) if backend == "auto" else backend
    reads_half = model.family is not None and chosen in kernels.FAMILIES[model.family].reads_half
    if current.dtype in HALF and not reads_half:
        # The same arithmetic as a kernel's half path: exact upcast, float32 loop, spikes cast back.
        spk, mem, state = sequence(model, upcast(current), state, params, backend=backend, need_mem=need_mem)
        return spk.to(current.dtype), mem, state
    if chosen == "reference":
        return _reference(model, current, state, coefficients, params, need_mem)
    if model.family is None or model.kernel_arguments is None:
        raise InvalidValue(f"{model.kind} neurons have no fused kernel: they run the reference loop; use "
                           "backend='auto' or 'reference'")
    fused, fixed = model.kernel_arguments(coefficients, params)
    spk, mem, *lasts = kernels.sequence(chosen, model.family, current, tuple(state), fused, fixed, params.reset,
                                        params.surrogate, need_mem)
    return spk, mem, model.state(*lasts)


def select(model: Dynamics, current: Tensor, state, params) -> str:
    """The backend "auto" picks for ``current`` as given (``kernels.select``): "numba", "triton" or "reference"
    (a half current an engine does not read itself is then upcast, and chosen for again)."""
    coefficients = model.coefficients(params, current[0])
    return _choose(model, current, _checked(model, state, current[0], coefficients), coefficients, params)


def _checked(model: Dynamics, state, like: Tensor, coefficients):
    return model.rest(like, coefficients) if state is None else check_state(state, model.state, like)


def _choose(model: Dynamics, current: Tensor, state, coefficients, params) -> str:
    if model.family is None or model.kernel_arguments is None:
        return "reference"
    fused, fixed = model.kernel_arguments(coefficients, params)
    return kernels.select(model.family, current, tuple(state), fused, fixed, params.reset, params.surrogate)


def _reference(model: Dynamics, current: Tensor, state, coefficients, params, need_mem: bool):
    """The reference loop: plain torch, one step of the model at a time; every faster backend must equal it."""
    reset = model.fired(state, coefficients)
    spikes, mems = [], []
    for cur in current.unbind(0):  # views, also of an expanded (stride-0) current
        spk, state = model.advance(cur, state, reset, coefficients, params)
        reset = spk.detach()  # == fired(state): the same comparison, already made
        spikes.append(spk)
        mems.append(state.mem)
    return torch.stack(spikes), (torch.stack(mems) if need_mem else None), state
