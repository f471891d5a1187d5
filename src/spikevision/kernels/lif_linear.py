"""A LIF layer on a constant current fused with the linear layer it feeds (CPU: numba; GPU: Triton).

For direct encoding, the first hidden layer's current is the same at every step, so its neurons can be
run sample by sample, all T steps, with the spikes never leaving the cache: the next layer's current
``out[t] = spk[t] @ weight.T + bias`` is summed from the weight rows of the neurons that spiked, and
the backward pass recomputes the spikes and forms the gradient reaching them, ``g_out[t] @ weight``,
one row at a time. No ``[T, B, N]`` tensor is written in either pass (unless the spikes are asked for),
which is where an unfused step spends most of its time: five passes over ``T x B x N`` floats (write
spikes, read them for the matmul and again for the weight's gradient, write and read their gradient).

Equal to ``lif_sequence`` + ``F.linear``: the same hidden spikes bit for bit; ``out`` and the
gradients within float rounding (the matmul's sums are taken in another order).

On a GPU (engine "triton", ``triton/lif_linear.py``) blocks of samples x neurons run all T steps in registers
and multiply their spikes by the weight with ``tl.dot``; backward needs no stored membranes (see there).

Example::

    >>> out, spk = lif_linear(current, 200, 0.95, 1.0, "subtract", surrogate.get("atan"), fc2.weight, fc2.bias)
    >>> out.shape                     # [200, B, 10]: the output layer's input current
"""

from __future__ import annotations

import torch

from spikevision.errors import InvalidValue
from spikevision.kernels import fused
from spikevision.kernels.families import LIF
from spikevision.kernels.numba import runtime as cpu

Tensor = torch.Tensor

LANES = 16  # the weight's rows padded to whole vectors of the loops' width (numba/simd.py's LANES; a test checks)


TRITON_CLASSES = 64  # the Triton kernel keeps a [BN, K] block of the weight in registers: small K only
TRITON_BLOCKS = {"BB": 16, "BN": 64}  # samples x neurons per program (tl.dot needs 16 or more of each)
# Warps per program: backward holds float64 sums of [BB, BN] and [KP, BN]; with 4 warps ptxas spills them
# (255 registers), with 8 it needs 128 (ptxas -v on the sm_90 build).
TRITON_WARPS = {"forward": 4, "backward": 8}


def supported(current: Tensor, beta, threshold, reset: str, surrogate, weight: Tensor, engine: str = "numba") -> bool:
    """Whether ``lif_linear`` on ``engine`` covers these inputs exactly: "numba" (CPU, float32/64) or "triton"
    (CUDA, or CPU tensors under Triton's interpreter; float32, at most ``TRITON_CLASSES`` outputs); always 1-d
    neurons and fixed coefficients."""
    if current.dim() != 2 or weight.dim() != 2 or weight.dtype != current.dtype:
        return False
    if not fused.supported(LIF, "numba", current, (), (beta, threshold), (), reset, surrogate):
        return False
    if engine == "triton":
        if any(isinstance(v, Tensor) and v.requires_grad for v in (beta, threshold)):
            return False  # learnable coefficients: the unfused path computes their gradients on a GPU
        from spikevision.kernels.triton import runtime as gpu

        return (current.device.type in gpu.devices() and current.dtype == torch.float32
                and weight.shape[0] <= TRITON_CLASSES and gpu.available())
    return engine == "numba" and current.device.type == "cpu" and cpu.available()


def lif_linear(current: Tensor, steps: int, beta, threshold, reset: str, surrogate, weight: Tensor,
               bias: Tensor | None, *, record: bool = False, engine: str = "auto") -> tuple[Tensor, Tensor | None]:
    """LIF neurons driven by a constant current from rest, then a linear layer, over ``steps`` steps.

    Args:
        current: the constant input current ``[B, N]``.
        steps: T.
        beta, threshold, reset, surrogate: the LIF layer's (numbers or fixed tensors broadcastable to
            ``[B, N]``; beta already clamped to [0, 1]).
        weight: the linear layer's weight ``[K, N]``; bias ``[K]`` or None.
        record: also return the spikes ``[T, B, N]`` (not differentiable).
        engine: "numba", "triton", or "auto" (Triton for CUDA tensors, else numba).
    Returns:
        ``(out [T, B, K], spk [T, B, N] or None)``: ``out[t] = spk[t] @ weight.T + bias``.
    """
    if engine == "auto":
        engine = "triton" if current.device.type == "cuda" else "numba"
    if not supported(current, beta, threshold, reset, surrogate, weight, engine):
        raise InvalidValue(f"lif_linear on {engine!r} does not cover this input (CPU float32/float64 or GPU "
                           f"float32 currents [B, N], fixed beta and threshold, at most {TRITON_CLASSES} outputs "
                           "on a GPU); use lif_sequence and a linear layer otherwise")
    fused = _TritonLifLinear if engine == "triton" else _LifLinear
    return fused.apply(current, weight, bias, steps, beta, threshold, reset, surrogate, record)


class _LifLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current, weight, bias, steps, beta, threshold, reset, surrogate, record):
        ctx.set_materialize_grads(False)
        loops = cpu.loops("lif_linear")
        batch, size = current.shape
        classes = weight.shape[0]
        cur = current.detach().contiguous()
        beta_arr = fused.coefficient_array(beta, cur).view(batch, size)
        thr_arr = fused.coefficient_array(threshold, cur).view(batch, size)
        lanes = -(-classes // LANES) * LANES
        weight_t = cur.new_zeros(size, lanes)
        weight_t[:, :classes] = weight.detach().t()
        bias_p = cur.new_zeros(lanes)
        if bias is not None:
            bias_p[:classes] = bias.detach()
        out = cur.new_empty(steps, batch, classes)
        spk = cur.new_empty(steps, batch, size) if record else cur.new_empty(0, 0, 0)
        cpu.run(loops.forward, batch, cur.numel(), cur.numpy(), beta_arr.numpy(), thr_arr.numpy(),
                fused.RESET_CODES[reset], cpu.one(cur), weight_t.numpy(), bias_p.numpy(), out.numpy(),
                spk.numpy(), record)
        return _forward_done(ctx, (cur, weight, beta_arr, thr_arr), out, spk if record else None,
                             steps, reset, surrogate, bias, beta, threshold)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, _g_spk):
        cur, weight, beta_arr, thr_arr = ctx.saved_tensors
        if g_out is None:
            return (None,) * 9
        loops = cpu.loops("lif_linear")
        batch, size = cur.shape
        classes = weight.shape[0]
        g_out = g_out.contiguous()
        code, constants = fused.surrogate_constants(ctx.surrogate)
        chunks = max(1, min(batch, 4 * cpu.threads()))
        d_weight_t = torch.zeros(chunks, size, -(-classes // LANES) * LANES, dtype=torch.float64)
        d_cur = torch.empty_like(cur)
        want_beta, want_thr = ctx.needs_input_grad[4], ctx.needs_input_grad[5]
        d_beta, d_thr = (torch.empty(batch, size if want else 0, dtype=torch.float64) for want in (want_beta, want_thr))
        cpu.run(loops.backward, chunks, cur.numel(), ctx.steps, cur.numpy(), beta_arr.numpy(),
                thr_arr.numpy(), fused.RESET_CODES[ctx.reset], cpu.constants(cur, constants), code,
                weight.detach().contiguous().numpy(), g_out.numpy(), d_cur.numpy(), d_weight_t.numpy(),
                d_beta.numpy(), want_beta, d_thr.numpy(), want_thr)
        return _gradients(ctx, g_out, d_cur, lambda: d_weight_t.sum(0)[:, :classes].t().to(weight.dtype),
                          (d_beta, d_thr))


class _TritonLifLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current, weight, bias, steps, beta, threshold, reset, surrogate, record):
        from spikevision.kernels.triton import runtime as gpu

        ctx.set_materialize_grads(False)
        cur, weight_c = current.detach().contiguous(), weight.detach().contiguous()
        (batch, size), classes = cur.shape, weight.shape[0]
        beta_arr = fused.coefficient_array(beta, cur)
        thr_arr = fused.coefficient_array(threshold, cur)
        grid = _triton_grid(batch, size)
        parts = cur.new_empty(grid[1], steps, batch, classes)  # one partial output per block of neurons
        spk = cur.new_empty(steps, batch, size) if record else parts
        kernel = gpu.kernels("lif_linear").forward_kernel
        with gpu.on(cur.device):
            kernel[grid](cur, beta_arr, thr_arr, weight_c, parts, spk, batch, size, classes, steps,
                         MODE=fused.RESET_CODES[reset], STORE_SPK=record, KP=_padded(classes), **TRITON_BLOCKS,
                         num_warps=TRITON_WARPS["forward"], enable_fp_fusion=False)
        out = parts.sum(0) if bias is None else parts.sum(0) + bias.detach()
        return _forward_done(ctx, (cur, weight_c, beta_arr, thr_arr), out, spk if record else None,
                             steps, reset, surrogate, bias, beta, threshold)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, _g_spk):
        from spikevision.kernels.triton import runtime as gpu

        cur, weight, beta_arr, thr_arr = ctx.saved_tensors
        if g_out is None:
            return (None,) * 9
        (batch, size), classes = cur.shape, weight.shape[0]
        grid, padded = _triton_grid(batch, size), _padded(classes)
        code, constants = fused.surrogate_constants(ctx.surrogate)
        consts = torch.tensor(constants, dtype=cur.dtype, device=cur.device)
        d_cur = torch.empty_like(cur)
        d_weight = torch.empty(grid[0], padded, size, dtype=torch.float64, device=cur.device)  # per sample block
        kernel = gpu.kernels("lif_linear").backward_kernel
        with gpu.on(cur.device):
            kernel[grid](cur, beta_arr, thr_arr, weight, g_out.contiguous(), d_cur, d_weight, batch, size, classes,
                         ctx.steps, consts, MODE=fused.RESET_CODES[ctx.reset], CODE=code, KP=padded, **TRITON_BLOCKS,
                         num_warps=TRITON_WARPS["backward"], enable_fp_fusion=False)
        return _gradients(ctx, g_out, d_cur, lambda: d_weight.sum(0)[:classes].to(weight.dtype))


def _triton_grid(batch: int, size: int) -> tuple[int, int]:
    return -(-batch // TRITON_BLOCKS["BB"]), -(-size // TRITON_BLOCKS["BN"])


def _padded(classes: int) -> int:
    """The outputs padded to a power of two of at least 16 (``tl.dot``'s smallest side)."""
    return max(16, 1 << (classes - 1).bit_length())


def _forward_done(ctx, saved: tuple, out: Tensor, spk: Tensor | None, steps, reset, surrogate, bias, beta,
                  threshold):
    """Both engines' end of forward: what backward needs, and the recorded spikes marked as constants."""
    ctx.save_for_backward(*saved)
    ctx.steps, ctx.reset, ctx.surrogate, ctx.has_bias = steps, reset, surrogate, bias is not None
    ctx.likes = (fused.coefficient_like(beta), fused.coefficient_like(threshold))
    if spk is not None:
        ctx.mark_non_differentiable(spk)
    return out, spk


def _gradients(ctx, g_out: Tensor, d_cur: Tensor, d_weight, coefficients=(None, None)) -> tuple:
    """Both engines' end of backward: ``d_weight()`` makes the weight's gradient only where it is wanted; a
    learnable beta's and threshold's per-element gradients ``[B, N]`` are summed to their shapes."""
    d_weight = d_weight() if ctx.needs_input_grad[1] else None
    d_bias = g_out.sum((0, 1)) if ctx.has_bias and ctx.needs_input_grad[2] else None
    d_beta, d_thr = (None if grad is None else fused.coefficient_grad(grad.reshape(-1), like, d_cur.shape)
                     for grad, like in zip(coefficients, ctx.likes))
    return d_cur, d_weight, d_bias, None, d_beta, d_thr, None, None, None
