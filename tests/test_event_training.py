"""Networks on events: an event split fed as frames [T, B, 2, H, W] (runs/inputs.py), the configs that say so,
and a conv net trained and evaluated end to end on emulated N-MNIST (the nmnist-sim preset, shrunk)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from spikevision.data import nmnist_sim
from spikevision.runs import config, inputs, train

SMALL = ["train.train_subset=256", "train.test_subset=128", "train.epochs=1", "train.num_steps=4",
         "train.batch_size=64", "model.conv='8C5-MP2'", "model.hidden=[32]"]


@pytest.fixture
def event_root(tmp_path, mnist_root):
    """A data root whose MNIST is the shared one, so that nmnist-sim is built here from it."""
    (tmp_path / "mnist").symlink_to(mnist_root / "mnist")
    return tmp_path


def test_an_event_split_is_indexed_as_frames_time_first_for_the_network(event_root):
    cfg = config.resolve("nmnist-sim", SMALL).train
    data = inputs.load_data(cfg, "test", event_root, limit=40)
    split = nmnist_sim.load("test", event_root, limit=40)
    assert data.images.shape == (40, 4, 2, 34, 34) and len(data.labels) == 40
    batch = data.images[torch.tensor([7, 3])]
    assert batch.dtype == torch.float32
    assert np.array_equal(batch.numpy(), split.frames([7, 3], 4))
    assert torch.equal(data.images[3], batch[1]) and torch.equal(data.images[2:4][1], batch[1])
    x = inputs.model_input(batch, cfg, None)
    assert x.shape == (4, 2, 2, 34, 34) and torch.equal(x[:, 1], batch[1])


def test_a_shift_moves_all_of_an_event_samples_frames_alike(event_root):
    cfg = config.resolve("nmnist-sim", [*SMALL, "train.augment_shift=3"]).train
    frames = inputs.load_data(cfg, "test", event_root, limit=8).images[0:8]
    moved = inputs.augment(frames, cfg, torch.Generator().manual_seed(0))
    assert moved.shape == frames.shape
    assert not torch.equal(moved, frames)
    for before, after in zip(frames, moved):  # one offset per sample: the events' footprint moves as one
        found = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                 if torch.equal(torch.roll(before, (dy, dx), (-2, -1))[..., 3:-3, 3:-3], after[..., 3:-3, 3:-3])]
        assert found


@pytest.mark.parametrize("overrides, message", [
    (["train.dataset='mnist'"], "encoding = frames reads event datasets"),
    (["train.encoding='direct'"], "encoding = frames reads event datasets"),
    (["model.input_shape=[1, 34, 34]"], r"frames are \[2, 34, 34\].*needs model.input_shape = \[2, 34, 34\]"),
    (["train.encoding_options={gain = 2}"], "takes one option, window_us"),
    (["train.encoding_options={window_us = 0}"], "takes one option, window_us"),
    (["train.augment_event_drop=1.5"], r"augment_event_drop must be a number in \[0, 1\]"),
    (["model.num_classes=11"], "nmnist-sim has 10 classes: it needs model.num_classes = 10"),
])
def test_configs_that_would_feed_events_wrongly_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        config.resolve("nmnist-sim", overrides)


def test_event_changes_are_refused_on_still_images():
    with pytest.raises(ValueError, match="augment_time_jitter changes events: it needs an event dataset"):
        config.resolve("quick", ["train.augment_time_jitter=100"])


def test_training_batches_are_changed_as_events_before_they_are_cut(event_root):
    plain = config.resolve("nmnist-sim", SMALL).train
    data = inputs.load_data(plain, "test", event_root, limit=16)
    picked, generator = torch.arange(16), torch.Generator().manual_seed(0)
    assert torch.equal(data.images.changed(picked, plain, generator), data.images[picked])  # nothing on: as is
    assert generator.initial_seed() == 0 and torch.equal(generator.get_state(),
                                                         torch.Generator().manual_seed(0).get_state())
    swapped = config.resolve("nmnist-sim", [*SMALL, "train.augment_polarity_flip=1.0"]).train
    assert torch.equal(data.images.changed(picked, swapped, generator), data.images[picked][:, :, [1, 0]])
    thinned = config.resolve("nmnist-sim", [*SMALL, "train.augment_event_drop=0.5",
                                            "train.augment_time_jitter=300", "train.augment_time_reverse=0.5"]).train
    once, again = (data.images.changed(picked, thinned, torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(once, again)  # the step's generator decides every draw
    kept = once.sum((1, 2, 3, 4)) / data.images[picked].sum((1, 2, 3, 4))
    assert ((kept > 0.4) & (kept < 0.6)).all()  # half the events dropped (a few more lost at the edges)


def test_an_fc_network_reads_events_at_a_millisecond_a_step_and_so_does_its_nir_graph(tmp_path, event_root,
                                                                                     capsys):
    import nir

    from spikevision.cli import main

    cfg = config.resolve("nmnist-sim", [*SMALL, "model.kind='mlp'", "model.conv=''", "model.learn_tau='none'",
                                        "train.num_steps=300", "train.encoding_options={window_us = 1000}",
                                        "train.augment_event_drop=0.1", "train.augment_time_jitter=500"])
    frames = inputs.load_data(cfg.train, "test", event_root, limit=4).images[0:4]
    split = nmnist_sim.load("test", event_root, limit=4)
    assert frames.shape == (4, 300, 2, 34, 34)
    for i in range(4):  # every event of the first 300 ms in the step of its millisecond
        times = split.sample(i)["t"]
        assert frames[i].sum() == np.count_nonzero(times < times[0] + 300_000)
        assert frames[i, 5].sum() == np.count_nonzero((times >= times[0] + 5_000) & (times < times[0] + 6_000))
    run_dir = tmp_path / "run"
    summary = train.fit(cfg, run_dir, data_root=event_root)
    assert main(["export", str(run_dir), "--out", str(tmp_path / "net.nir")]) == 0
    metadata = nir.read(tmp_path / "net.nir").metadata
    assert metadata["binning"] == "time_window" and int(metadata["window_us"]) == 1000
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "net.nir"), "--root", str(event_root), "--limit", "128", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == summary["test_accuracy"]


def test_a_conv_net_trains_on_emulated_events_and_evaluate_gives_its_accuracy(tmp_path, event_root):
    cfg = config.resolve("nmnist-sim", SMALL)
    run_dir = tmp_path / "run"
    summary = train.fit(cfg, run_dir, data_root=event_root)
    assert summary["dataset"] == "nmnist-sim" and summary["test_samples"] == 128
    assert summary["input_spikes_per_sample"] > 1000  # the samples' events, each a spike into the first layer
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [s["loss"] for s in steps if "loss" in s]
    assert len(losses) == 4 and losses[-1] < losses[0]
    out = subprocess.run([sys.executable, "-m", "spikevision", "evaluate", str(run_dir), "--root", str(event_root),
                          "--json"], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["num_samples"] == 128 and result["accuracy"] == summary["test_accuracy"]


def test_an_event_network_goes_to_nir_with_its_binning_and_runs_there_on_the_same_frames(tmp_path, event_root,
                                                                                       capsys):
    import nir

    from spikevision.cli import main

    cfg = config.resolve("nmnist-sim", [*SMALL, "model.conv='8C5-AP2'", "model.reset='zero'"])
    run_dir = tmp_path / "run"
    summary = train.fit(cfg, run_dir, data_root=event_root)
    assert main(["export", str(run_dir), "--out", str(tmp_path / "net.nir")]) == 0
    metadata = nir.read(tmp_path / "net.nir").metadata
    assert metadata["dataset"] == "nmnist-sim" and list(metadata["input_shape"]) == [2, 34, 34]
    assert metadata["binning"] == "n_time_bins" and int(metadata["num_steps"]) == 4
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "net.nir"), "--root", str(event_root), "--limit", "128", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_samples"] == 128 and result["accuracy"] == summary["test_accuracy"]


def test_an_event_run_is_inspected_and_reported(tmp_path, event_root, capsys):
    from spikevision.cli import main

    run_dir = tmp_path / "run"
    train.fit(config.resolve("nmnist-sim", SMALL), run_dir, data_root=event_root)
    assert main(["inspect", str(run_dir), "--root", str(event_root), "--count", "2", "--out",
                 str(tmp_path / "inside")]) == 0
    assert len(list((tmp_path / "inside").glob("test*.png"))) >= 2
    assert main(["report", str(run_dir), "--root", str(event_root)]) == 0
    page = (run_dir / "report.html").read_text()
    assert "This run reads events" in page and "nmnist-sim test sample 0" in page
    assert "on 128 nmnist-sim test" in page
