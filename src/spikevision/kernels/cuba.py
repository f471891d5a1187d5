"""The current-based LIF (``spikevision.neurons.cuba``) in one fused kernel, forward and backward: numba on the CPU,
Triton on CUDA (and on CPU tensors under ``TRITON_INTERPRET=1``, how the tests run it).

Like the LIF engine (``_autograd``): a constant current (direct encoding) is read once and its gradient
summed over time inside the kernel; backward recomputes the states instead of storing ``[T, B, ...]`` of
them; spikes, currents and membranes equal the reference loop bit for bit (``tests/test_cuba.py``).
An engine provides, on flat tensors (``[T, M]`` or ``[M]``; see ``_cuba_loops`` for the meanings)::

    forward(cur, cur_step, syn0, mem0, alpha, beta, thr, mode, spk, mem, syn_last, mem_last)
    backward(steps, cur, cur_step, syn0, mem0, alpha, beta, thr, mode, code, (a, b),
             g_spk, g_mem, g_syn, g_last, d_cur, d_syn0, d_mem0, d_alpha, d_beta, d_thr)
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import torch

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


def choose(current: Tensor, params) -> str:
    """The fastest backend exact for this input and these ``CubaParams``: "numba", "triton" or "reference"."""
    alpha = params.alpha
    if (isinstance(alpha, Tensor) and alpha.dim() > 0
            and (alpha.dtype != current.dtype or alpha.device != current.device)):
        return "reference"
    if not supported(current, params.beta, params.threshold, params.reset, params.surrogate):
        return "reference"
    return fastest(current)


def applies(current: Tensor, params) -> bool:
    """Whether a fused kernel runs this input by default (``choose`` picks one)."""
    return choose(current, params) != "reference"


def sequence(engine_name: str, current: Tensor, syn0: Tensor, mem0: Tensor, alpha, beta, threshold, reset: str,
             surrogate, need_mem: bool = True):
    """``(spk [T, B, ...], mem [T, B, ...] or None, last syn, last mem)`` on engine "numba" or "triton"."""
    _check(engine_name, current, beta, threshold, reset, surrogate)
    source = constant_source(current)
    cur = source if source is not None else current
    return _FusedCuba.apply(ENGINES[engine_name](), cur, syn0, mem0, alpha, beta, threshold, current.shape[0],
                         source is not None, reset, surrogate, need_mem)


def _check(name: str, current: Tensor, beta, threshold, reset: str, surrogate) -> None:
    """A clear refusal of an explicit backend that cannot run this input here."""
    from spikevision.errors import InvalidValue

    check_runs_here(name, "CubaLIF", current)
    if not supported(current, beta, threshold, reset, surrogate):
        raise InvalidValue(f"the {name!r} CubaLIF backend does not cover this input (dtype {current.dtype}, "
                        f"surrogate {surrogate.name!r}); use backend='auto', which falls back to the reference loop")


@functools.cache
def _numba_engine():
    from spikevision.kernels import _cuba_loops as loops

    def forward(cur, cur_step, syn0, mem0, alpha, beta, thr, mode, spk, mem, syn_last, mem_last):
        size = mem0.shape[0]
        cpu.run(loops.forward, cpu.chunks(size, loops.FORWARD_CHUNK), size, cur.numpy(), cur_step,
                syn0.numpy(), mem0.numpy(), alpha.numpy(), beta.numpy(), thr.numpy(), mode, cpu.one(mem0),
                spk.numpy(), cpu._np(mem, spk, 2), mem is not None, syn_last.numpy(), mem_last.numpy())

    def backward(steps, cur, cur_step, syn0, mem0, alpha, beta, thr, mode, code, constants,
                 g_spk, g_mem, g_syn, g_last, d_cur, d_syn0, d_mem0, d_alpha, d_beta, d_thr):
        size = mem0.shape[0]
        cpu.run(loops.backward, cpu.chunks(size, loops.BACKWARD_CHUNK), size, steps, cur.numpy(),
                cur_step, syn0.numpy(), mem0.numpy(), alpha.numpy(), beta.numpy(), thr.numpy(), mode,
                cpu.constants(mem0, constants), code,
                cpu._np(g_spk, mem0, 2), g_spk is not None, cpu._np(g_mem, mem0, 2), g_mem is not None,
                cpu._np(g_syn, mem0, 1), g_syn is not None, cpu._np(g_last, mem0, 1), g_last is not None,
                d_cur.numpy(), d_syn0.numpy(), d_mem0.numpy(), d_alpha.numpy(), d_alpha.numel() > 0,
                d_beta.numpy(), d_beta.numel() > 0, d_thr.numpy(), d_thr.numel() > 0)

    return SimpleNamespace(forward=forward, backward=backward)


@functools.cache
def _triton_engine():
    from spikevision.kernels import _triton_cuba as kernels

    def forward(cur, cur_step, syn0, mem0, alpha, beta, thr, mode, spk, mem, syn_last, mem_last):
        steps, size = spk.shape
        with gpu._on(mem0.device):
            kernels.forward_kernel[gpu._grid(size)](
                cur, cur_step, syn0, mem0, alpha, beta, thr, spk, mem_last if mem is None else mem, syn_last,
                mem_last, steps, size, MODE=mode, STORE_MEM=mem is not None, BLOCK=gpu.BLOCK, enable_fp_fusion=False)

    def backward(steps, cur, cur_step, syn0, mem0, alpha, beta, thr, mode, code, constants,
                 g_spk, g_mem, g_syn, g_last, d_cur, d_syn0, d_mem0, d_alpha, d_beta, d_thr):
        size = mem0.numel()
        every, (syn_marks, mem_marks), (syns, mems) = gpu.segment_buffers(steps, mem0, 2)
        consts = torch.tensor([float(c) for c in constants], dtype=mem0.dtype, device=mem0.device)
        stand_in = mems  # any tensor for an argument the kernel does not read
        with gpu._on(mem0.device):
            kernels.backward_kernel[gpu._grid(size)](
                cur, cur_step, syn0, mem0, alpha, beta, thr, syn_marks, mem_marks, syns, mems,
                stand_in if g_spk is None else g_spk, stand_in if g_mem is None else g_mem,
                mem0 if g_syn is None else g_syn, mem0 if g_last is None else g_last, d_cur, d_syn0, d_mem0,
                *(d if d.numel() else stand_in for d in (d_alpha, d_beta, d_thr)), steps, size, every, consts,
                MODE=mode, CODE=code, HAS_G_SPK=g_spk is not None, HAS_G_MEM=g_mem is not None,
                HAS_G_SYN=g_syn is not None, HAS_G_LAST=g_last is not None, WANT_ALPHA=d_alpha.numel() > 0,
                WANT_BETA=d_beta.numel() > 0, WANT_THR=d_thr.numel() > 0, CONSTANT=cur_step == 0, BLOCK=gpu.BLOCK,
                SPIKE_GRAD_STEP=gpu.spike_grad_step(g_spk, steps), enable_fp_fusion=False)

    return SimpleNamespace(forward=forward, backward=backward)


ENGINES = {"numba": _numba_engine, "triton": _triton_engine}


class _FusedCuba(torch.autograd.Function):
    """The current-based LIF forward in one kernel call; backward, the surrogate gradient through time, in another."""

    @staticmethod
    def forward(ctx, engine, cur, syn0, mem0, alpha, beta, threshold, steps, constant, reset, surrogate, need_mem):
        ctx.set_materialize_grads(False)
        size, device = mem0.numel(), mem0.device
        flat_cur = cur.detach().reshape(1 if constant else steps, size).contiguous()
        flat_syn0 = syn0.detach().reshape(size).contiguous()
        flat_mem0 = mem0.detach().reshape(size).contiguous()
        coefficients = [coefficient_array(value, mem0) for value in (alpha, beta, threshold)]
        shape = (steps, *mem0.shape)
        spk = torch.empty(shape, dtype=cur.dtype, device=device)
        mem = torch.empty(shape, dtype=mem0.dtype, device=device) if need_mem else None
        syn_last, mem_last = torch.empty_like(flat_mem0), torch.empty_like(flat_mem0)
        engine.forward(flat_cur, 0 if constant else 1, flat_syn0, flat_mem0, *coefficients, RESET_CODES[reset],
                    spk.view(steps, size), None if mem is None else mem.view(steps, size), syn_last, mem_last)
        ctx.engine, ctx.steps, ctx.constant, ctx.reset, ctx.surrogate = engine, steps, constant, reset, surrogate
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
        sums = [torch.empty(size if wanted else 0, dtype=torch.float64, device=flat_mem0.device)
                for wanted in ctx.needs_input_grad[4:7]]

        def flat(grad, *shape):
            return None if grad is None else grad.reshape(shape).contiguous()

        d_cur, d_syn0, d_mem0 = torch.empty_like(flat_cur), torch.empty_like(flat_syn0), torch.empty_like(flat_mem0)
        ctx.engine.backward(steps, flat_cur, 0 if ctx.constant else 1, flat_syn0, flat_mem0, *coefficients,
                         RESET_CODES[ctx.reset], code, constants, spike_grad_rows(g_spk, steps, size),
                         flat(g_mem, steps, size), flat(g_syn, size), flat(g_last, size),
                         d_cur, d_syn0, d_mem0, *sums)
        grads = [_coefficient_grad(s, like, ctx.mem_shape) for s, like in zip(sums, ctx.likes)]
        return (None, d_cur.view(ctx.cur_shape), d_syn0.view(ctx.mem_shape), d_mem0.view(ctx.mem_shape), *grads,
                None, None, None, None, None)
