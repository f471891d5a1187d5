"""The adaptive-threshold LIF (``spikevision.neurons.alif``) in one fused kernel, forward and backward: numba on the
CPU, Triton on CUDA (and on CPU tensors under ``TRITON_INTERPRET=1``, how the tests run it).

It applies where the threshold is a fixed number and the state's threshold carries no gradient: the adaptive
threshold then follows from the detached spikes alone and backward is the LIF's (``_alif_loops``). Anything
else (a learnable threshold) runs the reference loop. Spikes, membranes and thresholds equal the reference
bit for bit (``tests/test_alif.py``). An engine provides, on flat tensors::

    forward(cur, cur_step, mem0, thr0, beta, mode, (threshold, rho, gamma), spk, mem, mem_last, thr_last)
    backward(steps, cur, cur_step, mem0, thr0, beta, mode, (threshold, rho, gamma), code, (a, b),
             g_spk, g_mem, g_last, d_cur, d_mem0, d_beta)
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import torch

from spikevision.errors import InvalidValue
from spikevision.kernels import cpu, gpu
from spikevision.kernels._autograd import (
    RESET_CODES,
    _coefficient_grad,
    _like,
    coefficient_array,
    constant_source,
    spike_grad_rows,
    supported,
    surrogate_constants,
)
from spikevision.kernels._engines import check_runs_here, fastest

Tensor = torch.Tensor


def choose(current: Tensor, state, params) -> str:
    """The fastest backend exact for this input, state and ``ALIFParams``: "numba", "triton" or "reference"."""
    if isinstance(params.threshold, Tensor) or state.thr.requires_grad or state.thr.dtype != current.dtype:
        return "reference"
    if not supported(current, params.beta, params.threshold, params.reset, params.surrogate):
        return "reference"
    return fastest(current)


def applies(current: Tensor, state, params) -> bool:
    """Whether a fused kernel runs this input by default (``choose`` picks one)."""
    return choose(current, state, params) != "reference"


def sequence(engine_name: str, current: Tensor, mem0: Tensor, thr0: Tensor, beta, params, need_mem: bool = True):
    """``(spk [T, B, ...], mem [T, B, ...] or None, last mem, last threshold)`` on "numba" or "triton"."""
    check_runs_here(engine_name, "ALIF", current)
    if choose(current, alif_state(mem0, thr0), params) == "reference":
        raise InvalidValue(f"the {engine_name!r} ALIF backend does not cover this input (a learnable threshold, "
                        f"dtype {current.dtype}); use backend='auto', which falls back to the reference loop")
    source = constant_source(current)
    cur = source if source is not None else current
    return _FusedALIF.apply(ENGINES[engine_name](), cur, mem0, thr0, beta, params, current.shape[0],
                         source is not None, need_mem)


def alif_state(mem: Tensor, thr: Tensor):
    return SimpleNamespace(mem=mem, thr=thr)


@functools.cache
def _numba_engine():
    from spikevision.kernels import _alif_loops as loops

    def forward(cur, cur_step, mem0, thr0, beta, mode, adaptation, spk, mem, mem_last, thr_last):
        consts = np.array([1, *adaptation], dtype=mem0.numpy().dtype)
        size = mem0.shape[0]
        cpu.run(loops.forward, cpu.chunks(size, loops.FORWARD_CHUNK), size, cur.numpy(), cur_step,
                mem0.numpy(), thr0.numpy(), beta.numpy(), mode, consts, spk.numpy(), cpu._np(mem, spk, 2),
                mem is not None, mem_last.numpy(), thr_last.numpy())

    def backward(steps, cur, cur_step, mem0, thr0, beta, mode, adaptation, code, constants,
                 g_spk, g_mem, g_last, d_cur, d_mem0, d_beta):
        consts = np.array([1, *adaptation], dtype=mem0.numpy().dtype)
        size = mem0.shape[0]
        cpu.run(loops.backward, cpu.chunks(size, loops.BACKWARD_CHUNK), size, steps, cur.numpy(),
                cur_step, mem0.numpy(), thr0.numpy(), beta.numpy(), mode, consts, cpu.constants(mem0, constants), code,
                cpu._np(g_spk, mem0, 2), g_spk is not None, cpu._np(g_mem, mem0, 2), g_mem is not None,
                cpu._np(g_last, mem0, 1), g_last is not None, d_cur.numpy(), d_mem0.numpy(), d_beta.numpy(),
                d_beta.numel() > 0)

    return SimpleNamespace(forward=forward, backward=backward)


@functools.cache
def _triton_engine():
    from spikevision.kernels import _triton_alif as kernels

    def forward(cur, cur_step, mem0, thr0, beta, mode, adaptation, spk, mem, mem_last, thr_last):
        steps, size = spk.shape
        consts = torch.tensor([float(c) for c in adaptation], dtype=mem0.dtype, device=mem0.device)
        with gpu._on(mem0.device):
            kernels.forward_kernel[gpu._grid(size)](
                cur, cur_step, mem0, thr0, beta, consts, spk, mem_last if mem is None else mem, mem_last, thr_last,
                steps, size, MODE=mode, STORE_MEM=mem is not None, BLOCK=gpu.BLOCK, enable_fp_fusion=False)

    def backward(steps, cur, cur_step, mem0, thr0, beta, mode, adaptation, code, constants,
                 g_spk, g_mem, g_last, d_cur, d_mem0, d_beta):
        size = mem0.numel()
        every, (mem_marks, thr_marks), (mems, thrs) = gpu.segment_buffers(steps, mem0, 2)
        consts = torch.tensor([float(c) for c in (*adaptation, *constants)], dtype=mem0.dtype, device=mem0.device)
        with gpu._on(mem0.device):
            kernels.backward_kernel[gpu._grid(size)](
                cur, cur_step, mem0, thr0, beta, consts, mem_marks, thr_marks, mems, thrs,
                mems if g_spk is None else g_spk, mems if g_mem is None else g_mem,
                mem0 if g_last is None else g_last, d_cur, d_mem0, d_beta if d_beta.numel() else mems, steps, size,
                every, MODE=mode, CODE=code, HAS_G_SPK=g_spk is not None,
                HAS_G_MEM=g_mem is not None, HAS_G_LAST=g_last is not None, WANT_BETA=d_beta.numel() > 0,
                CONSTANT=cur_step == 0, BLOCK=gpu.BLOCK, SPIKE_GRAD_STEP=gpu.spike_grad_step(g_spk, steps),
                enable_fp_fusion=False)

    return SimpleNamespace(forward=forward, backward=backward)


ENGINES = {"numba": _numba_engine, "triton": _triton_engine}


class _FusedALIF(torch.autograd.Function):
    """ALIF forward in one kernel call; backward, the surrogate gradient through time, in another."""

    @staticmethod
    def forward(ctx, engine, cur, mem0, thr0, beta, params, steps, constant, need_mem):
        ctx.set_materialize_grads(False)
        size, device = mem0.numel(), mem0.device
        flat_cur = cur.detach().reshape(1 if constant else steps, size).contiguous()
        flat_mem0 = mem0.detach().reshape(size).contiguous()
        flat_thr0 = thr0.detach().reshape(size).contiguous()
        beta_arr = coefficient_array(beta, mem0)
        adaptation = (params.threshold, params.adapt_decay, params.adapt_step)
        shape = (steps, *mem0.shape)
        spk = torch.empty(shape, dtype=cur.dtype, device=device)
        mem = torch.empty(shape, dtype=mem0.dtype, device=device) if need_mem else None
        mem_last, thr_last = torch.empty_like(flat_mem0), torch.empty_like(flat_mem0)
        engine.forward(flat_cur, 0 if constant else 1, flat_mem0, flat_thr0, beta_arr, RESET_CODES[params.reset],
                    adaptation, spk.view(steps, size), None if mem is None else mem.view(steps, size),
                    mem_last, thr_last)
        ctx.mark_non_differentiable(thr_last)  # it follows from the detached spikes and fixed numbers
        ctx.engine, ctx.steps, ctx.constant, ctx.params, ctx.adaptation = engine, steps, constant, params, adaptation
        ctx.cur_shape, ctx.mem_shape, ctx.beta_like = cur.shape, mem0.shape, _like(beta)
        ctx.save_for_backward(flat_cur, flat_mem0, flat_thr0, beta_arr)
        return spk, mem, mem_last.view(mem0.shape), thr_last.view(mem0.shape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spk, g_mem, g_last, _g_thr):
        flat_cur, flat_mem0, flat_thr0, beta_arr = ctx.saved_tensors
        steps, size = ctx.steps, flat_mem0.numel()
        code, constants = surrogate_constants(ctx.params.surrogate)
        d_beta = torch.empty(size if ctx.needs_input_grad[4] else 0, dtype=torch.float64, device=flat_mem0.device)

        def flat(grad, *shape):
            return None if grad is None else grad.reshape(shape).contiguous()

        d_cur, d_mem0 = torch.empty_like(flat_cur), torch.empty_like(flat_mem0)
        ctx.engine.backward(steps, flat_cur, 0 if ctx.constant else 1, flat_mem0, flat_thr0, beta_arr,
                         RESET_CODES[ctx.params.reset], ctx.adaptation, code, constants,
                         spike_grad_rows(g_spk, steps, size), flat(g_mem, steps, size), flat(g_last, size), d_cur,
                         d_mem0, d_beta)
        return (None, d_cur.view(ctx.cur_shape), d_mem0.view(ctx.mem_shape), None,
                _coefficient_grad(d_beta, ctx.beta_like, ctx.mem_shape), None, None, None, None)
