"""Accuracy and activity of a network on every test image: confusion, spikes and SynOps per layer, energy.

Used by training (after each epoch), ``spikevision evaluate`` and the report; it imports the model's
inputs and metrics, never the training loop.
"""

from __future__ import annotations

import torch

from spikevision import metrics
from spikevision.runs import distributed, precision
from spikevision.runs.config import TrainConfig
from spikevision.runs.inputs import (
    EVAL_STREAM,
    TensorData,
    dense_input_macs,
    feeds_spikes,
    model_input,
    stream_generator,
)
from spikevision.runs.losses import loss_fn


def model_device(model: torch.nn.Module) -> torch.device:
    """The device ``model``'s parameters live on (the CPU for a model without any)."""
    first = next(model.parameters(), None)
    return torch.device("cpu") if first is None else first.device


@torch.no_grad()
def evaluate(model: torch.nn.Module, test: TensorData, cfg: TrainConfig, *, seed: int = 0,
             ctx: distributed.Context | None = None) -> dict:
    """Accuracy and activity of ``model`` on every sample of ``test`` (no dropped batches).

    In a process group (``ctx``) each process takes every ``world_size``-th batch and the sums are combined,
    so every sample is evaluated once and every process returns the same result. The batches run on the
    model's device, in the run's precision.

    Returns a dict: accuracy, loss, per_class_accuracy, confusion, spikes_per_sample (per layer and total),
    synops_per_sample, energy estimate.
    """
    ctx = distributed.Context() if ctx is None else ctx  # one process
    model.eval()
    device = model_device(model)
    tally = _Tally(len(test.classes), model.synaptic_layers(), metrics.compared_rules(cfg.prediction))
    for start in range(0, len(test.labels), cfg.eval_batch_size)[ctx.rank :: ctx.world_size]:
        images = test.images[start : start + cfg.eval_batch_size].to(device)
        target = test.labels[start : start + cfg.eval_batch_size].to(device)
        x = model_input(images, cfg, stream_generator(seed, EVAL_STREAM, start))
        with precision.autocast(cfg.precision, device):
            out = model(x, num_steps=cfg.num_steps, record=True)
        tally.add(out, x if feeds_spikes(cfg) else None, target, cfg)
    if ctx.distributed:
        tally.combine(ctx)
    return tally.result(len(test.labels), cfg, model.ann_macs())


class _Tally:
    """The sums of an evaluation over batches: confusion, loss, and each layer's spikes and SynOps."""

    def __init__(self, num_classes: int, layers: list, rules: tuple[str, ...]):
        self.layers = layers
        self.rules = rules  # the prediction rules whose accuracy is reported (metrics.compared_rules)
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
        self.loss_sum = 0.0
        self.layer_spikes = torch.zeros(len(layers), dtype=torch.float64)  # spikes emitted by each LIF layer
        self.synops = torch.zeros(len(layers), dtype=torch.float64)  # synaptic operations of each synaptic layer
        self.input_spikes = 0.0
        self.correct = torch.zeros(len(rules), dtype=torch.float64)  # right answers by rule

    def add(self, out, spikes_in: torch.Tensor | None, target: torch.Tensor, cfg: TrainConfig) -> None:
        """One batch's output; ``spikes_in``: its encoded input ``[T, B, ...]`` (None for direct input)."""
        self.loss_sum += float(loss_fn(out.spk.float(), out.mem, target, cfg)) * len(target)
        preds = {rule: metrics.predict(out.spk, out.mem, rule) for rule in self.rules}
        self.confusion += metrics.confusion_matrix(preds[cfg.prediction], target, len(self.confusion)).cpu()
        self.correct += torch.tensor([float((preds[rule] == target).sum()) for rule in self.rules],
                                     dtype=torch.float64)
        # Each neuron's spike count, one pass over each [T, B, ...] spike tensor (float32 counts are exact
        # up to 2**24 steps); the spike totals and the SynOps both come from them.
        counts = [spikes.sum(0, dtype=torch.float32) for spikes in (*out.hidden, out.spk)]
        self.layer_spikes += torch.tensor([float(c.sum(dtype=torch.float64)) for c in counts], dtype=torch.float64)
        # What enters synaptic layer i: the encoded input for the first, the previous LIF layer's spikes after.
        entering = ((spikes_in.sum(0, dtype=torch.float64) if spikes_in is not None else None), *counts[:-1])
        for i, (layer, count) in enumerate(zip(self.layers, entering)):
            if count is not None:
                self.synops[i] += float(layer.synops_of_counts(count).sum())
        if spikes_in is not None:
            self.input_spikes += float(entering[0].sum())

    def combine(self, ctx: distributed.Context) -> None:
        """Every sum over all processes of the group; counts stay exact in float64."""
        size = self.confusion.numel()
        sums = distributed.sum_over_processes(torch.cat([
            self.confusion.flatten().double(), torch.tensor([self.loss_sum, self.input_spikes], dtype=torch.float64),
            self.layer_spikes, self.synops, self.correct]), ctx)
        self.confusion = sums[:size].round().to(torch.int64).reshape(self.confusion.shape)
        self.loss_sum, self.input_spikes = sums[size : size + 2].tolist()
        rest = sums[size + 2 :]
        self.layer_spikes, self.synops, self.correct = rest.split([len(self.layers), len(self.layers),
                                                                  len(self.rules)])

    def result(self, n: int, cfg: TrainConfig, ann_macs: float) -> dict:
        dense_macs = dense_input_macs(cfg, self.layers[0].macs)  # a layer fed pixel values: MACs, not SynOps
        synops_per_sample = float(self.synops.sum()) / n
        per_layer = (self.layer_spikes / n).tolist()
        return {
            "accuracy": float(self.confusion.diagonal().sum()) / n,
            "prediction": cfg.prediction,
            # The same outputs read by every rule: the handout's ("spikes") is what a spike-counting reader gets.
            "accuracy_by_rule": {rule: float(c) / n for rule, c in zip(self.rules, self.correct)},
            "loss": self.loss_sum / n,
            "num_samples": n,
            "per_class_accuracy": metrics.per_class_accuracy(self.confusion).tolist(),
            "confusion": self.confusion.tolist(),
            "spikes_per_sample": {"layers": per_layer, "total": sum(per_layer),
                                  "input": self.input_spikes / n if feeds_spikes(cfg) else None},
            "synops_per_sample": synops_per_sample,
            "synops_per_layer": (self.synops / n).tolist(),
            "energy": metrics.energy_estimate(synops_per_sample, dense_macs, ann_macs),
        }
