"""The Spiking Heidelberg Digits' HDF5 files (data/shd.py): files written in SHD's layout read back as events on
700 channels, tonic 1.7.0's SHD samples are the same events, and files of another layout are refused."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from tonic_reference import tonic_module

from spikevision.data import events as ev
from spikevision.data import shd


def spikes(seed: int, count: int = 8):
    """``count`` random samples of SHD's shape: a few thousand spikes in about a second, in time order."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        n = int(rng.integers(0, 4000))
        samples.append((np.sort(rng.uniform(0, 1.2, n)).astype(np.float32), rng.integers(0, 700, n)))
    return samples, rng.integers(0, 20, count)


def test_a_file_reads_back_as_events_on_700_channels(tmp_path):
    samples, labels = spikes(0)
    path = tmp_path / "shd_test.h5"
    shd.write(path, samples, labels)
    events, got = shd.read(path)
    assert got.tolist() == labels.tolist() and len(events) == 8
    for sample, (seconds, channels) in zip(events, samples):
        ev.check(sample, shd.SENSOR)
        assert sample["x"].tolist() == channels.tolist() and set(sample["y"]) <= {0} and set(sample["p"]) <= {1}
        assert np.abs(sample["t"] - seconds.astype(np.float64) * 1e6).max(initial=0) < 1


def test_tonics_shd_samples_are_the_same_events(tmp_path):
    """tonic's SHD.__getitem__ (the conversion of times and units it makes), run on the file written here."""
    samples, labels = spikes(1)
    path = tmp_path / "shd_train.h5"
    shd.write(path, samples, labels)
    make = tonic_module("io").make_structured_array
    ours, _ = shd.read(path)
    with h5py.File(path, "r") as file:
        for i, sample in enumerate(ours):
            dtype = np.dtype([("t", int), ("x", int), ("p", int)])
            theirs = make(file["spikes/times"][i].astype(np.float64) * 1e6, file["spikes/units"][i], 1, dtype=dtype)
            assert sample["t"].tolist() == theirs["t"].tolist() and sample["x"].tolist() == theirs["x"].tolist()
            assert sample["p"].tolist() == theirs["p"].tolist()


def test_spikes_out_of_time_order_are_sorted(tmp_path):
    path = tmp_path / "shd.h5"
    shd.write(path, [(np.array([0.3, 0.1, 0.2], np.float32), np.array([5, 6, 7]))], [3])
    (sample,), _ = shd.read(path)
    assert sample["x"].tolist() == [6, 7, 5] and np.all(np.diff(sample["t"]) > 0)


def test_files_of_another_layout_are_refused_in_one_line(tmp_path):
    samples, labels = spikes(2, count=3)
    path = tmp_path / "shd.h5"
    shd.write(path, samples, labels)
    with h5py.File(path, "a") as file:
        del file["labels"]
        file.create_dataset("labels", data=np.array([1, 2], np.uint16))
    with pytest.raises(ValueError, match="3 spike times, 3 unit lists and 2 labels"):
        shd.read(path)
    shd.write(path, samples, [1, 2, 25])
    with pytest.raises(ValueError, match=r"a label lies outside 0..19"):
        shd.read(path)
    bad = [(np.array([0.1], np.float32), np.array([700]))]
    shd.write(path, bad, [0])
    with pytest.raises(ValueError, match=r"sample 0: event 0 has x = 700, outside 0..699"):
        shd.read(path)
    with h5py.File(path, "w") as file:
        file.create_dataset("spikes/times", data=np.zeros(3))
    with pytest.raises(ValueError, match="no spikes/units, labels in the file; not an SHD file"):
        shd.read(path)
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        shd.read(path)
