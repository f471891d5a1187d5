"""The training objectives, from a network's output spikes and membranes ``[T, B, C]``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spikevision.runs.config import TrainConfig


def loss_fn(spk: torch.Tensor, mem: torch.Tensor, target: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """The training loss from output spikes and membranes ``[T, B, C]``.

    membrane_ce: sum over steps of cross-entropy of the output membrane (the handout's);
    mean_membrane_ce: cross-entropy of the output membrane's mean over time, the "membrane" prediction rule's
    score (a sequence's answer, as in row-by-row MNIST, exists only once the sequence is read; the sum over
    steps would also ask for it at the first step);
    count_ce: cross-entropy of the spike counts; rate_mse: MSE of spike counts against target counts.
    """
    steps = mem.shape[0]
    if cfg.loss == "membrane_ce":
        # Classes on dim 1 of a [T, C, B] view: the same mean over T*B as on [T*B, C] rows, about 4x faster on
        # the CPU (ATen's log-softmax vectorises over the batch instead of over 10 classes; benchmarks/bench_loss.py).
        return F.cross_entropy(mem.transpose(1, 2), target.expand(steps, -1)) * steps
    if cfg.loss == "mean_membrane_ce":
        return F.cross_entropy(mem.mean(0), target)
    counts = spk.sum(0)
    if cfg.loss == "count_ce":
        return F.cross_entropy(counts, target)
    wanted = torch.full_like(counts, cfg.incorrect_rate * steps)
    wanted.scatter_(1, target[:, None], cfg.correct_rate * steps)
    return F.mse_loss(counts, wanted)
