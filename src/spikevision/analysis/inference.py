"""One picture through a trained network: the one code path of ``spikevision predict`` and ``spikevision play``.

A picture is fed exactly as ``predict`` feeds it: made MNIST-like by ``preprocess``, encoded with the run's
coding (or one the caller chose) from a generator seeded by the run's seed and ``PREDICT_STREAM``, so the
answer never depends on which other pictures are classified with it. Nothing here knows about training.

Example::

    >>> config, model = rundir.load_run(run_dir)
    >>> trace = inference.trace(model, config.train, preprocess.image_file_to_mnist("three.png"))
    >>> trace.prediction, trace.top(3)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from spikevision import metrics
from spikevision.analysis.inspection import run_model
from spikevision.errors import InvalidValue
from spikevision.runs.config import TrainConfig
from spikevision.runs.inputs import (
    PREDICT_STREAM,
    feeds_spikes,
    model_input,
    picture_frames,
    row_pictures,
    stream_generator,
)

Tensor = torch.Tensor


@dataclass(frozen=True)
class Trace:
    """What one picture did inside the network.

    Fields:
        image: ``[28, 28]`` the picture the network received, in [0, 1].
        input: ``[T, 1, 28, 28]`` what the first layer receives at each step: spikes (rate / latency) or the
            pixel values repeated (direct), or each step's row in its place and the rest zero (rows).
        input_is_spikes: whether ``input`` holds spikes.
        hidden: each hidden layer's spikes ``[T, *layer shape]`` (``[T, N]`` or conv maps ``[T, C, H, W]``);
            empty unless recorded.
        hidden_names: their names ("fc1", "conv1", ...).
        spk, mem: ``[T, C]`` output spikes and membranes.
        prediction: the class by the run's prediction rule.
    """

    image: Tensor
    input: Tensor
    input_is_spikes: bool
    hidden: tuple[Tensor, ...]
    hidden_names: tuple[str, ...]
    spk: Tensor
    mem: Tensor
    prediction: int

    @property
    def spike_counts(self) -> list[int]:
        """Each output neuron's spikes over the whole window."""
        return [int(c) for c in self.spk.sum(0)]

    def ranking(self, rule: str = "spikes_then_membrane") -> list[int]:
        """Every class, best first by the prediction rule's own order (the prediction first): most spikes, ties to
        the higher mean membrane ("spikes_then_membrane") or to the lower class ("spikes"); or the highest mean
        membrane ("membrane")."""
        counts, means = self.spike_counts, [float(m) for m in self.mem.float().mean(0)]
        keys = {"spikes_then_membrane": lambda c: (-counts[c], -means[c], c), "spikes": lambda c: (-counts[c], c),
                "membrane": lambda c: (-means[c], c)}
        if rule not in keys:
            raise InvalidValue(f"unknown prediction rule {rule!r}; valid: {', '.join(keys)}")
        rest = sorted((c for c in range(len(counts)) if c != self.prediction), key=keys[rule])
        return [self.prediction, *rest]

    def top(self, k: int = 3, rule: str = "spikes_then_membrane") -> list[tuple[int, int]]:
        """The ``k`` best classes by ``rule`` (see ``ranking``) as ``(class, spike count)``; the prediction first."""
        counts = self.spike_counts
        return [(c, counts[c]) for c in self.ranking(rule)[:k]]


def with_coding(cfg: TrainConfig, encoding: str, options: dict, num_steps: int) -> TrainConfig:
    """The run's ``TrainConfig`` fed another way: its checks apply, so a bad option is an ``InvalidValue``."""
    try:
        return dataclasses.replace(cfg, encoding=encoding, encoding_options=dict(options), num_steps=num_steps)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(str(exc).removeprefix("train.")) from None


@torch.no_grad()
def trace(model: torch.nn.Module, cfg: TrainConfig, image: Tensor, *, record: bool = True) -> Trace:
    """Run one picture through ``model`` fed as ``cfg`` says.

    Args:
        model: a trained network (``rundir.load_run``), on any device.
        cfg: the run's ``TrainConfig`` (or :func:`with_coding` of it).
        image: ``[1, 28, 28]`` floats in [0, 1] (``preprocess.to_mnist``).
        record: also keep every hidden layer's spikes.
    """
    if image.shape != (1, 28, 28):
        raise InvalidValue(f"a picture for the network is [1, 28, 28]; got {list(image.shape)}")
    model.eval()
    fed_image = picture_frames(image[None], cfg) if cfg.encoding == "frames" else image[None]  # events: [1, T, ...]
    x = model_input(fed_image, cfg, stream_generator(cfg.seed, PREDICT_STREAM))  # [1, ...] or [T, 1, ...]
    out = run_model(model, x, cfg, record=record)
    prediction = int(metrics.predict(out.spk, out.mem, cfg.prediction)[0])
    steps = out.spk.shape[0]
    if cfg.encoding == "direct":
        fed = image[None].expand(steps, -1, -1, -1)
    else:
        fed = (row_pictures(x) if cfg.encoding == "rows" else x)[:, 0].float().cpu()
    names = tuple(stage.name for stage in model.stages[:-1]) if record else ()
    return Trace(image=image[0], input=fed, input_is_spikes=feeds_spikes(cfg),
                 hidden=tuple(h[:, 0] for h in out.hidden), hidden_names=names,
                 spk=out.spk[:, 0], mem=out.mem[:, 0], prediction=prediction)
