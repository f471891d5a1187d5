"""The adaptive-threshold LIF (``spikevision.alif``) on the CPU in one fused numba kernel, forward and backward.

It applies where the threshold is a fixed number and the state's threshold carries no gradient: the adaptive
threshold then follows from the detached spikes alone and backward is the LIF's (``_alif_loops``). Anything
else (a learnable threshold) runs the reference loop. Spikes, membranes and thresholds equal the reference
bit for bit (``tests/test_alif.py``).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from spikevision.kernels import cpu
from spikevision.kernels._autograd import (RESET_CODES, _coefficient_grad, _like, coefficient_array,
                                           constant_source, supported, surrogate_constants)

Tensor = torch.Tensor


@functools.cache
def loops():
    from spikevision.kernels import _alif_loops

    return _alif_loops


def applies(current: Tensor, state, params) -> bool:
    """Whether the kernel computes exactly the reference's result for this input, state and ``ALIFParams``."""
    if current.device.type != "cpu" or not cpu.available() or isinstance(params.threshold, Tensor):
        return False
    if state.thr.requires_grad or state.thr.dtype != current.dtype:
        return False
    return supported(current, params.beta, params.threshold, params.reset, params.surrogate)


def cpu_sequence(current: Tensor, mem0: Tensor, thr0: Tensor, beta, params, need_mem: bool = True):
    """``(spk [T, B, ...], mem [T, B, ...] or None, last mem, last threshold)``; ``beta`` already clamped."""
    source = constant_source(current)
    cur = source if source is not None else current
    return _FusedALIF.apply(cur, mem0, thr0, beta, params, current.shape[0], source is not None, need_mem)


class _FusedALIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cur, mem0, thr0, beta, params, steps, constant, need_mem):
        ctx.set_materialize_grads(False)
        size = mem0.numel()
        flat_cur = cur.detach().reshape(1 if constant else steps, size).contiguous()
        flat_mem0 = mem0.detach().reshape(size).contiguous()
        flat_thr0 = thr0.detach().reshape(size).contiguous()
        beta_arr = coefficient_array(beta, mem0)
        consts = np.array([1, params.threshold, params.adapt_decay, params.adapt_step], dtype=flat_mem0.numpy().dtype)
        shape = (steps, *mem0.shape)
        spk = torch.empty(shape, dtype=cur.dtype)
        mem = torch.empty(shape, dtype=mem0.dtype) if need_mem else None
        mem_last, thr_last = torch.empty_like(flat_mem0), torch.empty_like(flat_mem0)
        cpu.threads()
        loops().forward(flat_cur.numpy(), 0 if constant else 1, flat_mem0.numpy(), flat_thr0.numpy(), beta_arr.numpy(),
                        RESET_CODES[params.reset], consts, spk.view(steps, size).numpy(),
                        cpu._np(None if mem is None else mem.view(steps, size), spk, 2), mem is not None,
                        mem_last.numpy(), thr_last.numpy())
        ctx.mark_non_differentiable(thr_last)  # it follows from the detached spikes and fixed numbers
        ctx.steps, ctx.constant, ctx.params, ctx.consts = steps, constant, params, consts
        ctx.cur_shape, ctx.mem_shape, ctx.beta_like = cur.shape, mem0.shape, _like(beta)
        ctx.save_for_backward(flat_cur, flat_mem0, flat_thr0, beta_arr)
        return spk, mem, mem_last.view(mem0.shape), thr_last.view(mem0.shape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spk, g_mem, g_last, _g_thr):
        flat_cur, flat_mem0, flat_thr0, beta_arr = ctx.saved_tensors
        steps, size = ctx.steps, flat_mem0.numel()
        code, constants = surrogate_constants(ctx.params.surrogate)
        want_beta = ctx.needs_input_grad[3]
        d_beta = torch.empty(size if want_beta else 0, dtype=torch.float64)

        def flat(grad, *shape):
            return cpu._np(None if grad is None else grad.reshape(shape).contiguous(), flat_mem0, len(shape))

        d_cur, d_mem0 = torch.empty_like(flat_cur), torch.empty_like(flat_mem0)
        cpu.threads()
        loops().backward(steps, flat_cur.numpy(), 0 if ctx.constant else 1, flat_mem0.numpy(), flat_thr0.numpy(),
                         beta_arr.numpy(), RESET_CODES[ctx.params.reset], ctx.consts,
                         cpu.constants(flat_mem0, constants), code, flat(g_spk, steps, size), g_spk is not None,
                         flat(g_mem, steps, size), g_mem is not None, flat(g_last, size), g_last is not None,
                         d_cur.numpy(), d_mem0.numpy(), d_beta.numpy(), want_beta)
        return (d_cur.view(ctx.cur_shape), d_mem0.view(ctx.mem_shape), None,
                _coefficient_grad(d_beta, ctx.beta_like, ctx.mem_shape), None, None, None, None)
