"""Accuracy, confusion matrix, spike counts, synaptic operations and an energy estimate.

Energy figures are estimates from operation counts (Horowitz, ISSCC 2014, 45 nm, 32-bit float): an
accumulate costs ~0.9 pJ, a multiply-accumulate ~4.6 pJ. A spiking layer does one accumulate per
synapse a spike reaches (a synaptic operation, SynOp); the equal ANN does one MAC per synapse per sample.
"""

from __future__ import annotations

import torch

from spikevision.errors import InvalidValue

PJ_PER_ACCUMULATE = 0.9
PJ_PER_MAC = 4.6

# How a prediction is read from the output layer, by name (a run's ``train.prediction``):
#   "spikes_then_membrane": most output spikes, ties to the higher mean output membrane (the default);
#   "spikes": most output spikes, ties to the lowest class index: the lab handout's rule, and what a reader
#   that only counts spikes (another simulator running an exported graph) computes.
#   "membrane": the highest mean output membrane, for a leaky-integrator readout (model.readout = "li").
PREDICTION_RULES = ("spikes_then_membrane", "spikes", "membrane")
RULE_TEXT = {
    "spikes_then_membrane": "the output neuron with the most spikes, ties to the higher mean membrane",
    "spikes": "the output neuron with the most spikes, ties to the lowest class index as in the handout",
    "membrane": "the output neuron with the highest mean membrane (a leaky-integrator readout)",
}


def compared_rules(rule: str) -> tuple[str, ...]:
    """The rules an evaluation reports beside ``rule``: both spike rules for spiking outputs, the membrane alone
    for a leaky-integrator readout (it has no spikes to count)."""
    return ("membrane",) if rule == "membrane" else PREDICTION_RULES[:2]


def predict(spk: torch.Tensor, mem: torch.Tensor, rule: str = "spikes_then_membrane") -> torch.Tensor:
    """Predicted class per sample ``[B]`` (int64) from output spikes and membranes ``[T, B, C]``, by ``rule``."""
    if rule == "spikes_then_membrane":
        return predict_from_output(spk, mem)
    if rule == "spikes":
        return spk.sum(0, dtype=torch.float32).argmax(dim=1)  # argmax takes the first of equal maxima
    if rule == "membrane":
        return mem.float().mean(0).argmax(dim=1)
    raise InvalidValue(f"unknown prediction rule {rule!r}; valid: {', '.join(PREDICTION_RULES)}")


def predict_from_output(spk: torch.Tensor, mem: torch.Tensor) -> torch.Tensor:
    """Predicted class per sample: the output neuron with the most spikes.

    Ties (often: several neurons with zero spikes) go to the neuron with the higher mean membrane, so
    the spike count always decides and the membrane only breaks ties.

    Args:
        spk: output spikes ``[T, B, C]``.
        mem: output membranes ``[T, B, C]``.
    Returns:
        int64 ``[B]``.
    """
    counts = spk.sum(0, dtype=torch.float32)  # exact counts also for half spikes (bf16 stops at 256)
    tie_break = torch.sigmoid(mem.mean(0)) * 0.5  # in (0, 0.5): never outweighs one spike
    return (counts + tie_break).argmax(dim=1)


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``[num_classes, num_classes]`` int64 counts; row = true class, column = predicted class."""
    index = target.long() * num_classes + pred.long()
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """Fraction of each true class predicted correctly ``[C]`` (NaN for a class with no samples)."""
    totals = confusion.sum(1).double()
    return confusion.diagonal().double() / totals


def energy_estimate(synops: float, dense_macs: float, ann_macs: float) -> dict:
    """Energy per sample in nanojoules for the SNN (SynOps + dense MACs of a non-spiking input layer) and the ANN."""
    snn_pj = synops * PJ_PER_ACCUMULATE + dense_macs * PJ_PER_MAC
    ann_pj = ann_macs * PJ_PER_MAC
    return {
        "snn_nj_per_sample": snn_pj / 1000.0,
        "ann_nj_per_sample": ann_pj / 1000.0,
        "snn_to_ann_ratio": snn_pj / ann_pj if ann_pj else float("nan"),
        "note": "estimate from operation counts: accumulate 0.9 pJ, MAC 4.6 pJ (Horowitz 2014, 45 nm)",
    }
