"""The Spiking Heidelberg Digits (SHD, Cramer et al. 2020): spoken digits 0-9 in English and German (20 classes)
as spikes of 700 cochlea channels, one HDF5 file per split (``shd_train.h5``, ``shd_test.h5``).

A file holds ``spikes/times`` (one float array of seconds per sample), ``spikes/units`` (the channel of each
spike, 0..699) and ``labels``. A sample becomes events on a 700 x 1 sensor of one polarity: ``x`` the channel,
``y`` 0, ``t`` the time in microseconds (floored, as tonic 1.7.0 converts them), ``p`` 1 (tonic's too), so
tonic's SHD samples and these are the same events. A sample's spikes are put in time order (stably) where a file
has them otherwise. Read with h5py (which NIR already brings); a file that is not SHD's layout, a spike off the
700 channels or a label outside 0..19 is refused in one line that names the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikevision.data import events as ev
from spikevision.errors import InvalidValue

SENSOR = ev.Sensor(700, 1, 1)
CLASSES = 20


def read(path: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The samples of an SHD file (``events.DTYPE``, in time order) and their labels, int64 ``[N]``."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as file:
            times, units, labels = _datasets(file, path)
            samples = [_sample(times[i], units[i], path, i) for i in range(len(labels))]
            labels = np.asarray(labels[()], dtype=np.int64)
    except OSError as exc:  # h5py: not HDF5, truncated, unreadable
        raise InvalidValue(f"{path}: not a readable HDF5 file ({exc})") from None
    if len(labels) and (labels.min() < 0 or labels.max() >= CLASSES):
        raise InvalidValue(f"{path}: a label lies outside 0..{CLASSES - 1} (SHD's {CLASSES} classes)")
    return samples, labels


def write(path: str | Path, samples: list[tuple[np.ndarray, np.ndarray]], labels) -> None:
    """An SHD file of ``samples`` (each ``(times in seconds, channels)``) and ``labels``, in SHD's layout (float32
    seconds, uint16 channels, uint16 labels), as the published files are."""
    import h5py

    with h5py.File(path, "w") as file:
        times = file.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = file.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (seconds, channels) in enumerate(samples):
            times[i] = np.asarray(seconds, dtype=np.float32)
            units[i] = np.asarray(channels, dtype=np.uint16)
        file.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))


def _datasets(file, path: Path):
    """The file's times, units and labels, when it has SHD's layout and they agree in length."""
    missing = [name for name in ("spikes/times", "spikes/units", "labels") if name not in file]
    if missing:
        raise InvalidValue(f"{path}: no {', '.join(missing)} in the file; not an SHD file (shd_train.h5, shd_test.h5)")
    times, units, labels = file["spikes/times"], file["spikes/units"], file["labels"]
    if not len(times) == len(units) == len(labels):
        raise InvalidValue(f"{path}: {len(times)} spike times, {len(units)} unit lists and {len(labels)} labels; "
                           "they must be one per sample")
    return times, units, labels


def _sample(seconds: np.ndarray, channels: np.ndarray, path: Path, index: int) -> np.ndarray:
    """One sample's spikes as events, in time order."""
    if seconds.shape != channels.shape:
        raise InvalidValue(f"{path}: sample {index} has {seconds.size} times but {channels.size} units")
    micro = (seconds.astype(np.float64) * 1e6).astype(np.int64)
    order = np.argsort(micro, kind="stable")
    events = ev.make(channels[order].astype(np.int64), np.zeros(micro.size, np.int64), micro[order],
                     np.ones(micro.size, np.int64))
    return ev.check(events, SENSOR, source=f"{path} sample {index}")
