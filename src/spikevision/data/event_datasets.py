"""Event datasets by name: a split's samples from the cache, unpacked there once from its archive, which is
downloaded first where it is missing (``data.download``: resumable, verified).

``load(name, split)`` gives an ``eventset.EventSet``. The cache of a split is ``<root>/<name>/<split>/`` and its
archive ``<root>/<name>/<archive>``; a cache made from another archive than the record's is unpacked again.
The emulated ``nmnist-sim`` is built from MNIST instead (``data.nmnist_sim``). Where an archive cannot be had
(offline, as the machines this is tested on are), the refusal says in one line what is missing, where to get it
and which folder to put it in.

Each record's ``format`` names its unpacker, which yields ``(events, label)`` samples straight from the archive:

- ``atis-zip`` (N-MNIST): a zip of ``<Split>/<digit>/<id>.bin`` ATIS files (``data.atis``), in path order;
- ``aedat3-gesture`` (DVS128 Gesture): a tar.gz of AEDAT 3.1 recordings, their labels CSVs and
  ``trials_to_train.txt`` / ``trials_to_test.txt``; each listed recording cut into its gestures (``data.aedat3``);
- ``shd-zip`` (SHD): a zip of one HDF5 file (``data.shd``).
"""

from __future__ import annotations

import os
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np

from spikevision.data import aedat3, atis, datasets, download, eventset, shd
from spikevision.data import events as ev
from spikevision.data.fetching import DataNotFoundError, data_root
from spikevision.errors import InvalidValue

Samples = Iterator[tuple[np.ndarray, int]]
_BROKEN = (OSError, EOFError, zlib.error, tarfile.TarError, zipfile.BadZipFile)  # an archive damaged inside


def load(name: str, split: str, root: str | os.PathLike | None = None, *, limit: int = 0, download_missing: bool = True,
         progress: bool = False) -> eventset.EventSet:
    """Split ``split`` of event dataset ``name`` (its first ``limit`` samples when ``limit`` > 0)."""
    record = _record(name)
    datasets.check_split(split)
    if record.emulated_from:
        from spikevision.data import nmnist_sim

        return nmnist_sim.load(split, root, limit=limit, progress=progress)
    folder = data_root(root) / name / split
    remote = record.archives[split]
    cached = eventset.cached(folder)
    if cached is not None and cached.about.get("made_from") == remote.digest:
        return cached.first(limit) if limit else cached
    archive = _archive(record, split, root, download_missing=download_missing, progress=progress)
    samples = _guarded(UNPACKERS[record.format](archive, split, record), archive)
    made = eventset.write(folder, samples, sensor=ev.Sensor(*record.sensor), classes=record.classes,
                          about={"dataset": name, "split": split, "made_from": remote.digest, "archive": remote.name})
    return made.first(limit) if limit else made


def fetch(name: str, root: str | os.PathLike | None = None, *, progress: bool = False) -> list[Path]:
    """Both splits of ``name`` into the cache (downloaded and unpacked where needed); their folders."""
    for split in datasets.SPLITS:
        load(name, split, root, progress=progress)
    return [data_root(root) / name / split for split in datasets.SPLITS]


def _record(name: str) -> datasets.EventDataset:
    if name not in datasets.EVENT_DATASETS:
        raise InvalidValue(f"unknown event dataset {name!r}; choose one of: {', '.join(datasets.EVENT_DATASETS)}")
    return datasets.EVENT_DATASETS[name]


def _archive(record: datasets.EventDataset, split: str, root, *, download_missing: bool, progress: bool) -> Path:
    """The split's archive in the data root, verified; downloaded first where allowed."""
    remote, folder = record.archives[split], data_root(root) / record.name
    how = (f"download {remote.name} from {record.page}, put it in {folder} and run again "
           f"(or `spikevision data fetch --dataset {record.name}` where there is internet)")
    if download.verified(folder / remote.name, remote):
        return folder / remote.name
    if not download_missing:
        raise DataNotFoundError(f"{record.name} {split}: {remote.name} is not in {folder}; {how}")
    try:
        return download.download(remote, folder, progress=progress)
    except download.DownloadFailed as exc:
        raise DataNotFoundError(f"{record.name} {split}: {exc}; {how}") from None


def _atis_zip(archive: Path, split: str, record: datasets.EventDataset) -> Samples:
    sensor = ev.Sensor(*record.sensor)
    with _opened(archive, zipfile.ZipFile) as package:
        for member in sorted(n for n in package.namelist() if n.endswith(".bin")):
            label = PurePosixPath(member).parent.name
            if label not in record.classes:
                raise InvalidValue(f"{archive}: {member} lies in folder {label!r}, not one of the classes "
                                   f"{', '.join(record.classes)}")
            yield atis.decode(package.read(member), sensor, source=f"{archive.name}:{member}"), \
                record.classes.index(label)


def _aedat3_gesture(archive: Path, split: str, record: datasets.EventDataset) -> Samples:
    sensor = ev.Sensor(*record.sensor)
    with _opened(archive, tarfile.open) as package:
        members = {PurePosixPath(m.name).name: m for m in package.getmembers() if m.isfile()}
        listing = members.get(f"trials_to_{split}.txt")
        if listing is None:
            raise InvalidValue(f"{archive}: no trials_to_{split}.txt; not the DVS128 Gesture archive")
        for line in _text(package, listing).splitlines():
            recording = line.strip()
            if not recording:
                continue
            labels_name = recording.replace(".aedat", "_labels.csv")
            if recording not in members or labels_name not in members:
                raise InvalidValue(f"{archive}: {recording} or {labels_name} (listed for {split}) is missing")
            events = aedat3.decode(_bytes(package, members[recording]), sensor, source=f"{archive.name}:{recording}")
            labels = aedat3.parse_labels(_text(package, members[labels_name]), len(record.classes),
                                         source=f"{archive.name}:{labels_name}")
            yield from aedat3.gestures(events, labels)


def _shd_zip(archive: Path, split: str, record: datasets.EventDataset) -> Samples:
    with _opened(archive, zipfile.ZipFile) as package, tempfile.TemporaryDirectory(dir=archive.parent) as folder:
        members = [n for n in package.namelist() if n.endswith(".h5")]
        if len(members) != 1:
            raise InvalidValue(f"{archive}: expected one .h5 file in it, found {len(members)}")
        path = Path(package.extract(members[0], folder))
        samples, labels = shd.read(path)
    yield from zip(samples, labels.tolist())


UNPACKERS = {"atis-zip": _atis_zip, "aedat3-gesture": _aedat3_gesture, "shd-zip": _shd_zip}


def _guarded(samples: Samples, archive: Path) -> Samples:
    """``samples``, with a failure to read the archive said in one line; a failure to write the cache (a full
    disk) stays what it is, so a good archive is never blamed for it."""
    iterator = iter(samples)
    while True:
        try:
            sample = next(iterator)
        except StopIteration:
            return
        except _BROKEN as exc:
            raise InvalidValue(f"{archive}: damaged inside ({type(exc).__name__}: {exc}); delete it to have it "
                               "fetched again") from None
        yield sample


def _opened(archive: Path, opener):
    """The archive opened, or a one-line refusal naming it when it is not the kind it should be."""
    try:
        return opener(archive)
    except _BROKEN as exc:
        raise InvalidValue(f"{archive}: not a readable archive ({exc}); delete it to have it fetched again") from None


def _bytes(package: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = package.extractfile(member)
    if stream is None:
        raise InvalidValue(f"{member.name} in the archive is not a file")
    return stream.read()


def _text(package: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    return _bytes(package, member).decode("utf-8", errors="replace")
