"""Accuracy and activity of a network on every test image: confusion, spikes and SynOps per layer, energy.

Used by training (after each epoch), ``spikevision evaluate`` and the report; it imports the model's
inputs and metrics, never the training loop.
"""

from __future__ import annotations

import torch

from spikevision import distributed, metrics, precision
from spikevision.config import TrainConfig
from spikevision.inputs import EVAL_STREAM, TensorData, model_input, stream_generator
from spikevision.losses import loss_fn


def model_device(model: torch.nn.Module) -> torch.device:
    """The device ``model``'s parameters live on (the CPU for a model without any)."""
    first = next(model.parameters(), None)
    return torch.device("cpu") if first is None else first.device


@torch.no_grad()
def evaluate(model: torch.nn.Module, test: TensorData, cfg: TrainConfig, *, seed: int = 0,
             ctx: distributed.Context = distributed.Context()) -> dict:
    """Accuracy and activity of ``model`` on every sample of ``test`` (no dropped batches).

    In a process group (``ctx``) each process takes every ``world_size``-th batch and the sums are combined,
    so every sample is evaluated once and every process returns the same result. The batches run on the
    model's device, in the run's precision.

    Returns a dict: accuracy, loss, per_class_accuracy, confusion, spikes_per_sample (per layer and total),
    synops_per_sample, energy estimate.
    """
    model.eval()
    device = model_device(model)
    n = len(test.labels)
    num_classes = len(test.classes)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    loss_sum = 0.0
    layers = model.synaptic_layers()
    layer_spikes = torch.zeros(len(layers), dtype=torch.float64)  # spikes emitted by each LIF layer
    synops = torch.zeros(len(layers), dtype=torch.float64)  # synaptic operations of each synaptic layer
    input_spikes = 0.0
    for start in range(0, n, cfg.eval_batch_size)[ctx.rank :: ctx.world_size]:
        images = test.images[start : start + cfg.eval_batch_size].to(device)
        target = test.labels[start : start + cfg.eval_batch_size].to(device)
        x = model_input(images, cfg, stream_generator(seed, EVAL_STREAM, start))
        with precision.autocast(cfg.precision, device):
            out = model(x, num_steps=cfg.num_steps, record=True)
        loss_sum += float(loss_fn(out.spk.float(), out.mem, target, cfg)) * len(target)
        pred = metrics.predict_from_output(out.spk, out.mem)
        confusion += metrics.confusion_matrix(pred, target, num_classes).cpu()
        # Each neuron's spike count, one pass over each [T, B, ...] spike tensor (float32 counts are exact
        # up to 2**24 steps); the spike totals and the SynOps both come from them.
        counts = [spikes.sum(0, dtype=torch.float32) for spikes in (*out.hidden, out.spk)]
        layer_spikes += torch.tensor([float(c.sum(dtype=torch.float64)) for c in counts], dtype=torch.float64)
        # What enters synaptic layer i: the encoded input for the first, the previous LIF layer's spikes after.
        entering = ((x.sum(0, dtype=torch.float64) if cfg.encoding != "direct" else None), *counts[:-1])
        for i, (layer, count) in enumerate(zip(layers, entering)):
            if count is not None:
                synops[i] += float(layer.synops_of_counts(count).sum())
        if cfg.encoding != "direct":
            input_spikes += float(entering[0].sum())
    if ctx.distributed:  # every sum over all processes; counts stay exact in float64
        sums = distributed.sum_over_processes(torch.cat([
            confusion.flatten().double(), torch.tensor([loss_sum, input_spikes], dtype=torch.float64),
            layer_spikes, synops]), ctx)
        confusion = sums[: confusion.numel()].round().to(torch.int64).reshape(confusion.shape)
        loss_sum, input_spikes = sums[confusion.numel() : confusion.numel() + 2].tolist()
        layer_spikes, synops = sums[confusion.numel() + 2 :].split(len(layers))
    # A layer fed by the raw image (direct encoding) computes its current once: dense MACs, not SynOps.
    dense_macs = layers[0].macs if cfg.encoding == "direct" else 0
    synops_per_sample = float(synops.sum()) / n
    per_layer = (layer_spikes / n).tolist()
    accuracy = float(confusion.diagonal().sum()) / n
    return {
        "accuracy": accuracy,
        "loss": loss_sum / n,
        "num_samples": n,
        "per_class_accuracy": metrics.per_class_accuracy(confusion).tolist(),
        "confusion": confusion.tolist(),
        "spikes_per_sample": {"layers": per_layer, "total": sum(per_layer),
                              "input": input_spikes / n if cfg.encoding != "direct" else None},
        "synops_per_sample": synops_per_sample,
        "synops_per_layer": (synops / n).tolist(),
        "energy": metrics.energy_estimate(synops_per_sample, dense_macs, model.ann_macs()),
    }
