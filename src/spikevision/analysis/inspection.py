"""Look inside a trained network: run chosen test images with ``record=True`` and keep what the pictures need.

Every sample is fed exactly as training and evaluation feed it (``train.model_input``): the static image
for direct encoding, its spike train for rate / latency. A rate code draws its spikes from a generator
seeded by the run's seed and the sample's index, so a sample shows the same spikes (and the same
prediction) whichever other samples it is inspected with.

Example::

    >>> config, model = rundir.load_run(run_dir)
    >>> test = TensorData.from_split(data.load("mnist", "test"))
    >>> right, wrong = find_examples(model, config.train, test, right=3, wrong=3)
    >>> [s.prediction for s in inspect_samples(model, config.train, test, wrong)]
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from spikevision import metrics
from spikevision.errors import InvalidType, InvalidValue
from spikevision.model import ModelOutput
from spikevision.neurons import alif
from spikevision.neurons.alif import ALIF
from spikevision.neurons.cuba import CubaLIF
from spikevision.neurons.readout import LI
from spikevision.runs import precision
from spikevision.runs.config import TrainConfig
from spikevision.runs.evaluation import model_device
from spikevision.runs.inputs import SAMPLE_STREAM, TensorData, feeds_spikes, model_input, stream_generator
from spikevision.validators import is_whole_number

Tensor = torch.Tensor

@dataclass(frozen=True)
class Inspection:
    """What one test image did inside the network.

    Fields:
        index: the image's index in the test split.
        label, prediction: true and predicted class.
        image: ``[H, W]`` pixel values in [0, 1].
        input: ``[T, N_in]`` what the first layer receives: spikes (rate / latency) or, for direct
            encoding, the pixel values repeated at every step.
        input_is_spikes: whether ``input`` holds spikes.
        hidden: ``[T, N_i]`` spikes of each hidden LIF layer (flattened; CNN feature maps too).
        hidden_names: the hidden layers' names ("fc1", "conv1", ...).
        spk, mem: ``[T, C]`` output spikes and membranes.
        syn: ``[T, C]`` the output layer's synaptic current (current-based neurons), else None.
        thr: ``[T, C]`` the output layer's threshold at each step (adaptive-threshold neurons), else None.
    """

    index: int
    label: int
    prediction: int
    image: Tensor
    input: Tensor
    input_is_spikes: bool
    hidden: tuple[Tensor, ...]
    hidden_names: tuple[str, ...]
    spk: Tensor
    mem: Tensor
    syn: Tensor | None = None
    thr: Tensor | None = None

    @property
    def correct(self) -> bool:
        return self.label == self.prediction

    @property
    def spike_counts(self) -> Tensor:
        """int64 ``[C]`` spikes of each output neuron over the whole window."""
        return self.spk.sum(0).to(torch.int64)


def sample_input(images: Tensor, indices: Sequence[int], cfg: TrainConfig) -> Tensor:
    """The network input for chosen test images, each encoded with its own generator.

    Args:
        images: ``[S, 1, H, W]`` floats in [0, 1]; indices: their ``S`` indices in the split.
        cfg: the run's ``TrainConfig`` (encoding, options, num_steps, seed).

    Returns:
        ``[S, 1, H, W]`` (direct) or ``[T, S, 1, H, W]`` (rate / latency).
    """
    if cfg.encoding == "direct":
        return images
    parts = [model_input(images[i : i + 1], cfg, stream_generator(cfg.seed, SAMPLE_STREAM, int(index)))
             for i, index in enumerate(indices)]
    return torch.cat(parts, dim=1)


@torch.no_grad()
def run_model(model: torch.nn.Module, x: Tensor, cfg: TrainConfig, *, record: bool = False) -> ModelOutput:
    """``model(x)`` on the model's device in the run's precision; the outputs back on the CPU in float32.

    Args:
        x: a static batch ``[B, 1, H, W]`` (direct input) or a spike train ``[T, B, 1, H, W]``, on any device.
    """
    device = model_device(model)
    with precision.autocast(cfg.precision, device):
        out = model(x.to(device), num_steps=cfg.num_steps, record=record)
    return ModelOutput(out.spk.float().cpu(), out.mem.float().cpu(), tuple(h.float().cpu() for h in out.hidden))


def predict(model: torch.nn.Module, cfg: TrainConfig, test: TensorData, indices: Sequence[int]) -> Tensor:
    """Predicted class of each chosen test image, int64 ``[S]`` (fed as in :func:`sample_input`)."""
    indices = check_indices(indices, len(test.labels))
    out = run_model(model, sample_input(test.images[indices], indices, cfg), cfg)
    return metrics.predict(out.spk, out.mem, cfg.prediction)


def find_examples(
    model: torch.nn.Module, cfg: TrainConfig, test: TensorData, *, right: int, wrong: int, batch_size: int = 500
) -> tuple[list[int], list[int]]:
    """The first ``right`` correctly and ``wrong`` wrongly classified test images, in split order.

    Scans the split batch by batch and stops as soon as it has found both; a network that never errs
    gives fewer than ``wrong`` (and one that never succeeds fewer than ``right``).

    Returns:
        (right_indices, wrong_indices).
    """
    for name, value in (("right", right), ("wrong", wrong), ("batch_size", batch_size)):
        if not is_whole_number(value) or value < (1 if name == "batch_size" else 0):
            raise InvalidValue(f"find_examples: {name} must be a whole number >= {int(name == 'batch_size')}; "
                               f"got {value!r}")
    found: tuple[list[int], list[int]] = ([], [])
    n = len(test.labels)
    for start in range(0, n, batch_size):
        if len(found[0]) >= right and len(found[1]) >= wrong:
            break
        indices = list(range(start, min(start + batch_size, n)))
        hits = (predict(model, cfg, test, indices) == test.labels[indices]).tolist()
        for index, hit in zip(indices, hits):
            bucket, wanted = (found[0], right) if hit else (found[1], wrong)
            if len(bucket) < wanted:
                bucket.append(index)
    return found


@torch.no_grad()
def inspect_samples(model: torch.nn.Module, cfg: TrainConfig, test: TensorData,
                    indices: Sequence[int]) -> list[Inspection]:
    """Run chosen test images through the network, recording every layer.

    Args:
        model: a trained network (e.g. from ``rundir.load_run``).
        cfg: the run's ``TrainConfig``.
        test: the test split as ``TensorData``.
        indices: indices into the split (duplicates are kept once).

    Returns:
        One :class:`Inspection` per index, in the given order.
    """
    indices = list(dict.fromkeys(check_indices(indices, len(test.labels))))
    model.eval()
    images = test.images[indices]  # (S, 1, H, W)
    x = sample_input(images, indices, cfg)
    out = run_model(model, x, cfg, record=True)
    predictions = metrics.predict(out.spk, out.mem, cfg.prediction).tolist()
    pictures = still_pictures(images, cfg)  # (S, H, W)
    syn = output_synaptic_current(model, x, out, cfg)  # (T, S, C) or None
    thr = output_adaptive_threshold(model, out)  # (T, S, C) or None
    steps = out.spk.shape[0]
    names = tuple(stage.name for stage in model.stages[:-1])
    if cfg.encoding == "direct":
        # What the first layer sees at every step: the pixels, unchanged over time.
        inputs = images.flatten(1).unsqueeze(0).expand(steps, -1, -1)  # (T, S, N_in)
    else:
        inputs = x.flatten(2)  # (T, S, N_in)
    return [
        Inspection(
            index=int(index),
            label=int(test.labels[index]),
            prediction=int(predictions[s]),
            image=pictures[s],
            input=inputs[:, s],
            input_is_spikes=feeds_spikes(cfg),
            hidden=tuple(h[:, s].flatten(1) for h in out.hidden),
            hidden_names=names,
            spk=out.spk[:, s],
            mem=out.mem[:, s],
            syn=None if syn is None else syn[:, s],
            thr=None if thr is None else thr[:, s],
        )
        for s, index in enumerate(indices)
    ]


def still_pictures(images: Tensor, cfg: TrainConfig) -> Tensor:
    """What a sample looks like as one picture ``[S, H, W]`` in [0, 1]: the image itself, or for an event sample's
    frames ``[S, T, P, H, W]`` every event counted per pixel, scaled by the sample's busiest pixel."""
    if cfg.encoding != "frames":
        return images[:, 0]
    counts = images.sum((1, 2))  # (S, H, W)
    return counts / counts.flatten(1).amax(1).clamp_min(1).view(-1, 1, 1)


@torch.no_grad()
def output_adaptive_threshold(model: torch.nn.Module, out: ModelOutput) -> Tensor | None:
    """The output layer's threshold at each step ``[T, S, C]`` for adaptive-threshold neurons (None otherwise).

    It follows from the layer's own spikes alone (``alif.threshold_trace``), so nothing more is recorded.
    """
    lif = model.stages[-1].lif
    if not isinstance(lif, ALIF):
        return None
    params = lif.params
    if isinstance(params.threshold, Tensor):
        params = dataclasses.replace(params, threshold=params.threshold.detach().float().cpu())
    return alif.threshold_trace(out.spk, params)


@torch.no_grad()
def output_synaptic_current(model: torch.nn.Module, x: Tensor, out: ModelOutput, cfg: TrainConfig) -> Tensor | None:
    """The output layer's synaptic current ``[T, S, C]`` of a current-based network (None for LIF neurons).

    It is never reset, so it follows from the layer's input alone (``syn_t = alpha syn_{t-1} + I_t``, op for op
    as ``cuba``): the previous layer's recorded spikes through the output synapses.
    """
    stage = model.stages[-1]
    if not isinstance(stage.lif, CubaLIF):
        return None
    device = model_device(model)
    if len(model.stages) == 1:
        current = model._first_current(x.to(device), cfg.num_steps if cfg.encoding == "direct" else None)
    else:
        spikes = out.hidden[-1].to(device)
        current = stage.current(spikes.flatten(0, 1)).unflatten(0, spikes.shape[:2])
    syn, rows = torch.zeros_like(current[0]), []
    for step in current.unbind(0):
        syn = stage.lif.alpha * syn + step
        rows.append(syn)
    return torch.stack(rows).float().cpu()


def output_threshold(model: torch.nn.Module) -> float | None:
    """The output layer's firing threshold as one number (None if it is learned per neuron, or if the output is a
    leaky-integrator readout, which never fires)."""
    if isinstance(model.stages[-1].lif, LI):
        return None
    threshold = model.stages[-1].lif.threshold
    if isinstance(threshold, Tensor):
        return float(threshold) if threshold.numel() == 1 else None
    return float(threshold)


def check_indices(indices: Sequence[int], size: int) -> list[int]:
    """Indices as a list of ints in [0, size); a ValueError names the first bad one."""
    items = list(indices)
    if not items:
        raise InvalidValue("give at least one test image index")
    checked = []
    for item in items:
        try:
            if isinstance(item, bool):
                raise TypeError
            index = operator.index(item)
        except TypeError:
            raise InvalidType(f"test image indices must be whole numbers; got {item!r}") from None
        if not 0 <= index < size:
            raise InvalidValue(f"test image index {index} is out of range; the test split has images 0..{size - 1}")
        checked.append(index)
    return checked
