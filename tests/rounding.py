"""What float32 rounding may decide: for tests that compare two float32 computations of one network done in
another order (an exported graph read back, another processor's vector width).

Two such computations differ by rounding, so a prediction may differ between them only on an image whose
answer rounding can change: one where some membrane comes within rounding of its threshold at some step (a
spike that may or may not happen, and everything after it), or whose deciding margin (the gap between the two
best scores) is within rounding. ``decisions`` runs a network over a test set in float64, where rounding is
negligible, and measures both margins per image; ``rounding_bound`` says how far float32 rounding can move a
membrane; ``assert_agree_within_rounding`` allows exactly the images within it, and no other.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple
from unittest import mock

import torch
from torch import nn

from spikevision import kernels, metrics
from spikevision.neurons.surrogate import Surrogate
from spikevision.runs.config import TrainConfig
from spikevision.runs.inputs import EVAL_STREAM, TensorData, model_input, stream_generator

EPS32 = torch.finfo(torch.float32).eps


class Decisions(NamedTuple):
    """Per test image: the predicted class, the smallest |membrane - threshold| of any spiking neuron at any step,
    and the deciding margin."""

    prediction: torch.Tensor  # int64 [N]
    threshold_margin: torch.Tensor  # float64 [N]
    decision_margin: torch.Tensor  # float64 [N]


@torch.no_grad()
def decisions(model: nn.Module, cfg: TrainConfig, test: TensorData, dtype: torch.dtype = torch.float64) -> Decisions:
    """``model`` (a copy, in ``dtype``) over every image of ``test``, in the batches and inputs evaluation uses.

    The threshold margins are read where the spike function is called (``Surrogate.__call__``): the reference
    loops, which the LIF kernels' choice point is made to pick, and the recurrent layers, at every step.
    """
    model = copy.deepcopy(model).to(dtype).eval()
    seen: list[torch.Tensor] = []
    spike = Surrogate.__call__

    def recording(surrogate: Surrogate, x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().abs().flatten(1).amin(1).double())  # x: one step's [B, ...] of mem - threshold
        return spike(surrogate, x)

    parts = []
    with mock.patch.object(Surrogate, "__call__", recording), \
            mock.patch.object(kernels, "select", lambda *args: "reference"):
        for start in range(0, len(test.labels), cfg.eval_batch_size):
            x = model_input(test.images[start : start + cfg.eval_batch_size], cfg,
                            stream_generator(0, EVAL_STREAM, start)).to(dtype)
            seen.clear()
            out = model(x, num_steps=cfg.num_steps)
            assert seen, "no spike function ran in a reference loop: the margins went unseen"
            parts.append((metrics.predict(out.spk, out.mem, cfg.prediction), torch.stack(seen).amin(0),
                          _decision_margin(out.spk, out.mem, cfg.prediction)))
    return Decisions(*(torch.cat(column) for column in zip(*parts)))


def _decision_margin(spk: torch.Tensor, mem: torch.Tensor, rule: str) -> torch.Tensor:
    """The gap between the two best scores ``[B]``: mean membranes for the membrane rule; for the spike rules the
    membranes' gap where the two best counts tie (a count changes only through a spike, which the threshold
    margins cover), else inf."""
    top = mem.double().mean(0).topk(2, dim=1).values
    gap = top[:, 0] - top[:, 1]
    if rule == "membrane":
        return gap
    counts = spk.sum(0).topk(2, dim=1).values
    return torch.where(counts[:, 0] == counts[:, 1], gap, torch.inf)


def rounding_bound(model: nn.Module, num_steps: int, input_max: float = 1.0) -> float:
    """How far float32 rounding can move a membrane or a score of ``model``, at most.

    A step's current into a neuron is a sum of n terms (its fan-in and bias, and the recurrent fan-in and bias);
    summed in any order it is off by at most about n * eps * sum|terms| (the standard bound), with sum|terms| <=
    sum_j |W_ij| * max|input| + |b_i| and spikes at most 1. A batch norm scales that (and adds a few roundings
    of its own), an average pool sums k * k of them (n grows by k * k). A membrane adds up to ``num_steps``
    such currents (a decay below 1 only shrinks old errors): the bound is num_steps times the largest layer's.
    """
    worst = 0.0
    for index, stage in enumerate(model.stages):
        scale = input_max if index == 0 else 1.0
        terms, fan_in = _sum_of_terms(stage.synapse, scale)
        if hasattr(stage.lif, "recurrent"):
            recurrent, rec_fan_in = _sum_of_terms(stage.lif.recurrent, 1.0)
            terms, fan_in = terms + recurrent, fan_in + rec_fan_in
        for layer in stage.after:
            if isinstance(layer, nn.BatchNorm2d):
                gain = layer.weight.detach().double() / (layer.running_var.double() + layer.eps).sqrt()
                shift = layer.bias.detach().double() - layer.running_mean.double() * gain
                terms, fan_in = terms * gain.abs() + shift.abs(), fan_in + 3
            elif isinstance(layer, (nn.AvgPool2d, nn.MaxPool2d)):
                fan_in += layer.kernel_size ** 2 if isinstance(layer.kernel_size, int) else math.prod(layer.kernel_size)
            else:
                raise AssertionError(f"rounding_bound does not know {type(layer).__name__} (stage {stage.name})")
        worst = max(worst, fan_in * float(terms.max()))
    return num_steps * worst * EPS32


def _sum_of_terms(layer: nn.Module, input_max: float) -> tuple[torch.Tensor, int]:
    """sum_j |W_ij| * input_max + |b_i| per output channel of a Linear or Conv2d, and its number of terms."""
    if not isinstance(layer, (nn.Linear, nn.Conv2d)):
        raise AssertionError(f"rounding_bound covers Linear and Conv2d synapses, not {type(layer).__name__}")
    weight = layer.weight.detach().double().flatten(1)  # [out, fan-in]: a conv's fan-in is C_in * kh * kw
    bias = layer.bias.detach().double().abs() if layer.bias is not None else torch.zeros(weight.shape[0])
    return weight.abs().sum(1) * input_max + bias, weight.shape[1] + 1


def assert_agree_within_rounding(a: torch.Tensor, b: torch.Tensor, reference: Decisions, bound: float) -> int:
    """Two float32 computations' answers agree on every image that rounding cannot decide (both margins of
    ``reference`` above ``bound``); returns how many images they differ on.

    Args:
        a, b: per image ``[N, ...]``: predictions ``[N]``, or spike trains ``[N, T, C]`` (an image differs if any
            of its values does).
    """
    differ = (a != b).reshape(len(a), -1).any(1)
    within = (reference.threshold_margin <= bound) | (reference.decision_margin <= bound)
    outside = (differ & ~within).nonzero().flatten().tolist()
    assert not outside, (f"images {outside[:10]} are predicted differently though no margin of theirs is within "
                         f"rounding ({bound:.2g}): not a rounding difference")
    return int(differ.sum())
