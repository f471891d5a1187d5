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
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from spikevision import kernels
from spikevision.errors import InvalidType, InvalidValue
from spikevision.neurons import surrogate as surrogates
from spikevision.neurons.base import HALF, check_current, run_sequence

Tensor = torch.Tensor
Number = float | int

RESETS = ("subtract", "zero", "none")
# Half-precision currents (autocast on a GPU) are integrated in float32: the membranes stay float32 and only
# the spikes, exact 0/1 in any dtype, come back in the input's dtype.
LEARN_MODES = ("none", "layer", "neuron")


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
        _check_coefficient("beta", self.beta, lambda v: 0 <= v <= 1, "lie in [0, 1]")
        _check_coefficient("threshold", self.threshold, lambda v: 0 < v < math.inf, "be a positive number")
        if self.reset not in RESETS:
            raise InvalidValue(f"unknown reset {self.reset!r}; valid: {', '.join(RESETS)}")
        object.__setattr__(self, "surrogate", surrogates.get(self.surrogate))


class LIFState(NamedTuple):
    """State of a layer of LIF neurons: the membrane potential ``mem`` ``[B, ...]``."""

    mem: Tensor


def initial_state(like: Tensor) -> LIFState:
    """The resting state (zero membrane) for one step's input ``like`` ``[B, ...]``: same shape, dtype, device
    (float32 for a half-precision input)."""
    return LIFState(torch.zeros(like.shape, dtype=state_dtype(like.dtype), device=like.device))


def state_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype membranes are kept in for currents of ``dtype``: float32 for half precision, else the same."""
    return torch.float32 if dtype in HALF else dtype


def lif_step(current: Tensor, state: LIFState | None, params: LIFParams) -> tuple[Tensor, LIFState]:
    """Advance LIF neurons by one time step.

    Args:
        current: input current ``I_t`` ``[B, ...]``, floating point.
        state: the state after the previous step, or None for rest (zero membrane).
        params: the layer's ``LIFParams``.
    Returns:
        ``(spk [B, ...], LIFState(mem [B, ...]))``: spikes ``S_t`` in ``current``'s dtype and the new state.
    """
    check_current(current, "current", min_dim=0)
    state = _check_state(state, current)
    beta, threshold = _coefficients(params, current)
    reset = _fired(state.mem, threshold)
    spk, mem = _advance(current, state.mem, reset, beta, threshold, params)
    return spk, LIFState(mem)


def lif_sequence(
    current: Tensor, state: LIFState | None, params: LIFParams, *, backend: str = "auto", need_mem: bool = True
) -> tuple[Tensor, Tensor | None, LIFState]:
    """Run LIF neurons over a whole sequence: LIF's time loop, behind the shared dispatch (``base.run_sequence``).

    Args:
        current: input currents ``[T, B, ...]``; may be a stride-0 expanded view of a constant current
            (direct encoding), which is read as it is, never copied.
        state: the state before the first step, or None for rest (zero membrane).
        params: the layer's ``LIFParams``.
        backend: "auto" (the fastest implementation available for this input) or a key of ``BACKENDS``.
        need_mem: return the membranes over time; with False, ``mem`` is None and the fast kernels
            never write them (hidden layers whose membranes nobody reads).
    Returns:
        ``(spk [T, B, ...], mem [T, B, ...] or None, final LIFState)``, spikes in ``current``'s dtype; for a
        float16/bfloat16 current the membranes are float32 (see ``HALF``).
    """

    def choose(current: Tensor, state: LIFState) -> str:
        return kernels.choose(current, params.beta, params.threshold, params.reset, params.surrogate)

    def reads_half(name: str) -> bool:  # the Triton kernel reads half currents itself; the others get float32
        return (choose(current, None) if name == "auto" else name) == "triton"

    return run_sequence("LIF", current, state, params, backend=backend, need_mem=need_mem, backends=BACKENDS,
                        check_state=_check_state, choose=choose, reads_half=reads_half)


def _reference_sequence(
    current: Tensor, state: LIFState, params: LIFParams, need_mem: bool = True
) -> tuple[Tensor, Tensor | None, LIFState]:
    """The reference loop: plain torch, one step at a time; every faster backend must equal it."""
    beta, threshold = _coefficients(params, current[0])
    mem = state.mem
    reset = _fired(mem, threshold)
    spikes, mems = [], []
    for cur in current.unbind(0):  # views, also of an expanded (stride-0) current
        spk, mem = _advance(cur, mem, reset, beta, threshold, params)
        reset = spk.detach()  # == _fired(mem, threshold): the same comparison, already made
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), (torch.stack(mems) if need_mem else None), LIFState(mem)


def _kernel(run: Callable) -> Callable:
    """A ``spikevision.kernels`` engine as a backend: the coefficients checked and clamped as for the reference."""

    def sequence(current: Tensor, state: LIFState, params: LIFParams, need_mem: bool = True):
        beta, threshold = _coefficients(params, current[0])
        spk, mem, last = run(current, state.mem, beta, threshold, params.reset, params.surrogate, need_mem)
        return spk, mem, LIFState(last)

    return sequence


# Implementations of lif_sequence, all with the signature of _reference_sequence, each tested equal to
# it (tests/test_kernels.py): the fused CPU kernel (numba) and the GPU kernel (Triton).
BACKENDS: dict[str, Callable[..., tuple[Tensor, Tensor | None, LIFState]]] = {
    "reference": _reference_sequence,
    "numba": _kernel(kernels.cpu_sequence),
    "triton": _kernel(kernels.gpu_sequence),
}


def _advance(
    current: Tensor, mem: Tensor, reset: Tensor, beta, threshold, params: LIFParams
) -> tuple[Tensor, Tensor]:
    """One step of the dynamics in the module docstring, written op for op as snnTorch's Leaky."""
    if params.reset == "subtract":
        mem = beta * mem + current - reset * threshold
    elif params.reset == "zero":
        mem = beta * ((1 - reset) * mem) + current
    else:
        mem = beta * mem + current
    return params.surrogate(mem - threshold), mem


def _fired(mem: Tensor, threshold) -> Tensor:
    """``H(mem - threshold)`` as a detached 0/1 tensor: whether the previous step spiked."""
    return (mem - threshold > 0).to(mem.dtype)


def _coefficients(params, like: Tensor):
    """``beta`` (clamped to [0, 1] if a tensor) and ``threshold`` of any neuron's params, checked against one
    step's input."""
    return coefficient("beta", params.beta, like, clamp=True), coefficient("threshold", params.threshold, like)


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


def _check_coefficient(name: str, value, ok: Callable[[float], bool], rule: str) -> None:
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise InvalidType(f"{name} must be a floating-point tensor or a number, got dtype {value.dtype}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(f"{name} must be a number or a tensor, got {type(value).__name__}")
    if not ok(value):  # NaN fails every comparison, so it lands here too
        raise InvalidValue(f"{name} must {rule}, got {value}")


def _check_state(state: LIFState | None, like: Tensor) -> LIFState:
    return initial_state(like) if state is None else check_state(state, LIFState, like)


def check_state(state, kind: type, like: Tensor):
    """``state`` if it is a ``kind`` (a NamedTuple of tensors) whose every field has one step's shape."""
    if not isinstance(state, kind):
        raise InvalidType(f"state must be a {kind.__name__} or None, got {type(state).__name__}")
    for name, value in zip(state._fields, state):
        if value.shape != like.shape:
            raise InvalidValue(f"state.{name} has shape {tuple(value.shape)} but one step of input has shape "
                               f"{tuple(like.shape)}; pass state=None to start from rest")
    return state


class LIF(nn.Module):
    """A layer of LIF neurons: holds beta and threshold (fixed or learnable), never the state.

    Args:
        beta: initial membrane decay per step, in [0, 1].
        threshold: initial firing threshold, > 0.
        reset: "subtract", "zero" or "none".
        surrogate: a name from ``surrogate.NAMES`` or a ``surrogate.Surrogate``.
        learn_beta: "none" (a fixed number), "layer" (one learnable value) or "neuron" (one per neuron).
        learn_threshold: the same choices for the threshold.
        learn_tau: the same choices for a learnable time constant kept in range by construction (PLIF, Fang
            et al. 2021): the parameter ``beta_logit`` is learned and ``beta = sigmoid(beta_logit)`` always lies
            in [0, 1], so no step of the optimiser can leave the valid range (``learn_beta`` clamps instead,
            which stops the gradient at the ends). ``beta`` must then lie in (0, 1).
        shape: the neurons' shape without batch, e.g. ``(512,)`` or ``(12, 12, 12)``; needed for "neuron".
    """

    # The fused kernels that run this layer where they apply (a key of ``kernels.cache.FAMILIES``); None where
    # only the reference loop does. A subclass names its own.
    kernel_family: str | None = "lif"

    def __init__(
        self,
        beta: float = 0.95,
        threshold: float = 1.0,
        *,
        reset: str = "subtract",
        surrogate: str | surrogates.Surrogate = surrogates.DEFAULT,
        learn_beta: str = "none",
        learn_threshold: str = "none",
        learn_tau: str = "none",
        shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        LIFParams(beta, threshold, reset, surrogate)  # validates the numbers and names
        self.reset = reset
        self.surrogate = surrogates.get(surrogate)
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
        self.threshold = self._coefficient("threshold", threshold, learn_threshold)

    def __getattr__(self, name: str):
        # With learn_tau, ``beta`` is the sigmoid of the learned logit, computed when read (gradients flow).
        if name == "beta" and "beta_logit" in self._parameters:
            return torch.sigmoid(self._parameters["beta_logit"])
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
            raise InvalidValue(f"learn_{name}='neuron' needs the neurons' shape: pass shape=(...) to LIF")
        return nn.Parameter(torch.full(self.shape, float(value)))

    @property
    def params(self) -> LIFParams:
        """The current ``LIFParams`` (learnable tensors included, so gradients reach them)."""
        return LIFParams(self.beta, self.threshold, self.reset, self.surrogate)

    def forward(self, current: Tensor, state: LIFState | None = None, *, backend: str = "auto",
                need_mem: bool = True):
        """``lif_sequence`` over ``current`` ``[T, B, ...]`` -> ``(spk [T, B, ...], mem [T, B, ...], LIFState)``."""
        return lif_sequence(current, state, self.params, backend=backend, need_mem=need_mem)

    def step(self, current: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        """``lif_step`` on one step ``current`` ``[B, ...]`` -> ``(spk [B, ...], LIFState)``."""
        return lif_step(current, state, self.params)

    def extra_repr(self) -> str:
        def show(value):
            return f"{value:g}" if isinstance(value, float) else f"learnable{tuple(value.shape)}"

        beta = f"sigmoid({show(self.beta_logit)})" if "beta_logit" in self._parameters else show(self.beta)
        return (f"beta={beta}, threshold={show(self.threshold)}, reset={self.reset!r}, "
                f"surrogate={self.surrogate.name!r}")
