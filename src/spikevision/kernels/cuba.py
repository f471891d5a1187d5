"""The current-based LIF (``spikevision.cuba``) on the CPU in one fused numba kernel, forward and backward.

Like the LIF engine (``_autograd``): a constant current (direct encoding) is read once and its gradient
summed over time inside the kernel; backward recomputes the states instead of storing ``[T, B, ...]`` of
them; spikes, currents and membranes equal the reference loop bit for bit (``tests/test_cuba.py``).
"""

from __future__ import annotations

import functools

import torch

from spikevision.kernels import cpu
from spikevision.kernels._autograd import (RESET_CODES, _coefficient_grad, _like, coefficient_array,
                                           constant_source, supported, surrogate_constants)

Tensor = torch.Tensor


@functools.cache
def loops():
    from spikevision.kernels import _cuba_loops

    return _cuba_loops


def applies(current: Tensor, params) -> bool:
    """Whether the kernel computes exactly the reference's result for this input and these ``CubaParams``."""
    if current.device.type != "cpu" or not cpu.available():
        return False
    alpha = params.alpha
    if isinstance(alpha, Tensor) and alpha.dim() > 0 and (alpha.dtype != current.dtype or alpha.device != current.device):
        return False
    return supported(current, params.beta, params.threshold, params.reset, params.surrogate)


def cpu_sequence(current: Tensor, syn0: Tensor, mem0: Tensor, alpha, beta, threshold, reset: str, surrogate,
                 need_mem: bool = True):
    """``(spk [T, B, ...], mem [T, B, ...] or None, last syn, last mem)``; coefficients already clamped."""
    source = constant_source(current)
    cur = source if source is not None else current
    return _FusedCuba.apply(cur, syn0, mem0, alpha, beta, threshold, current.shape[0], source is not None,
                            reset, surrogate, need_mem)


class _FusedCuba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cur, syn0, mem0, alpha, beta, threshold, steps, constant, reset, surrogate, need_mem):
        ctx.set_materialize_grads(False)
        size = mem0.numel()
        flat_cur = cur.detach().reshape(1 if constant else steps, size).contiguous()
        flat_syn0 = syn0.detach().reshape(size).contiguous()
        flat_mem0 = mem0.detach().reshape(size).contiguous()
        coefficients = [coefficient_array(value, mem0) for value in (alpha, beta, threshold)]
        shape = (steps, *mem0.shape)
        spk = torch.empty(shape, dtype=cur.dtype)
        mem = torch.empty(shape, dtype=mem0.dtype) if need_mem else None
        syn_last, mem_last = torch.empty_like(flat_mem0), torch.empty_like(flat_mem0)
        cpu.threads()
        loops().forward(flat_cur.numpy(), 0 if constant else 1, flat_syn0.numpy(), flat_mem0.numpy(),
                        *(c.numpy() for c in coefficients), RESET_CODES[reset], cpu.one(mem0),
                        spk.view(steps, size).numpy(), cpu._np(None if mem is None else mem.view(steps, size), spk, 2),
                        mem is not None, syn_last.numpy(), mem_last.numpy())
        ctx.steps, ctx.constant, ctx.reset, ctx.surrogate = steps, constant, reset, surrogate
        ctx.cur_shape, ctx.mem_shape = cur.shape, mem0.shape
        ctx.likes = tuple(_like(v) for v in (alpha, beta, threshold))
        ctx.save_for_backward(flat_cur, flat_syn0, flat_mem0, *coefficients)
        return spk, mem, syn_last.view(mem0.shape), mem_last.view(mem0.shape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spk, g_mem, g_syn, g_last):
        flat_cur, flat_syn0, flat_mem0, *coefficients = ctx.saved_tensors
        steps, size = ctx.steps, flat_mem0.numel()
        code, constants = surrogate_constants(ctx.surrogate)
        wanted = ctx.needs_input_grad[3:6]
        sums = [torch.empty(size if w else 0, dtype=torch.float64) for w in wanted]

        def flat(grad, *shape):
            return cpu._np(None if grad is None else grad.reshape(shape).contiguous(), flat_mem0, len(shape))

        d_cur, d_syn0, d_mem0 = torch.empty_like(flat_cur), torch.empty_like(flat_syn0), torch.empty_like(flat_mem0)
        cpu.threads()
        loops().backward(steps, flat_cur.numpy(), 0 if ctx.constant else 1, flat_syn0.numpy(), flat_mem0.numpy(),
                         *(c.numpy() for c in coefficients), RESET_CODES[ctx.reset],
                         cpu.constants(flat_mem0, constants), code,
                         flat(g_spk, steps, size), g_spk is not None, flat(g_mem, steps, size), g_mem is not None,
                         flat(g_syn, size), g_syn is not None, flat(g_last, size), g_last is not None,
                         d_cur.numpy(), d_syn0.numpy(), d_mem0.numpy(),
                         sums[0].numpy(), wanted[0], sums[1].numpy(), wanted[1], sums[2].numpy(), wanted[2])
        grads = [_coefficient_grad(s, like, ctx.mem_shape) for s, like in zip(sums, ctx.likes)]
        return (d_cur.view(ctx.cur_shape), d_syn0.view(ctx.mem_shape), d_mem0.view(ctx.mem_shape), *grads,
                None, None, None, None, None)
