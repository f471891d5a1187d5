"""A split of an event dataset as it is cached: every sample's events in one array, plus offsets and labels,
so that an epoch opens no archive and reads no file format.

On disk a split is a folder of four files: ``events.bin`` (every sample's events one after another, 9 bytes an
event, little-endian: x, y as uint16, t as uint32 microseconds, p as uint8), ``offsets.npy`` (int64 ``[N + 1]``:
sample i is ``events[offsets[i]:offsets[i + 1]]``), ``labels.npy`` (int64 ``[N]``) and ``about.json`` (the
dataset, the split, the sensor, the classes and where the events came from). ``write`` streams the samples in
(a split of N-MNIST or DVS128 Gesture never has to fit in memory) to a folder under a temporary name and renames
it into place, so a crash or a bad sample leaves the old cache or none, never half of one; ``read`` maps the
events without reading them and checks that the four files agree, refusing a damaged cache in one line.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikevision.data import event_batch as eb
from spikevision.data import events as ev
from spikevision.data import frames as fr
from spikevision.errors import DataWarning, InvalidValue

PACKED = np.dtype([("x", "<u2"), ("y", "<u2"), ("t", "<u4"), ("p", "u1")])  # 9 bytes an event
FORMAT = 2  # about.json's "format": a cache of another layout is refused, and rebuilt by its maker


@dataclass(frozen=True, eq=False)
class EventSet:
    """One split of an event dataset: ``len(s)`` samples, ``s.sample(i)`` its events (``events.DTYPE``),
    ``s.labels`` int64 ``[N]``, ``s.frames(indices, n_time_bins=T)`` a batch of frames."""

    events: np.ndarray  # PACKED, every sample's events one after another (memory-mapped)
    offsets: np.ndarray  # int64 [N + 1]
    labels: np.ndarray  # int64 [N]
    sensor: ev.Sensor
    classes: tuple[str, ...]
    about: dict

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def sample(self, index: int) -> np.ndarray:
        """Sample ``index``'s events, ``events.DTYPE`` in time order."""
        if not -len(self) <= index < len(self):
            raise InvalidValue(f"sample {index} is out of range; this split has samples 0..{len(self) - 1}")
        index %= len(self)
        packed = self.events[self.offsets[index]: self.offsets[index + 1]]
        return ev.make(packed["x"], packed["y"], packed["t"], packed["p"])

    def first(self, count: int) -> EventSet:
        """The split's first ``count`` samples (all of them when it has fewer), sharing its mapped events."""
        count = min(count, len(self))
        return EventSet(self.events, self.offsets[: count + 1], self.labels[:count], self.sensor, self.classes,
                        self.about)

    def batch(self, indices) -> eb.Batch:
        """The samples ``indices`` as one ``event_batch.Batch`` (copied out of the mapped file)."""
        indices = self._indices(indices)
        starts, sizes = self.offsets[indices], self.offsets[indices + 1] - self.offsets[indices]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        where = np.repeat(starts - offsets[:-1], sizes) + np.arange(offsets[-1])
        packed = self.events[where]
        return eb.Batch(ev.make(packed["x"], packed["y"], packed["t"], packed["p"]), offsets)

    def frames(self, indices, n_time_bins: int, *, time_window: int = 0) -> np.ndarray:
        """The frames of the samples ``indices``: int16 ``[B, T, P, H, W]``, each sample cut into ``n_time_bins``
        equal time windows as ``frames.frames(sample, sensor, n_time_bins=T)`` cuts it (or into windows of
        ``time_window`` us, ``event_batch.frames``), in one compiled pass over the mapped file. An empty sample
        gives empty frames."""
        eb.check_cut(n_time_bins, time_window)
        indices = self._indices(indices)
        polarities, height, width = self.sensor.polarities, self.sensor.height, self.sensor.width
        out = np.zeros((len(indices), n_time_bins, polarities, height, width), dtype=np.int16)
        columns = [np.asarray(self.events[name]) for name in "xytp"]  # strided views of the mapped file
        bad = fr.loops().count_time_bins(*columns, self.offsets[indices], self.offsets[indices + 1],
                                         int(time_window), out)
        if bad >= 0:
            sample = int(np.searchsorted(self.offsets, bad, side="right")) - 1
            ev.check(self.sample(sample), self.sensor, source=f"cached sample {sample}")
            raise InvalidValue(f"cached sample {sample} is damaged; delete the cache to have it rebuilt")
        return out

    def _indices(self, indices) -> np.ndarray:
        """``indices`` as int64 ``[B]`` in ``0..N-1`` (negative ones from the end), or a refusal."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < -len(self) or indices.max() >= len(self)):
            raise InvalidValue(f"a sample index lies outside 0..{len(self) - 1}")
        return indices % max(len(self), 1)


def write(folder: str | os.PathLike, samples: Iterable[tuple[np.ndarray, int]], *, sensor: ev.Sensor,
          classes: tuple[str, ...], about: dict) -> EventSet:
    """Cache a split at ``folder`` (replacing one there) atomically from ``(events, label)`` samples, each
    checked on ``sensor`` as it comes; ``about`` says where they came from. Returns the split read back."""
    folder = Path(folder)
    temporary = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    try:
        offsets, labels = [0], []
        with (temporary / "events.bin").open("wb") as out:
            for i, (events, label) in enumerate(samples):
                out.write(_packed(events, sensor, f"{folder.name} sample {i}").tobytes())
                offsets.append(offsets[-1] + len(events))
                labels.append(label)
        offsets_array, labels_array = _checked_index(np.asarray(offsets), np.asarray(labels, dtype=np.int64),
                                                     offsets[-1], len(classes), folder)
        np.save(temporary / "offsets.npy", offsets_array)
        np.save(temporary / "labels.npy", labels_array)
        record = {**about, "format": FORMAT, "sensor": list(sensor), "classes": list(classes)}
        (temporary / "about.json").write_text(json.dumps(record, indent=1) + "\n")
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _replace(temporary, folder)
    return read(folder)


def write_arrays(folder: str | os.PathLike, events: np.ndarray, offsets, labels, **kwargs) -> EventSet:
    """``write`` from every sample's events in one array (sample i at ``offsets[i]:offsets[i + 1]``)."""
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or len(offsets) != len(labels) + 1 or offsets[0] != 0 or offsets[-1] != len(events) \
            or np.any(np.diff(offsets) < 0):
        raise InvalidValue(f"{folder}: the offsets must rise from 0 to the {len(events)} events, one more than the "
                           f"{len(labels)} labels")
    return write(folder, ((events[offsets[i]: offsets[i + 1]], labels[i]) for i in range(len(labels))), **kwargs)


def read(folder: str | os.PathLike) -> EventSet:
    """The split cached at ``folder``; a one-line refusal naming it when it is missing or damaged."""
    folder = Path(folder)
    try:
        about = json.loads((folder / "about.json").read_text())
        offsets = np.load(folder / "offsets.npy")
        labels = np.load(folder / "labels.npy")
        size = (folder / "events.bin").stat().st_size
    except (OSError, ValueError) as exc:
        raise InvalidValue(f"{folder} is not a readable event cache ({exc}); delete it to have it rebuilt") from exc
    if not isinstance(about, dict) or about.get("format") != FORMAT:
        raise InvalidValue(f"{folder} is an event cache of another layout; delete it to have it rebuilt")
    count = int(offsets[-1]) if offsets.ndim == 1 and len(offsets) else -1
    if size != count * PACKED.itemsize:
        raise InvalidValue(f"{folder}: events.bin has {size} bytes, not the {count} events of 9 bytes the offsets "
                           "say; delete it to have it rebuilt")
    classes = tuple(about["classes"])
    offsets, labels = _checked_index(offsets, labels, count, len(classes), folder)
    events = (np.memmap(folder / "events.bin", dtype=PACKED, mode="r", shape=(count,)) if count
              else np.zeros(0, dtype=PACKED))
    return EventSet(events, offsets, labels, ev.Sensor(*about["sensor"]), classes, about)


def cached(folder: str | os.PathLike) -> EventSet | None:
    """The split cached at ``folder``, or None when there is none or it cannot be used (of another layout, or
    damaged: a ``DataWarning`` says so), for its maker to build again."""
    folder = Path(folder)
    if not (folder / "about.json").exists():
        return None
    try:
        return read(folder)
    except InvalidValue as exc:
        warnings.warn(f"{exc.args[0].split('; delete it')[0]}; making it again", DataWarning, stacklevel=2)
        return None


def _packed(events: np.ndarray, sensor: ev.Sensor, source: str) -> np.ndarray:
    """A checked sample in the cache's 9-byte layout."""
    events = ev.check(events, sensor, source=source)
    if len(events) and (events["t"].min() < 0 or events["t"].max() >= 2**32):
        raise InvalidValue(f"{source}: times must lie in 0..2**32 - 1 us (71 minutes) to be cached")
    packed = np.empty(len(events), dtype=PACKED)
    for name in "xytp":
        packed[name] = events[name]
    return packed


def _checked_index(offsets: np.ndarray, labels: np.ndarray, count: int, classes: int, folder: Path):
    """``offsets`` and ``labels`` as int64 when they describe ``count`` events of ``classes`` classes."""
    if offsets.ndim != 1 or labels.ndim != 1 or len(offsets) != len(labels) + 1:
        raise InvalidValue(f"{folder}: {len(labels)} labels need {len(labels) + 1} offsets, got {len(offsets)}")
    if len(offsets) and (offsets[0] != 0 or offsets[-1] != count or np.any(np.diff(offsets) < 0)):
        raise InvalidValue(f"{folder}: the offsets must rise from 0 to the {count} events")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise InvalidValue(f"{folder}: a label lies outside 0..{classes - 1} (the dataset's {classes} classes)")
    return offsets.astype(np.int64), labels.astype(np.int64)


def _replace(temporary: Path, folder: Path) -> None:
    """Put ``temporary`` at ``folder``: the old folder is moved aside first and deleted last."""
    old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(temporary, folder)
    shutil.rmtree(old, ignore_errors=True)
