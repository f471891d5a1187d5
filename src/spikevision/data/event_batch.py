"""A batch of event samples as one array, and the transforms of ``transforms`` and ``frames`` over a whole batch
at once: what a training step does to its 128 samples, without a Python loop over them.

A ``Batch`` is the cache's layout in memory: every sample's events (``events.DTYPE``) one after another and int64
``offsets`` ``[B + 1]`` (sample ``b`` is ``events[offsets[b]:offsets[b + 1]]``); ``EventSet.batch(indices)``
gathers one from a cached split, ``from_samples`` from a list of samples. Each function here gives, sample by
sample, what its one-sample namesake gives (tests/test_event_batch.py): per-event work is vectorised over the
batch with numpy, the sequential filters and the counting run as one compiled pass (``_filter_loops``,
``_frame_loops``) that starts each sample afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spikevision.data import events as ev
from spikevision.errors import InvalidType, InvalidValue


@dataclass(frozen=True, eq=False)
class Batch:
    """``len(batch)`` samples: ``events`` (``events.DTYPE``, sample after sample) cut by ``offsets`` (int64
    ``[B + 1]``, from 0 to ``len(events)``, never decreasing)."""

    events: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets)
        if (offsets.ndim != 1 or offsets.size < 1 or not np.issubdtype(offsets.dtype, np.integer)
                or offsets[0] != 0 or offsets[-1] != len(self.events) or np.any(np.diff(offsets) < 0)):
            raise InvalidValue(f"a batch's offsets run from 0 to its {len(self.events)} events and never decrease; "
                               f"got {offsets[:8].tolist()}{' ...' if offsets.size > 8 else ''}")
        object.__setattr__(self, "offsets", offsets.astype(np.int64))

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    def sample(self, index: int) -> np.ndarray:
        """Sample ``index``'s events."""
        return self.events[self.offsets[index]: self.offsets[index + 1]]

    def samples(self) -> list[np.ndarray]:
        return [self.sample(b) for b in range(len(self))]

    def sizes(self) -> np.ndarray:
        """Each sample's number of events, int64 ``[B]``."""
        return np.diff(self.offsets)

    def owners(self) -> np.ndarray:
        """Each event's sample, int64 ``[len(events)]``."""
        return np.repeat(np.arange(len(self)), self.sizes())

    def firsts(self) -> np.ndarray:
        """Each event's index within its sample, int64 ``[len(events)]``."""
        return np.arange(len(self.events)) - np.repeat(self.offsets[:-1], self.sizes())


def from_samples(samples: Sequence[np.ndarray]) -> Batch:
    """The samples (``events.DTYPE``) as one batch, copied into one array."""
    sizes = [len(sample) for sample in samples]
    events = np.concatenate([np.asarray(s, dtype=ev.DTYPE) for s in samples]) if samples else np.empty(0, ev.DTYPE)
    return Batch(events, np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]))


def of_sample(events: np.ndarray, sensor: ev.Sensor) -> Batch:
    """One sample, checked (``events.check``), as a batch of one: the one-sample transforms are this."""
    events = ev.check(events, sensor)
    if events.dtype != ev.DTYPE:
        events = ev.make(events["x"], events["y"], events["t"], events["p"])
    return Batch(events, np.array([0, len(events)]))


def check(batch: Batch, sensor: ev.Sensor, *, source: str = "batch") -> Batch:
    """``batch`` if every sample passes ``events.check`` (on the sensor, polarities 0/1, each in time order; one
    sample's end may come after the next one's start); else ``events.check``'s refusal, naming the sample."""
    if not isinstance(batch, Batch):
        raise InvalidType(f"{source}: expected an event_batch.Batch, got {type(batch).__name__}")
    events = batch.events
    if events.dtype != ev.DTYPE:
        raise InvalidType(f"{source}: a batch's events are events.DTYPE, got {events.dtype}")
    in_sensor = ((events["x"] >= 0) & (events["x"] < sensor.width) & (events["y"] >= 0)
                 & (events["y"] < sensor.height) & (events["p"] >= 0) & (events["p"] <= 1))
    backwards = np.zeros(len(events), dtype=bool)
    backwards[1:] = events["t"][1:] < events["t"][:-1]
    backwards[batch.offsets[:-1][batch.sizes() > 0]] = False  # a sample's first event follows no event of its own
    bad = np.flatnonzero(~in_sensor | backwards)
    if bad.size:
        sample = int(np.searchsorted(batch.offsets, bad[0], side="right")) - 1
        ev.check(batch.sample(sample), sensor, source=f"{source} sample {sample}")
    return batch


def keep(batch: Batch, mask: np.ndarray) -> Batch:
    """The batch with only the events where ``mask`` is true, each sample keeping its place (maybe emptied)."""
    kept = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    return Batch(batch.events[mask], kept[batch.offsets])


def check_cut(n_time_bins, time_window=0) -> None:
    """A one-line refusal of a cut into frames that is not ``n_time_bins`` >= 1 and ``time_window`` >= 0 us."""
    if not (isinstance(n_time_bins, (int, np.integer)) and n_time_bins >= 1):
        raise InvalidValue(f"n_time_bins must be a whole number >= 1, got {n_time_bins!r}")
    if not (isinstance(time_window, (int, np.integer)) and time_window >= 0):
        raise InvalidValue(f"time_window must be whole microseconds >= 0 (0: equal bins), got {time_window!r}")


def frames(batch: Batch, sensor: ev.Sensor, n_time_bins: int, *, time_window: int = 0) -> np.ndarray:
    """Each sample's frames, int16 ``[B, n_time_bins, P, H, W]``: its span cut into ``n_time_bins`` equal windows
    as ``frames.frames(sample, sensor, n_time_bins=T)`` cuts it, or (``time_window`` > 0) the first
    ``n_time_bins`` windows of ``time_window`` us from its first event, as ``frames.frames(sample, sensor,
    time_window=...)`` cuts them, later events left out and a short sample's last frames empty. An empty sample
    gives empty frames. The batch is checked in the same compiled pass that counts."""
    from spikevision.data import frames as fr

    check_cut(n_time_bins, time_window)
    out = np.zeros((len(batch), n_time_bins, sensor.polarities, sensor.height, sensor.width), dtype=np.int16)
    columns = [np.asarray(batch.events[name]) for name in "xytp"]
    bad = fr.loops().count_time_bins(*columns, batch.offsets[:-1], batch.offsets[1:], int(time_window), out)
    if bad >= 0:
        check(batch, sensor)
    return out


def voxel_grid(batch: Batch, sensor: ev.Sensor, n_time_bins: int) -> np.ndarray:
    """Each sample's event volume, float64 ``[B, n_time_bins, 1, H, W]``, as ``transforms.voxel_grid`` makes it."""
    check(batch, sensor)
    check_cut(n_time_bins)
    area = sensor.height * sensor.width
    grid = np.zeros(len(batch) * n_time_bins * area)
    events, owner = batch.events, batch.owners()
    if events.size:
        times = events["t"].astype(np.float64)
        nonempty = batch.sizes() > 0
        start, end = np.zeros(len(batch)), np.zeros(len(batch))
        start[nonempty] = times[batch.offsets[:-1][nonempty]]
        end[nonempty] = times[batch.offsets[1:][nonempty] - 1]
        span = (end - start)[owner]
        scaled = np.where(span > 0, n_time_bins * (times - start[owner]) / np.where(span > 0, span, 1), 0.0)
        below = scaled.astype(np.int64)
        share = scaled - below
        sign = np.where(events["p"] > 0, 1.0, -1.0)
        pixel = owner * n_time_bins * area + events["y"].astype(np.int64) * sensor.width + events["x"]
        for bins, weight in ((below, 1 - share), (below + 1, share)):
            inside = bins < n_time_bins
            np.add.at(grid, bins[inside] * area + pixel[inside], sign[inside] * weight[inside])
    return grid.reshape(len(batch), n_time_bins, 1, sensor.height, sensor.width)


def denoise(batch: Batch, sensor: ev.Sensor, filter_time: int) -> Batch:
    """Each sample without its isolated events, as ``transforms.denoise``."""
    return _filtered(batch, sensor, "denoise", "filter_time", filter_time)


def refractory(batch: Batch, sensor: ev.Sensor, period: int) -> Batch:
    """Each sample without the events within ``period`` us of their pixel's last, as ``transforms.refractory``."""
    return _filtered(batch, sensor, "refractory", "period", period)


def _filtered(batch: Batch, sensor: ev.Sensor, loop: str, name: str, value) -> Batch:
    """``batch`` through one of ``_filter_loops``' sequential filters, each sample on its own."""
    from spikevision.data import _filter_loops

    check(batch, sensor)
    if not (isinstance(value, (int, np.integer)) and value >= 0):
        raise InvalidValue(f"{name} must be whole microseconds >= 0, got {value!r}")
    events = batch.events
    mask = getattr(_filter_loops, loop)(events["x"], events["y"], events["t"], batch.offsets, sensor.width,
                                        sensor.height, int(value))
    return keep(batch, mask)
