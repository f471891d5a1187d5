"""A LIF layer on a constant current fused with the linear layer it feeds (CPU, numba).

For direct encoding, the first hidden layer's current is the same at every step, so its neurons can be
run sample by sample, all T steps, with the spikes never leaving the cache: the next layer's current
``out[t] = spk[t] @ weight.T + bias`` is summed from the weight rows of the neurons that spiked, and
the backward pass recomputes the spikes and forms the gradient reaching them, ``g_out[t] @ weight``,
one row at a time. No ``[T, B, N]`` tensor is written in either pass (unless the spikes are asked for),
which is where an unfused step spends most of its time: five passes over ``T x B x N`` floats (write
spikes, read them for the matmul and again for the weight's gradient, write and read their gradient).

Equal to ``lif_sequence`` + ``F.linear``: the same hidden spikes bit for bit; ``out`` and the
gradients within float rounding (the matmul's sums are taken in another order).

Example::

    >>> out, spk = lif_linear(current, 200, 0.95, 1.0, "subtract", surrogate.get("atan"), fc2.weight, fc2.bias)
    >>> out.shape                     # [200, B, 10]: the output layer's input current
"""

from __future__ import annotations

import torch

from spikevision.errors import InvalidValue
from spikevision.kernels import _autograd, cpu

Tensor = torch.Tensor

LANES = 16  # the weight's rows padded to whole vectors of the loops' width (kernels._simd.LANES; a test checks)


def supported(current: Tensor, beta, threshold, reset: str, surrogate, weight: Tensor) -> bool:
    """Whether ``lif_linear`` covers these inputs exactly (CPU, float32/64, 1-d neurons, fixed coefficients)."""
    if current.device.type != "cpu" or current.dim() != 2 or weight.dim() != 2 or weight.dtype != current.dtype:
        return False
    if any(isinstance(v, Tensor) and v.requires_grad for v in (beta, threshold)):
        return False  # learnable coefficients: the unfused path computes their gradients
    return _autograd.supported(current, beta, threshold, reset, surrogate) and cpu.available()


def lif_linear(current: Tensor, steps: int, beta, threshold, reset: str, surrogate, weight: Tensor,
               bias: Tensor | None, *, record: bool = False) -> tuple[Tensor, Tensor | None]:
    """LIF neurons driven by a constant current from rest, then a linear layer, over ``steps`` steps.

    Args:
        current: the constant input current ``[B, N]``.
        steps: T.
        beta, threshold, reset, surrogate: the LIF layer's (numbers or fixed tensors broadcastable to
            ``[B, N]``; beta already clamped to [0, 1]).
        weight: the linear layer's weight ``[K, N]``; bias ``[K]`` or None.
        record: also return the spikes ``[T, B, N]`` (not differentiable).
    Returns:
        ``(out [T, B, K], spk [T, B, N] or None)``: ``out[t] = spk[t] @ weight.T + bias``.
    """
    if not supported(current, beta, threshold, reset, surrogate, weight):
        raise InvalidValue("lif_linear covers CPU float32/float64 currents [B, N] with fixed beta and threshold; "
                           "use lif_sequence and a linear layer otherwise")
    return _LifLinear.apply(current, weight, bias, steps, beta, threshold, reset, surrogate, record)


class _LifLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current, weight, bias, steps, beta, threshold, reset, surrogate, record):
        ctx.set_materialize_grads(False)
        loops = cpu.loops()
        batch, size = current.shape
        classes = weight.shape[0]
        cur = current.detach().contiguous()
        beta_arr = _autograd.coefficient_array(beta, cur).view(batch, size)
        thr_arr = _autograd.coefficient_array(threshold, cur).view(batch, size)
        lanes = -(-classes // LANES) * LANES
        weight_t = cur.new_zeros(size, lanes)
        weight_t[:, :classes] = weight.detach().t()
        bias_p = cur.new_zeros(lanes)
        if bias is not None:
            bias_p[:classes] = bias.detach()
        out = cur.new_empty(steps, batch, classes)
        spk = cur.new_empty(steps, batch, size) if record else cur.new_empty(0, 0, 0)
        cpu.run(loops.lif_linear_forward, batch, cur.numel(), cur.numpy(), beta_arr.numpy(), thr_arr.numpy(),
                _autograd.RESET_CODES[reset], cpu.one(cur), weight_t.numpy(), bias_p.numpy(), out.numpy(),
                spk.numpy(), record)
        ctx.save_for_backward(cur, weight, beta_arr, thr_arr)
        ctx.steps, ctx.reset, ctx.surrogate, ctx.has_bias = steps, reset, surrogate, bias is not None
        if not record:
            return out, None
        ctx.mark_non_differentiable(spk)
        return out, spk

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, _g_spk):
        cur, weight, beta_arr, thr_arr = ctx.saved_tensors
        if g_out is None:
            return (None,) * 9
        loops = cpu.loops()
        batch, size = cur.shape
        classes = weight.shape[0]
        g_out = g_out.contiguous()
        code, constants = _autograd.surrogate_constants(ctx.surrogate)
        chunks = max(1, min(batch, 4 * cpu.threads()))
        d_weight_t = torch.zeros(chunks, size, -(-classes // LANES) * LANES, dtype=torch.float64)
        d_cur = torch.empty_like(cur)
        cpu.run(loops.lif_linear_backward, chunks, cur.numel(), ctx.steps, cur.numpy(), beta_arr.numpy(),
                thr_arr.numpy(), _autograd.RESET_CODES[ctx.reset], cpu.constants(cur, constants), code,
                weight.detach().contiguous().numpy(), g_out.numpy(), d_cur.numpy(), d_weight_t.numpy())
        d_weight = d_weight_t.sum(0)[:, :classes].t().to(weight.dtype) if ctx.needs_input_grad[1] else None
        d_bias = g_out.sum((0, 1)) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return d_cur, d_weight, d_bias, None, None, None, None, None, None
