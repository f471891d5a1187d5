"""The one autograd node of every fused kernel family, over either engine (numba on the CPU, Triton on CUDA).

``run(engine, family, current, states, coefficients, fixed, reset, surrogate, need_mem)`` runs a family's
recurrence (``families.Family``) forward in one kernel call and its surrogate gradient through time in
another. An engine (``numba.runtime``, ``triton.runtime``) provides two calls on flat tensors::

    engine.forward(family, cur, cur_step, states0, coefficients, fixed, mode, spk, mem, lasts)
    engine.backward(family, steps, cur, cur_step, states0, coefficients, fixed, mode, code, (a, b),
                    g_spk, g_mem, g_lasts, d_cur, d_states0, d_coefficients)

``mem``, ``g_spk``, ``g_mem`` and each of ``g_lasts`` may be None (not wanted, or no gradient arrived); a
coefficient's gradient array is empty where it is not wanted. ``g_lasts`` and ``d_states0`` cover the
family's ``trained`` states only. ``g_spk`` is ``[T, M]``, or ``[1, M]`` when it is the same at every step
(``spike_grad_rows``), read at every step.

Only the inputs are kept for backward (the current, the initial states, the coefficients); the backward pass
recomputes the states, so a long sequence stores no ``[T, B, ...]`` state. A constant current (direct
encoding: a stride-0 expansion over time of one ``[B, ...]`` tensor) is read once, and its gradient summed
over time inside the kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from spikevision.kernels.families import Family

Tensor = torch.Tensor

RESET_CODES = {"subtract": 0, "zero": 1, "none": 2}
# The surrogates the engines compute, by name: their code and the name of their one parameter.
SURROGATE_CODES = {"atan": (0, "alpha"), "fast_sigmoid": (1, "slope"), "sigmoid": (2, "slope"),
                   "triangular": (3, "width"), "straight_through": (4, None)}


def constant_source(current: Tensor) -> Tensor | None:
    """The ``[B, ...]`` tensor whose stride-0 expansion over time is ``current``, or None.

    Direct encoding feeds ``x.unsqueeze(0).expand(T, ...)``: reading ``x`` once and summing its
    gradient over time inside the kernel saves materialising ``[T, B, ...]`` in both passes.
    """
    if current.shape[0] < 2 or current.stride(0) != 0:
        return None
    base = current._base  # the expanded tensor itself: gradients reach it without a [T, B, ...] expand node
    if (base is not None and base.shape == current.shape[1:] and base.stride() == current.stride()[1:]
            and base.storage_offset() == current.storage_offset()):
        return base
    return None


def spike_grad_rows(grad: Tensor | None, steps: int, size: int) -> Tensor | None:
    """The spikes' gradient ``[T, ...]`` as the engines read it: ``[T, M]``, or ``[1, M]`` when it is the same
    at every step (a stride-0 time axis, as ``spk.sum().backward()`` or a loss on spike counts hands back),
    which is then read at every step rather than copied into T rows: one ``[T, M]`` tensor less at the
    backward's peak."""
    if grad is None:
        return None
    if steps > 1 and grad.stride(0) == 0:
        return grad[0].reshape(1, size).contiguous()
    return grad.reshape(steps, size).contiguous()


def surrogate_constants(surrogate) -> tuple[int, tuple[float, float]]:
    """The engines' code for ``surrogate`` and its two constants ``(a, b)`` (see ``numba/common.py``)."""
    code, name = SURROGATE_CODES[surrogate.name]
    p = dict(surrogate.params)[name] if name else 1.0
    constants = {0: (math.pi / 2 * p, p / 2), 1: (p, 0.0), 2: (p, 0.0), 3: (1 / p, 0.0), 4: (0.0, 0.0)}
    return code, constants[code]


HALF = (torch.float16, torch.bfloat16)


def supported(family: Family, engine: str, current: Tensor, states, coefficients, fixed, reset: str,
              surrogate) -> bool:
    """Whether ``engine`` computes exactly what the reference does for these inputs of ``family`` (see
    ``refusal``)."""
    return refusal(family, engine, current, states, coefficients, fixed, reset, surrogate) is None


def refusal(family: Family, engine: str, current: Tensor, states, coefficients, fixed, reset: str,
            surrogate) -> str | None:
    """Why ``engine`` would not compute exactly what the reference does for these inputs, or None where it does.

    The current is float32/float64 (or float16/bfloat16 for an engine in ``family.reads_half``, integrated in
    float32); every state has the states' dtype (float32 for a half current) and the current's device, and only
    the family's ``trained`` states may carry gradients; a coefficient with dimensions has the states' dtype and
    device (another would change the reference's result dtype); the fixed constants are numbers.
    """
    dtypes = (torch.float32, torch.float64) + (HALF if engine in family.reads_half else ())
    if current.dtype not in dtypes:
        return f"a current of dtype {current.dtype}"
    if reset not in RESET_CODES or surrogate.name not in SURROGATE_CODES:
        return f"reset {reset!r} with surrogate {surrogate.name!r}"
    state_dtype = torch.float32 if current.dtype in HALF else current.dtype
    for name, state in zip(family.states, states):
        if state.dtype != state_dtype or state.device != current.device:
            return f"a state {name} of dtype {state.dtype} on {state.device.type}"
        if name not in family.trained and state.requires_grad:
            return f"a state {name} that carries a gradient"
    for name, value in zip(family.coefficients, coefficients):
        if isinstance(value, Tensor) and value.dim() > 0 and (value.dtype != state_dtype
                                                              or value.device != current.device):
            return f"a coefficient {name} of dtype {value.dtype} on {value.device.type}"
    learned = [name for name, value in zip(family.fixed, fixed) if isinstance(value, Tensor)]
    return f"a learnable {learned[0]} (a tensor)" if learned else None


def run(engine, family: Family, current: Tensor, states, coefficients, fixed, reset: str, surrogate,
        need_mem: bool) -> tuple:
    """``family``'s recurrence through ``engine``: ``(spk [T, B, ...], mem [T, B, ...] or None, *last states)``.

    Args:
        engine: a module with ``forward`` and ``backward`` as in the module docstring.
        family: the ``Family`` run.
        current: ``[T, B, ...]``; a stride-0 expansion of one ``[B, ...]`` current is read once.
        states: the initial states ``[B, ...]``, in ``family.states`` order.
        coefficients: numbers, or tensors broadcastable to ``[B, ...]`` (decays already clamped), in
            ``family.coefficients`` order.
        fixed: the numbers of ``family.fixed``.
        reset, surrogate: a reset's name and a ``surrogate.Surrogate``.
        need_mem: also return the membranes over time (otherwise they are never written).

    A float16/bfloat16 current (engines in ``family.reads_half``) comes with float32 states: the states are
    float32, the spikes and the current's gradient half.
    """
    source = constant_source(current)
    cur = source if source is not None else current
    call = _Call(family, engine, current.shape[0], source is not None, reset, surrogate, tuple(fixed), need_mem)
    return _Fused.apply(call, cur, *states, *coefficients)


def coefficient_array(value, like: Tensor) -> Tensor:
    """A coefficient (number or tensor broadcastable to ``like``) as a flat ``[M]`` array of ``like``'s dtype."""
    if not isinstance(value, Tensor):
        return torch.full((like.numel(),), value, dtype=like.dtype, device=like.device)
    value = value.detach().to(device=like.device, dtype=like.dtype)
    return torch.broadcast_to(value, like.shape).reshape(-1).contiguous()


def coefficient_like(value):
    return (value.shape, value.dtype) if isinstance(value, Tensor) else None


@dataclass(frozen=True)
class _Call:
    """What a call of ``_Fused`` runs, besides its tensors."""

    family: Family
    engine: Any
    steps: int
    constant: bool
    reset: str
    surrogate: Any
    fixed: tuple
    need_mem: bool


class _Fused(torch.autograd.Function):
    """A family's forward in one kernel call; backward, the surrogate gradient through time, in another."""

    @staticmethod
    def forward(ctx, call: _Call, cur, *inputs):
        ctx.set_materialize_grads(False)
        count = len(call.family.states)
        states, coefficients = inputs[:count], inputs[count:]
        like, steps = states[0], call.steps
        size = like.numel()
        flat_cur = cur.detach().reshape(1 if call.constant else steps, size).contiguous()
        flat_states = [state.detach().reshape(size).contiguous() for state in states]
        arrays = [coefficient_array(value, like) for value in coefficients]
        shape = (steps, *like.shape)
        spk = torch.empty(shape, dtype=cur.dtype, device=like.device)  # a half current's spikes are half too
        mem = torch.empty(shape, dtype=like.dtype, device=like.device) if call.need_mem else None
        lasts = [torch.empty_like(state) for state in flat_states]
        call.engine.forward(call.family, flat_cur, 0 if call.constant else 1, flat_states, arrays, call.fixed,
                            RESET_CODES[call.reset], spk.view(steps, size),
                            None if mem is None else mem.view(steps, size), lasts)
        lasts = [last.view(like.shape) for last in lasts]
        ctx.mark_non_differentiable(*(last for name, last in zip(call.family.states, lasts)
                                      if name not in call.family.trained))
        ctx.call, ctx.cur_shape, ctx.state_shape = call, cur.shape, like.shape
        ctx.likes = tuple(coefficient_like(value) for value in coefficients)
        ctx.save_for_backward(flat_cur, *flat_states, *arrays)
        return (spk, mem, *lasts)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spk, g_mem, *g_lasts):
        call, family = ctx.call, ctx.call.family
        flat_cur, *saved = ctx.saved_tensors
        count = len(family.states)
        states, arrays = saved[:count], saved[count:]
        steps, size, device = call.steps, states[0].numel(), states[0].device
        code, constants = surrogate_constants(call.surrogate)
        trained = [i for i, name in enumerate(family.states) if name in family.trained]
        wanted = ctx.needs_input_grad[2 + count:]
        sums = [torch.empty(size if want else 0, dtype=torch.float64, device=device) for want in wanted]
        d_cur = torch.empty_like(flat_cur)
        d_states = [torch.empty_like(states[i]) for i in trained]
        g_trained = [None if g_lasts[i] is None else g_lasts[i].reshape(size).contiguous() for i in trained]
        call.engine.backward(family, steps, flat_cur, 0 if call.constant else 1, states, arrays, call.fixed,
                             RESET_CODES[call.reset], code, constants, spike_grad_rows(g_spk, steps, size),
                             None if g_mem is None else g_mem.reshape(steps, size).contiguous(), g_trained,
                             d_cur, d_states, sums)
        state_grads = [None] * count
        for i, grad in zip(trained, d_states):
            state_grads[i] = grad.view(ctx.state_shape)
        coefficient_grads = [coefficient_grad(s, like, ctx.state_shape) for s, like in zip(sums, ctx.likes)]
        return (None, d_cur.view(ctx.cur_shape), *state_grads, *coefficient_grads)


def coefficient_grad(grad: Tensor, like, state_shape) -> Tensor | None:
    """A per-element coefficient gradient ``[M]`` summed to the coefficient's shape and dtype."""
    if like is None or grad.numel() == 0:
        return None
    shape, dtype = like
    return grad.view(state_shape).sum_to_size(shape).to(dtype)
