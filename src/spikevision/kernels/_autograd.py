"""The fused LIF recurrence as one autograd node, shared by the CPU (numba) and GPU (Triton) engines.

An engine provides two calls on flat tensors (see ``_numba_loops`` for the argument meanings)::

    engine.forward(cur, cur_step, mem0, beta, thr, mode, spk, mem, last)
    engine.backward(steps, cur, cur_step, mem0, beta, thr, mode, code, (a, b),
                    g_spk, g_mem, g_last, d_cur, d_mem0, d_beta, d_thr)

``mem``, ``g_spk``, ``g_mem`` and ``g_last`` may be None (not wanted, or no gradient arrived);
``d_beta``/``d_thr`` are empty when those gradients are not wanted. ``g_spk`` is ``[T, M]``, or ``[1, M]``
when it is the same at every step (``spike_grad_rows``), read at every step.

Only the inputs are kept for backward (the current, the initial membrane, beta and the threshold);
the backward pass recomputes the membranes, so a long sequence stores no ``[T, B, ...]`` state.
"""

from __future__ import annotations

import math

import torch

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
    """The engines' code for ``surrogate`` and its two constants ``(a, b)`` (see ``_numba_loops``)."""
    code, name = SURROGATE_CODES[surrogate.name]
    p = dict(surrogate.params)[name] if name else 1.0
    constants = {0: (math.pi / 2 * p, p / 2), 1: (p, 0.0), 2: (p, 0.0), 3: (1 / p, 0.0), 4: (0.0, 0.0)}
    return code, constants[code]


HALF = (torch.float16, torch.bfloat16)


def supported(current: Tensor, beta, threshold, reset: str, surrogate, *, half: bool = False) -> bool:
    """Whether the fused kernels compute exactly what the reference does for these inputs.

    ``half``: the engine reads float16/bfloat16 currents itself (Triton), integrating them in float32.
    """
    dtypes = (torch.float32, torch.float64) + (HALF if half else ())
    if current.dtype not in dtypes or reset not in RESET_CODES:
        return False
    if surrogate.name not in SURROGATE_CODES:
        return False
    state = torch.float32 if current.dtype in HALF else current.dtype
    for value in (beta, threshold):
        # A coefficient with dimensions of another dtype would change the reference's result dtype.
        if isinstance(value, Tensor) and value.dim() > 0 and (value.dtype != state
                                                              or value.device != current.device):
            return False
    return True


def run(engine, current: Tensor, mem0: Tensor, beta, threshold, reset: str, surrogate,
        need_mem: bool) -> tuple[Tensor, Tensor | None, Tensor]:
    """The LIF sequence through ``engine``: ``(spk [T, B, ...], mem [T, B, ...] or None, last mem [B, ...])``.

    Args:
        engine: a module with ``forward`` and ``backward`` as in the module docstring.
        current: ``[T, B, ...]``; a stride-0 expansion of one ``[B, ...]`` current is read once.
        mem0: the initial membrane ``[B, ...]``.
        beta, threshold: numbers, or tensors broadcastable to ``[B, ...]`` (beta already clamped).
        reset, surrogate: as in ``lif.LIFParams``.
        need_mem: also return the membranes over time (otherwise they are never written).

    A float16/bfloat16 current (engines that read it: Triton) comes with a float32 ``mem0``: the membranes
    are float32, the spikes and the current's gradient half.
    """
    source = constant_source(current)
    cur = source if source is not None else current
    return _Fused.apply(engine, cur, mem0, beta, threshold, current.shape[0], source is not None,
                        reset, surrogate, need_mem)


def coefficient_array(value, like: Tensor) -> Tensor:
    """A coefficient (number or tensor broadcastable to ``like``) as a flat ``[M]`` array of ``like``'s dtype."""
    if not isinstance(value, Tensor):
        return torch.full((like.numel(),), value, dtype=like.dtype, device=like.device)
    value = value.detach().to(device=like.device, dtype=like.dtype)
    return torch.broadcast_to(value, like.shape).reshape(-1).contiguous()


def _like(value):
    return (value.shape, value.dtype) if isinstance(value, Tensor) else None


class _Fused(torch.autograd.Function):
    """LIF forward in one kernel call; backward, the surrogate gradient through time, in another."""

    @staticmethod
    def forward(ctx, engine, cur, mem0, beta, threshold, steps, constant, reset, surrogate, need_mem):
        ctx.set_materialize_grads(False)
        size = mem0.numel()
        flat_cur = cur.detach().reshape(1 if constant else steps, size).contiguous()
        flat_mem0 = mem0.detach().reshape(size).contiguous()
        beta_arr = coefficient_array(beta, mem0)
        thr_arr = coefficient_array(threshold, mem0)
        shape = (steps, *mem0.shape)
        spk = torch.empty(shape, dtype=cur.dtype, device=mem0.device)  # a half current's spikes are half too
        mem = torch.empty(shape, dtype=mem0.dtype, device=mem0.device) if need_mem else None
        last = torch.empty_like(flat_mem0)
        engine.forward(flat_cur, 0 if constant else 1, flat_mem0, beta_arr, thr_arr, RESET_CODES[reset],
                       spk.view(steps, size), None if mem is None else mem.view(steps, size), last)
        ctx.engine, ctx.steps, ctx.constant, ctx.reset, ctx.surrogate = engine, steps, constant, reset, surrogate
        ctx.cur_shape, ctx.mem_shape = cur.shape, mem0.shape
        ctx.beta_like, ctx.thr_like = _like(beta), _like(threshold)
        ctx.save_for_backward(flat_cur, flat_mem0, beta_arr, thr_arr)
        return spk, mem, last.view(mem0.shape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spk, g_mem, g_last):
        flat_cur, flat_mem0, beta_arr, thr_arr = ctx.saved_tensors
        steps, size = ctx.steps, flat_mem0.numel()
        code, constants = surrogate_constants(ctx.surrogate)

        def flat(grad, *shape):
            return None if grad is None else grad.reshape(shape).contiguous()

        def per_element(wanted):
            return torch.empty(size if wanted else 0, dtype=torch.float64, device=flat_mem0.device)

        d_cur = torch.empty_like(flat_cur)
        d_mem0 = torch.empty_like(flat_mem0)
        d_beta, d_thr = per_element(ctx.needs_input_grad[3]), per_element(ctx.needs_input_grad[4])
        ctx.engine.backward(steps, flat_cur, 0 if ctx.constant else 1, flat_mem0, beta_arr, thr_arr,
                            RESET_CODES[ctx.reset], code, constants, spike_grad_rows(g_spk, steps, size),
                            flat(g_mem, steps, size), flat(g_last, size), d_cur, d_mem0, d_beta, d_thr)
        return (None, d_cur.view(ctx.cur_shape), d_mem0.view(ctx.mem_shape),
                _coefficient_grad(d_beta, ctx.beta_like, ctx.mem_shape),
                _coefficient_grad(d_thr, ctx.thr_like, ctx.mem_shape), None, None, None, None, None)


def _coefficient_grad(grad: Tensor, like, mem_shape) -> Tensor | None:
    """A per-element coefficient gradient ``[M]`` summed to the coefficient's shape and dtype."""
    if like is None or grad.numel() == 0:
        return None
    shape, dtype = like
    return grad.view(mem_shape).sum_to_size(shape).to(dtype)
