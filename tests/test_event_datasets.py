"""Event datasets by name (data/event_datasets.py): tiny archives in each dataset's own layout (N-MNIST's zip of
ATIS files, DVS128 Gesture's tar.gz of AEDAT 3.1 recordings, SHD's zipped HDF5), served by a real HTTP server on
loopback, downloaded, unpacked into the cache once, and trained on end to end by each preset, shrunk."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import zipfile

import numpy as np
import pytest
from loopback_http import Server

from spikevision.data import aedat3, atis, datasets, event_datasets, shd
from spikevision.data import events as ev
from spikevision.data.fetching import DataNotFoundError
from spikevision.runs import config, train


def random_events(rng, sensor: ev.Sensor, count: int, duration: int) -> np.ndarray:
    return ev.make(rng.integers(0, sensor.width, count), rng.integers(0, sensor.height, count),
                   np.sort(rng.integers(0, duration, count)), rng.integers(0, 2, count))


def nmnist_zip(split: str, per_class: int = 3, seed: int = 0) -> tuple[bytes, list[tuple[np.ndarray, int]]]:
    """N-MNIST's layout: <Split>/<digit>/<id>.bin, ATIS files; the samples in path order."""
    rng, out, buffer = np.random.default_rng(seed), [], io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for digit in range(10):
            for k in range(per_class):
                events = random_events(rng, atis.NMNIST, int(rng.integers(200, 800)), 300_000)
                package.writestr(f"{split.title()}/{digit}/{k:05d}.bin", atis.encode(events))
                out.append((events, digit))
    return buffer.getvalue(), out


def gesture_tar(seed: int = 0) -> tuple[bytes, dict[str, list[tuple[np.ndarray, int]]]]:
    """DVS128 Gesture's layout: DvsGesture/ with recordings, labels CSVs and the two trial lists."""
    rng, expected, buffer = np.random.default_rng(seed), {"train": [], "test": []}, io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as package:
        def put(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"DvsGesture/{name}")
            info.size = len(data)
            package.addfile(info, io.BytesIO(data))

        lists = {"train": [], "test": []}
        for user, split in ((1, "train"), (2, "train"), (3, "test")):
            recording = random_events(rng, aedat3.DVS128, 30_000, 8_000_000)
            rows = [(int(rng.integers(1, 12)), start, start + 1_500_000) for start in (200_000, 2_500_000, 5_000_000)]
            name = f"user{user:02d}_fluorescent"
            put(f"{name}.aedat", aedat3.encode(recording))
            put(f"{name}_labels.csv", ("class,startTime_usec,endTime_usec\n"
                                       + "".join(f"{c},{s},{e}\n" for c, s, e in rows)).encode())
            lists[split].append(f"{name}.aedat")
            expected[split] += aedat3.gestures(recording, np.array([(c - 1, s, e) for c, s, e in rows]))
        for split, names in lists.items():
            put(f"trials_to_{split}.txt", ("\n".join(names) + "\n").encode())
    return buffer.getvalue(), expected


def shd_zip(tmp_path, split: str, count: int = 24, seed: int = 0) -> tuple[bytes, list[tuple[np.ndarray, int]]]:
    rng = np.random.default_rng(seed)
    samples = [(np.sort(rng.uniform(0, 1.0, n)).astype(np.float32), rng.integers(0, 700, n))
               for n in rng.integers(100, 600, count)]
    labels = rng.integers(0, 20, count)
    path = tmp_path / f"shd_{split}.h5"
    shd.write(path, samples, labels)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.write(path, path.name)
    events, _ = shd.read(path)
    return buffer.getvalue(), list(zip(events, labels.tolist()))


def serve(monkeypatch, server: Server, name: str, archives: dict[str, str]) -> None:
    """Point dataset ``name``'s record at ``server``: split -> archive file name there."""
    record = datasets.EVENT_DATASETS[name]
    remotes = {split: dataclasses.replace(record.archives[split], name=file, urls=(server.url(file),),
                                         digest="md5:" + hashlib.md5(server.files[file]).hexdigest())
               for split, file in archives.items()}
    monkeypatch.setitem(datasets.EVENT_DATASETS, name, dataclasses.replace(record, archives=remotes))


def same(split_set, expected) -> bool:
    return (len(split_set) == len(expected)
            and all(split_set.sample(i).tolist() == events.tolist() and split_set.labels[i] == label
                    for i, (events, label) in enumerate(expected)))


def test_nmnist_is_downloaded_unpacked_once_and_read_from_the_cache(tmp_path, monkeypatch):
    train_zip, train_samples = nmnist_zip("train")
    test_zip, test_samples = nmnist_zip("test", seed=1)
    with Server({"train.zip": train_zip, "test.zip": test_zip}) as server:
        serve(monkeypatch, server, "nmnist", {"train": "train.zip", "test": "test.zip"})
        folders = event_datasets.fetch("nmnist", tmp_path)
        assert [f.name for f in folders] == ["train", "test"] and len(server.requests) == 2
        assert same(event_datasets.load("nmnist", "train", tmp_path), train_samples)
        assert same(event_datasets.load("nmnist", "test", tmp_path), test_samples)
        stamp = (tmp_path / "nmnist" / "train" / "events.bin").stat().st_mtime_ns
        assert len(event_datasets.load("nmnist", "train", tmp_path, limit=7)) == 7
        assert (tmp_path / "nmnist" / "train" / "events.bin").stat().st_mtime_ns == stamp
        assert len(server.requests) == 2  # nothing fetched again


def test_dvs_gesture_recordings_are_cut_into_their_gestures_per_split(tmp_path, monkeypatch):
    archive, expected = gesture_tar()
    with Server({"DvsGesture.tar.gz": archive}) as server:
        serve(monkeypatch, server, "dvsgesture", {"train": "DvsGesture.tar.gz", "test": "DvsGesture.tar.gz"})
        train_set = event_datasets.load("dvsgesture", "train", tmp_path)
        test_set = event_datasets.load("dvsgesture", "test", tmp_path)
        assert len(server.requests) == 1  # one archive for both splits
    assert same(train_set, expected["train"]) and same(test_set, expected["test"])
    assert len(train_set) == 6 and len(test_set) == 3 and train_set.sensor == (128, 128, 2)


def test_shd_is_read_from_its_zipped_hdf5(tmp_path, monkeypatch):
    train_zip, train_samples = shd_zip(tmp_path, "train")
    with Server({"shd_train.h5.zip": train_zip}) as server:
        serve(monkeypatch, server, "shd", {"train": "shd_train.h5.zip"})
        cached = event_datasets.load("shd", "train", tmp_path / "root")
    assert same(cached, train_samples) and cached.sensor == (700, 1, 1)


def test_offline_the_refusal_says_what_is_missing_where_to_get_it_and_where_to_put_it(tmp_path, monkeypatch):
    record = datasets.EVENT_DATASETS["nmnist"]
    dead = {split: dataclasses.replace(remote, urls=("http://127.0.0.1:9/train.zip",))
            for split, remote in record.archives.items()}
    monkeypatch.setitem(datasets.EVENT_DATASETS, "nmnist", dataclasses.replace(record, archives=dead))
    with pytest.raises(DataNotFoundError) as caught:
        event_datasets.load("nmnist", "train", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "could not download train.zip" in message
    assert "data.mendeley.com/datasets/468j46mzdv" in message and f"put it in {tmp_path / 'nmnist'}" in message
    with pytest.raises(DataNotFoundError, match=r"train.zip is not in .*nmnist; download train.zip from"):
        event_datasets.load("nmnist", "train", tmp_path, download_missing=False)
    assert not (tmp_path / "nmnist" / "train").exists()


def test_a_damaged_archive_is_refused_and_leaves_no_cache(tmp_path, monkeypatch):
    archive, _ = gesture_tar(seed=2)
    cut = archive[: len(archive) // 2]
    with Server({"DvsGesture.tar.gz": cut}) as server:
        serve(monkeypatch, server, "dvsgesture", {"train": "DvsGesture.tar.gz", "test": "DvsGesture.tar.gz"})
        with pytest.raises(ValueError, match=r"DvsGesture.tar.gz: (damaged inside|not a readable archive)"):
            event_datasets.load("dvsgesture", "train", tmp_path)
    assert not (tmp_path / "dvsgesture" / "train").exists()
    assert [p.name for p in (tmp_path / "dvsgesture").iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("preset, overrides", [
    ("nmnist", ["model.conv='4C5-MP2'", "model.hidden=[16]", "train.num_steps=4", "train.batch_size=10"]),
    ("dvsgesture", ["model.conv='4C3-MP2-4C3-MP2-4C3-MP2-4C3-MP2-4C3-MP2'", "model.hidden=[16]",
                    "train.num_steps=4", "train.batch_size=3", "train.eval_batch_size=3"]),
    ("shd", ["model.hidden=[16]", "train.num_steps=10", "train.batch_size=8"]),
])
def test_each_real_data_preset_trains_end_to_end_on_tiny_files(tmp_path, monkeypatch, preset, overrides):
    if preset == "nmnist":
        files = {"train.zip": nmnist_zip("train")[0], "test.zip": nmnist_zip("test", per_class=1, seed=1)[0]}
        splits = {"train": "train.zip", "test": "test.zip"}
    elif preset == "dvsgesture":
        files = {"DvsGesture.tar.gz": gesture_tar()[0]}
        splits = {"train": "DvsGesture.tar.gz", "test": "DvsGesture.tar.gz"}
    else:
        files = {"shd_train.h5.zip": shd_zip(tmp_path, "train")[0],
                 "shd_test.h5.zip": shd_zip(tmp_path, "test", count=8, seed=1)[0]}
        splits = {"train": "shd_train.h5.zip", "test": "shd_test.h5.zip"}
    with Server(files) as server:
        serve(monkeypatch, server, preset, splits)
        cfg = config.resolve(preset, [*overrides, "train.epochs=1"])
        summary = train.fit(cfg, tmp_path / "run", data_root=tmp_path / "root")
    assert summary["dataset"] == preset and 0 <= summary["test_accuracy"] <= 1
    assert summary["input_spikes_per_sample"] > 0 and summary["steps"] >= 1


def test_data_info_of_a_missing_event_dataset_says_how_to_get_it(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "spikevision", "data", "info", "--dataset", "nmnist", "--root",
                           str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "train.zip is not in" in done.stderr and "spikevision data fetch --dataset nmnist" in done.stderr


def test_data_fetch_and_info_describe_an_event_dataset(tmp_path, monkeypatch, capsys):
    from spikevision.cli import main

    archive, expected = gesture_tar(seed=3)
    with Server({"DvsGesture.tar.gz": archive}) as server:
        serve(monkeypatch, server, "dvsgesture", {"train": "DvsGesture.tar.gz", "test": "DvsGesture.tar.gz"})
        assert main(["data", "fetch", "--dataset", "dvsgesture", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dvsgesture: 128x128 pixels, 2 polarities, 11 classes" in out and "  train         6" in out
    assert main(["data", "info", "--dataset", "dvsgesture", "--root", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["splits"]["test"]["samples"] == 3 == len(expected["test"])
    assert sum(summary["splits"]["train"]["label_counts"]) == 6
