"""What a network is fed: images as tensors, named random streams, augmentations and input encoding.

Shared by training, evaluation and inference, so that a test image is fed to ``predict``, ``inspect`` and
``evaluate`` exactly as training fed the training images. Nothing here knows about training loops or run
directories.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from spikevision import data
from spikevision.catalog import EVENT_DATASETS, SPIKE_ENCODINGS
from spikevision.data import encoding, event_augment, event_batch, eventset
from spikevision.data.augment import augment, random_flip, random_shift  # noqa: F401  (re-exported)
from spikevision.errors import InvalidValue
from spikevision.runs.config import EVENT_AUGMENTATIONS, TrainConfig


class EventFrames:
    """An event dataset's split seen as frames, float32 ``[N, T, P, H, W]`` (each sample's ON and OFF counts in
    T equal time bins, or in T windows of ``window_us`` from its first event: ``EventSet.frames``), cut when
    indexed: the frames of a whole split would not fit in memory, a batch's take milliseconds. Indexed like a
    tensor (an int, a slice, a tensor of indices)."""

    def __init__(self, events: eventset.EventSet, num_steps: int, device: torch.device | str = "cpu",
                 window_us: int = 0) -> None:
        self.events, self.num_steps, self.device, self.window_us = events, num_steps, torch.device(device), window_us
        sensor = events.sensor
        self.shape = torch.Size((len(events), num_steps, sensor.polarities, sensor.height, sensor.width))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> torch.Tensor:
        picked = self._picked(key)
        frames = self.events.frames(np.atleast_1d(picked), self.num_steps, time_window=self.window_us)
        return self._tensor(frames, np.ndim(picked) == 0)

    def changed(self, key, cfg: TrainConfig, generator: torch.Generator) -> torch.Tensor:
        """``self[key]`` with ``cfg``'s changes to events made to each sample before it is cut into frames
        (``event_augment``'s batch forms; numpy draws seeded from ``generator``, only when a change is on)."""
        if not any(getattr(cfg, name) for name in EVENT_AUGMENTATIONS):
            return self[key]  # counted straight from the mapped cache, no copy of the events
        picked = self._picked(key)
        batch = self.events.batch(np.atleast_1d(picked))
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        batch = augment_events(batch, self.events.sensor, cfg, np.random.default_rng(seed))
        frames = event_batch.frames(batch, self.events.sensor, self.num_steps, time_window=self.window_us)
        return self._tensor(frames, np.ndim(picked) == 0)

    def _picked(self, key) -> np.ndarray:
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        return np.arange(len(self))[key]

    def _tensor(self, frames: np.ndarray, one: bool) -> torch.Tensor:
        tensor = torch.from_numpy(frames).to(self.device, torch.float32)
        return tensor[0] if one else tensor

    def to(self, device: torch.device) -> EventFrames:
        return EventFrames(self.events, self.num_steps, device, self.window_us)


def augment_events(batch: event_batch.Batch, sensor, cfg: TrainConfig,
                   generator: np.random.Generator) -> event_batch.Batch:
    """A training batch of events changed as ``cfg`` says, in a fixed order: events dropped, moved in time,
    samples played backwards, ON and OFF swapped (each drawn per sample; a change that is off draws nothing)."""
    if cfg.augment_event_drop:
        batch = event_augment.drop_batch(batch, sensor, cfg.augment_event_drop, generator)
    if cfg.augment_time_jitter:
        batch = event_augment.time_jitter_batch(batch, sensor, cfg.augment_time_jitter, generator)
    if cfg.augment_time_reverse:
        chosen = generator.random(len(batch)) < cfg.augment_time_reverse
        batch = event_augment.reverse_time_batch(batch, sensor, chosen)
    if cfg.augment_polarity_flip:
        chosen = generator.random(len(batch)) < cfg.augment_polarity_flip
        batch = event_augment.flip_batch(batch, sensor, "p", chosen)
    return batch


def training_images(train_data: TensorData, batch: torch.Tensor, cfg: TrainConfig,
                    generator: torch.Generator) -> torch.Tensor:
    """The images (or event frames) of a training batch before ``augment``: event samples changed as events."""
    if isinstance(train_data.images, EventFrames):
        return train_data.images.changed(batch, cfg, generator)
    return train_data.images[batch]


@dataclass
class TensorData:
    """Images as float32 ``[N, 1, 28, 28]`` in [0, 1] (or an event dataset's ``EventFrames``) and int64 labels
    ``[N]``."""

    images: torch.Tensor | EventFrames
    labels: torch.Tensor
    classes: tuple

    @classmethod
    def from_split(cls, split: data.Split, limit: int = 0) -> TensorData:
        images, labels = split.images, split.labels
        if limit:
            images, labels = images[:limit], labels[:limit]
        return cls(data.to_float(images), labels.long(), tuple(split.classes))

    @classmethod
    def from_events(cls, events: eventset.EventSet, num_steps: int, window_us: int = 0) -> TensorData:
        return cls(EventFrames(events, num_steps, window_us=window_us), torch.from_numpy(events.labels.copy()),
                   events.classes)

    def to(self, device: torch.device) -> TensorData:
        """The same data on ``device``: moved once (all of MNIST's training set is 188 MB as float32; event
        frames are made on it batch by batch)."""
        return TensorData(self.images.to(device), self.labels.to(device), self.classes)


def frame_window(cfg: TrainConfig) -> int:
    """How an event sample is cut into ``cfg.num_steps`` frames: windows of this many microseconds from its first
    event, or (0) its span in equal bins."""
    return int(cfg.encoding_options.get("window_us", 0)) if cfg.encoding == "frames" else 0


def load_data(cfg: TrainConfig, split: str, root: str | os.PathLike | None = None, limit: int = 0) -> TensorData:
    """``cfg.dataset``'s ``split`` as the network is fed it (its first ``limit`` samples when ``limit`` > 0):
    images, or an event dataset's frames of ``cfg.num_steps`` time bins."""
    if cfg.dataset in EVENT_DATASETS:
        from spikevision.data import event_datasets  # loads numba's frame loops: only for event data

        events = event_datasets.load(cfg.dataset, split, root, limit=limit, progress=True)
        return TensorData.from_events(events, cfg.num_steps, frame_window(cfg))
    return TensorData.from_split(data.load(cfg.dataset, split, root), limit)


# Named random streams. Every draw comes from a generator seeded by the run's seed and an index: training
# step s uses index s, the evaluation batch that starts at test image i uses EVAL_STREAM + i, an inspected
# test image j uses SAMPLE_STREAM + j, and each picture given to predict uses PREDICT_STREAM (so its answer
# never depends on the other pictures named with it).
EVAL_STREAM = 10_000_000
SAMPLE_STREAM = 20_000_000
PREDICT_STREAM = 0


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator for everything random in one training step (encoding, augmentation, dropout)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def stream_generator(seed: int, stream: int, index: int = 0) -> torch.Generator:
    """The generator of draw ``index`` of a named stream (``EVAL_STREAM``, ``SAMPLE_STREAM``, ...)."""
    return step_generator(seed, stream + index)


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7_919 + epoch + 1))


def model_input(images: torch.Tensor, cfg: TrainConfig, generator: torch.Generator | None) -> torch.Tensor:
    """What the network is fed: the static image (direct), its spike train ``[T, B, 1, 28, 28]`` (rate, latency),
    its rows one per step ``[28, B, 1, 1, 28]`` (rows), or an event sample's frames ``[B, T, P, H, W]`` time
    first, ``[T, B, P, H, W]`` (frames)."""
    if cfg.encoding == "direct":
        return images
    if cfg.encoding == "frames":
        return images.transpose(0, 1)
    if cfg.encoding == "rows":
        return rows(images)
    options = dict(cfg.encoding_options)
    if cfg.encoding == "rate":
        options["generator"] = _generator_on(generator, images.device)
    return encoding.encode(images, cfg.encoding, cfg.num_steps, **options)


def picture_frames(images: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """Still pictures ``[B, 1, 28, 28]`` (MNIST-like, in [0, 1]) as an N-MNIST network reads events: each shown to
    the emulated event camera along N-MNIST's saccades (``data.nmnist_sim``, seeded by the run's seed) and cut
    into ``cfg.num_steps`` time bins, float32 ``[B, T, 2, 34, 34]`` (what ``model_input`` takes for frames)."""
    from spikevision.data import nmnist_sim

    if cfg.dataset not in ("nmnist-sim", "nmnist"):
        raise InvalidValue(f"a picture becomes events only as N-MNIST's (34x34, its saccades); this network reads "
                           f"{cfg.dataset}'s events")
    events, offsets = nmnist_sim.emulate_digits(images[:, 0].detach().cpu().numpy().clip(0, 1), seed=cfg.seed)
    frames = event_batch.frames(event_batch.Batch(events, offsets), nmnist_sim.SENSOR, cfg.num_steps,
                                time_window=frame_window(cfg))  # a blank picture: no events, empty frames
    return torch.from_numpy(frames).to(images.device, torch.float32)


def rows(images: torch.Tensor) -> torch.Tensor:
    """Images ``[B, C, H, W]`` read row by row: step ``t`` feeds row ``t``'s pixels as currents, ``[H, B, C, 1, W]``
    (the row-by-row sequential MNIST task; the network's input is one row, ``model.input_shape = [C, 1, W]``)."""
    if images.dim() != 4:
        raise InvalidValue(f"rows reads images [B, C, H, W]; got shape {list(images.shape)}")
    return images.permute(2, 0, 1, 3).unsqueeze(3)


def row_pictures(sequence: torch.Tensor) -> torch.Tensor:
    """What a rows input ``[H, B, C, 1, W]`` feeds at each step, drawn in place: ``[H, B, C, H, W]``, row ``t``
    of picture ``t`` the step's pixels and the rest zero."""
    height = sequence.shape[0]
    pictures = sequence.new_zeros((height, *sequence.shape[1:3], height, sequence.shape[-1]))
    for t in range(height):
        pictures[t, :, :, t] = sequence[t, :, :, 0]
    return pictures


def feeds_spikes(cfg: TrainConfig) -> bool:
    """Whether the network's input is spikes (rate, latency; an event dataset's frames count its events: each
    one a spike), not pixel values as currents (direct, rows)."""
    return cfg.encoding in SPIKE_ENCODINGS or cfg.encoding == "frames"


def dense_input_macs(cfg: TrainConfig, macs: int) -> int:
    """The first layer's dense multiply-accumulates per sample, ``macs`` a step: fed pixel values it multiplies
    them all, once for the static image (direct, its current is computed once) or at every step (rows); fed
    spikes it does synaptic operations instead (0)."""
    if feeds_spikes(cfg):
        return 0
    return macs * (cfg.num_steps if cfg.encoding == "rows" else 1)


def _generator_on(generator: torch.Generator | None, device: torch.device) -> torch.Generator | None:
    """``generator`` itself on its own device type; elsewhere (a GPU) a generator there with its seed."""
    if generator is None or generator.device.type == device.type:
        return generator
    return torch.Generator(device=device).manual_seed(generator.initial_seed())
