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
from typing import NamedTuple
from unittest import mock

import torch
from torch import nn

from spikevision import kernels, metrics
from spikevision.config import TrainConfig
from spikevision.inputs import EVAL_STREAM, TensorData, model_input, stream_generator
from spikevision.surrogate import Surrogate

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
            mock.patch.object(kernels, "choose", lambda *args: "reference"):
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
    """How far float32 rounding can move a membrane or a score of a fully connected ``model``, at most.

    A step's current into neuron i is a sum of n terms (fan-in, bias, recurrent fan-in and bias); summed in any
    order it is off by at most about n * eps * sum|terms| (the standard bound), and sum|terms| <= sum_j |W_ij| *
    max|input| + |b_i|, with spikes at most 1. A membrane adds up to ``num_steps`` such currents (decay < 1 only
    shrinks old errors), so the bound is num_steps times the largest layer's.
    """
    worst = 0.0
    for stage in model.stages:
        layers = [stage.synapse] + ([stage.lif.recurrent] if hasattr(stage.lif, "recurrent") else [])
        if not all(isinstance(layer, nn.Linear) for layer in layers):
            raise AssertionError(f"rounding_bound covers Linear layers; {stage.name} has {type(stage.synapse)}")
        scale = input_max if stage is model.stages[0] else 1.0
        terms = sum(layer.weight.detach().double().abs().sum(1) * (scale if layer is stage.synapse else 1.0)
                    + (layer.bias.detach().double().abs() if layer.bias is not None else 0.0) for layer in layers)
        fan_in = sum(layer.in_features + 1 for layer in layers)
        worst = max(worst, fan_in * float(terms.max()))
    return num_steps * worst * EPS32


def assert_agree_within_rounding(a: torch.Tensor, b: torch.Tensor, reference: Decisions, bound: float) -> int:
    """Predictions ``a`` and ``b`` ``[N]`` of two float32 computations agree on every image that rounding cannot
    decide (both margins of ``reference`` above ``bound``); returns how many images they disagree on."""
    differ = a != b
    within = (reference.threshold_margin <= bound) | (reference.decision_margin <= bound)
    outside = (differ & ~within).nonzero().flatten().tolist()
    assert not outside, (f"images {outside[:10]} are predicted differently though no margin of theirs is within "
                         f"rounding ({bound:.2g}): not a rounding difference")
    return int(differ.sum())
