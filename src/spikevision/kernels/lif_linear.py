"""A layer of LIF-like neurons on a constant current fused with the linear layer it feeds (CPU: numba; GPU:
Triton): the pair, for every family in ``FAMILY_CODES`` (LIF, CUBA, ALIF), learnable coefficients included.

For direct encoding, the first hidden layer's current is the same at every step, so its neurons can be
run sample by sample, all T steps, with the spikes never leaving the cache: the next layer's current
``out[t] = spk[t] @ weight.T + bias`` is summed from the weight rows of the neurons that spiked, and
the backward pass recomputes the spikes and forms the gradient reaching them, ``g_out[t] @ weight``,
one row at a time. No ``[T, B, N]`` tensor is written in either pass (unless the spikes are asked for),
which is where an unfused step spends most of its time: five passes over ``T x B x N`` floats (write
spikes, read them for the matmul and again for the weight's gradient, write and read their gradient).

Equal to the family's sequence (``lif_sequence``, ``cuba_sequence``, ``alif_sequence``) + ``F.linear``: the same
hidden spikes bit for bit; ``out`` and the gradients within float rounding (the matmul's sums are taken in
another order). ``lif_linear`` is LIF's; ``neuron_linear`` takes the family.

On a GPU (engine "triton", ``triton/lif_linear.py``) blocks of samples x neurons run all T steps in registers
and multiply their spikes by the weight with ``tl.dot``; backward needs no stored membranes (see there).

Example::

    >>> out, spk = lif_linear(current, 200, 0.95, 1.0, "subtract", surrogate.get("atan"), fc2.weight, fc2.bias)
    >>> out.shape                     # [200, B, 10]: the output layer's input current
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from spikevision.errors import InvalidValue
from spikevision.kernels import fused
from spikevision.kernels.families import FAMILIES
from spikevision.kernels.numba import runtime as cpu

Tensor = torch.Tensor

LANES = 16  # the weight's rows padded to whole vectors of the loops' width (numba/simd.py's LANES; a test checks)


TRITON_CLASSES = 64  # the Triton kernel keeps a [BN, K] block of the weight in registers: small K only
TRITON_BLOCKS = {"BB": 16, "BN": 64}  # samples x neurons per program (tl.dot needs 16 or more of each)
# Warps per program: backward holds float64 sums of [BB, BN] and [KP, BN]; with 4 warps ptxas spills them
# (255 registers), with 8 it needs 128 (ptxas -v on the sm_90 build).
TRITON_WARPS = {"forward": 4, "backward": 8}


FAMILY_CODES = {"lif": 0, "cuba": 1, "alif": 2}  # the families the pair runs (numba), by its loops' code
LOOP_COEFFICIENTS = ("alpha", "beta", "thr")  # the coefficient arrays the loops take, [B, 0] where a family has none


def supported(current: Tensor, beta, threshold, reset: str, surrogate, weight: Tensor, engine: str = "numba") -> bool:
    """Whether ``lif_linear`` on ``engine`` covers these inputs exactly: "numba" (CPU, float32/64) or "triton"
    (CUDA, or CPU tensors under Triton's interpreter; float32, at most ``TRITON_CLASSES`` outputs); always 1-d
    neurons."""
    return pair_supported("lif", current, (beta, threshold), reset, surrogate, weight, engine)


def pair_supported(family: str, current: Tensor, coefficients: tuple, reset: str, surrogate, weight: Tensor,
                   engine: str = "numba", fixed: tuple = ()) -> bool:
    """Whether ``neuron_linear`` of ``family`` on ``engine`` covers these inputs exactly (see ``supported``;
    ``fixed`` ALIF's numbers)."""
    if family not in FAMILY_CODES or current.dim() != 2 or weight.dim() != 2 or weight.dtype != current.dtype:
        return False
    if not fused.supported(FAMILIES[family], "numba", current, (), coefficients, fixed, reset, surrogate):
        return False
    if engine == "triton":
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
        beta, threshold, reset, surrogate: the LIF layer's (numbers or tensors broadcastable to ``[B, N]``,
            learnable ones too on the CPU; beta already clamped to [0, 1]).
        weight: the linear layer's weight ``[K, N]``; bias ``[K]`` or None.
        record: also return the spikes ``[T, B, N]`` (not differentiable).
        engine: "numba", "triton", or "auto" (Triton for CUDA tensors, else numba).
    Returns:
        ``(out [T, B, K], spk [T, B, N] or None)``: ``out[t] = spk[t] @ weight.T + bias``.
    """
    return neuron_linear("lif", current, steps, (beta, threshold), reset, surrogate, weight, bias, record=record,
                         engine=engine)


def neuron_linear(family: str, current: Tensor, steps: int, coefficients: tuple, reset: str, surrogate,
                  weight: Tensor, bias: Tensor | None, *, fixed: tuple = (), record: bool = False,
                  engine: str = "auto") -> tuple[Tensor, Tensor | None]:
    """``lif_linear`` for any family the pair runs (``FAMILY_CODES``): ``coefficients`` and ``fixed`` in the
    family's order (``families.FAMILIES[family]``: CUBA's alpha, beta, threshold; ALIF's beta, and its resting
    threshold, rho and gamma as fixed numbers)."""
    if engine == "auto":
        engine = "triton" if current.device.type == "cuda" else "numba"
    if not pair_supported(family, current, coefficients, reset, surrogate, weight, engine, fixed):
        raise InvalidValue(f"lif_linear of {family} on {engine!r} does not cover this input (CPU float32/float64 or "
                           f"GPU float32 currents [B, N] with at most {TRITON_CLASSES} outputs on a GPU); use the "
                           "neurons' sequence and a linear layer otherwise")
    call = _PairCall(family, steps, reset, surrogate, record, tuple(float(v) for v in fixed))
    pair = _TritonPair if engine == "triton" else _NeuronLinear
    return pair.apply(current, weight, bias, call, *coefficients)


@dataclass(frozen=True)
class _PairCall:
    """What one call of the pair runs, besides its tensors."""

    family: str
    steps: int
    reset: str
    surrogate: Any
    record: bool
    fixed: tuple = ()

    def loop_arrays(self, values: list, empty: Tensor) -> list:
        """The family's coefficient ``values`` (any per-coefficient things) in the loops' order
        (``LOOP_COEFFICIENTS``), ``empty`` where the family has none."""
        named = dict(zip(FAMILIES[self.family].coefficients, values))
        return [named.get(name, empty) for name in LOOP_COEFFICIENTS]

    def fixed_array(self, like: Tensor) -> Tensor:
        """ALIF's (1, threshold, rho, gamma) in ``like``'s dtype (zeros past the 1 for the other families)."""
        values = (1.0, *self.fixed) if self.fixed else (1.0, 0.0, 0.0, 0.0)
        return torch.tensor(values, dtype=like.dtype)


class _NeuronLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current, weight, bias, call: _PairCall, *coefficients):
        ctx.set_materialize_grads(False)
        loops = cpu.loops("lif_linear")
        batch, size = current.shape
        classes = weight.shape[0]
        cur = current.detach().contiguous()
        arrays = call.loop_arrays([fused.coefficient_array(value, cur).view(batch, size) for value in coefficients],
                                  cur.new_empty(batch, 0))
        lanes = -(-classes // LANES) * LANES
        weight_t = cur.new_zeros(size, lanes)
        weight_t[:, :classes] = weight.detach().t()
        bias_p = cur.new_zeros(lanes)
        if bias is not None:
            bias_p[:classes] = bias.detach()
        out = cur.new_empty(call.steps, batch, classes)
        spk = cur.new_empty(call.steps, batch, size) if call.record else cur.new_empty(0, 0, 0)
        cpu.run(loops.forward, batch, cur.numel(), FAMILY_CODES[call.family], cur.numpy(),
                *(array.numpy() for array in arrays), call.fixed_array(cur).numpy(), fused.RESET_CODES[call.reset],
                cpu.one(cur), weight_t.numpy(), bias_p.numpy(), out.numpy(), spk.numpy(), call.record)
        return _forward_done(ctx, (cur, weight, *arrays), out, spk if call.record else None, call, bias,
                             coefficients)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, _g_spk):
        cur, weight, *arrays = ctx.saved_tensors
        call = ctx.call
        if g_out is None:
            return (None,) * (4 + len(ctx.likes))
        loops = cpu.loops("lif_linear")
        batch, size = cur.shape
        classes = weight.shape[0]
        g_out = g_out.contiguous()
        code, constants = fused.surrogate_constants(call.surrogate)
        chunks = max(1, min(batch, 4 * cpu.threads()))
        d_weight_t = torch.zeros(chunks, size, -(-classes // LANES) * LANES, dtype=torch.float64)
        d_cur = torch.empty_like(cur)
        wanted = call.loop_arrays(list(ctx.needs_input_grad[4:]), False)
        sums = [torch.empty(batch, size if want else 0, dtype=torch.float64) for want in wanted]
        cpu.run(loops.backward, chunks, cur.numel(), FAMILY_CODES[call.family], call.steps, cur.numpy(),
                *(array.numpy() for array in arrays), call.fixed_array(cur).numpy(), fused.RESET_CODES[call.reset],
                cpu.constants(cur, constants), code, weight.detach().contiguous().numpy(), g_out.numpy(),
                d_cur.numpy(), d_weight_t.numpy(), *(item for grad, want in zip(sums, wanted)
                                                     for item in (grad.numpy(), want)))
        by_name = dict(zip(LOOP_COEFFICIENTS, sums))
        return _gradients(ctx, g_out, d_cur, lambda: d_weight_t.sum(0)[:, :classes].t().to(weight.dtype),
                          [by_name[name] for name in FAMILIES[call.family].coefficients])


class _TritonPair(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current, weight, bias, call: _PairCall, *coefficients):
        from spikevision.kernels.triton import runtime as gpu

        ctx.set_materialize_grads(False)
        cur, weight_c = current.detach().contiguous(), weight.detach().contiguous()
        (batch, size), classes, steps = cur.shape, weight.shape[0], call.steps
        arrays = _triton_arrays(call, coefficients, cur)
        grid = _triton_grid(batch, size)
        parts = cur.new_empty(grid[1], steps, batch, classes)  # one partial output per block of neurons
        spk = cur.new_empty(steps, batch, size) if call.record else parts
        kernel = gpu.kernels("lif_linear").forward_kernel
        with gpu.on(cur.device):
            kernel[grid](cur, *arrays, weight_c, parts, spk, batch, size, classes, steps,
                         FAMILY=FAMILY_CODES[call.family], MODE=fused.RESET_CODES[call.reset],
                         STORE_SPK=call.record, KP=_padded(classes), **TRITON_BLOCKS,
                         num_warps=TRITON_WARPS["forward"], enable_fp_fusion=False)
        out = parts.sum(0) if bias is None else parts.sum(0) + bias.detach()
        return _forward_done(ctx, (cur, weight_c, *arrays), out, spk if call.record else None, call, bias,
                             coefficients)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, _g_spk):
        from spikevision.kernels.triton import runtime as gpu

        cur, weight, *arrays = ctx.saved_tensors
        call = ctx.call
        if g_out is None:
            return (None,) * (4 + len(ctx.likes))
        (batch, size), classes = cur.shape, weight.shape[0]
        grid, padded = _triton_grid(batch, size), _padded(classes)
        code, constants = fused.surrogate_constants(call.surrogate)
        consts = torch.tensor(constants, dtype=cur.dtype, device=cur.device)
        learn = any(ctx.needs_input_grad[4:])
        d_cur = torch.empty_like(cur)
        d_weight = torch.empty(grid[0], padded, size, dtype=torch.float64, device=cur.device)  # per sample block
        sums = [torch.empty(batch, size if learn else 0, dtype=torch.float64, device=cur.device) for _ in range(3)]
        kernel = gpu.kernels("lif_linear").backward_kernel
        with gpu.on(cur.device):
            kernel[grid](cur, *arrays, weight, g_out.contiguous(), d_cur, d_weight, *sums, batch, size, classes,
                         call.steps, consts, FAMILY=FAMILY_CODES[call.family], MODE=fused.RESET_CODES[call.reset],
                         CODE=code, LEARN=learn, KP=padded, **TRITON_BLOCKS, num_warps=TRITON_WARPS["backward"],
                         enable_fp_fusion=False)
        by_name = dict(zip(LOOP_COEFFICIENTS, sums))
        wanted = [by_name[name] if want else torch.empty(0)
                  for name, want in zip(FAMILIES[call.family].coefficients, ctx.needs_input_grad[4:])]
        return _gradients(ctx, g_out, d_cur, lambda: d_weight.sum(0)[:classes].to(weight.dtype), wanted)


def _triton_arrays(call: _PairCall, coefficients: tuple, cur: Tensor) -> list:
    """The GPU kernels' per-neuron arrays: alpha, beta, the threshold (ALIF's resting one) as ``[B * N]`` of the
    current's dtype (zeros where the family has none), and ALIF's (rho, gamma)."""
    named = dict(zip(FAMILIES[call.family].coefficients, coefficients))
    if call.family == "alif":
        named["thr"] = call.fixed[0]
    arrays = [fused.coefficient_array(named.get(name, 0.0), cur) for name in LOOP_COEFFICIENTS]
    adapt = torch.tensor(call.fixed[1:] if call.fixed else (0.0, 0.0), dtype=cur.dtype, device=cur.device)
    return [*arrays, adapt]


def _triton_grid(batch: int, size: int) -> tuple[int, int]:
    return -(-batch // TRITON_BLOCKS["BB"]), -(-size // TRITON_BLOCKS["BN"])


def _padded(classes: int) -> int:
    """The outputs padded to a power of two of at least 16 (``tl.dot``'s smallest side)."""
    return max(16, 1 << (classes - 1).bit_length())


def _forward_done(ctx, saved: tuple, out: Tensor, spk: Tensor | None, call: _PairCall, bias, coefficients):
    """Both engines' end of forward: what backward needs, and the recorded spikes marked as constants."""
    ctx.save_for_backward(*saved)
    ctx.call, ctx.has_bias = call, bias is not None
    ctx.likes = tuple(fused.coefficient_like(value) for value in coefficients)
    if spk is not None:
        ctx.mark_non_differentiable(spk)
    return out, spk


def _gradients(ctx, g_out: Tensor, d_cur: Tensor, d_weight, sums=None) -> tuple:
    """Both engines' end of backward: ``d_weight()`` makes the weight's gradient only where it is wanted; the
    learnable coefficients' per-element gradients ``[B, N]`` (``sums``, in the family's order) are summed to
    their shapes."""
    d_weight = d_weight() if ctx.needs_input_grad[1] else None
    d_bias = g_out.sum((0, 1)) if ctx.has_bias and ctx.needs_input_grad[2] else None
    sums = sums if sums is not None else [torch.empty(0)] * len(ctx.likes)
    d_coefficients = [fused.coefficient_grad(grad.reshape(-1), like, d_cur.shape)
                      for grad, like in zip(sums, ctx.likes)]
    return (d_cur, d_weight, d_bias, None, *d_coefficients)
