"""spikevision sweep: one run per (encoding, time steps), a table and a plot that match the runs, resumable.

The sweep is tiny (784-32-10, 512 training images, 4 and 8 time steps) but real: every point trains on
MNIST and is evaluated on all 10,000 test images, so the spike counts can be checked against facts
computed here from the test images themselves.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spikevision import cli
from spikevision.pictures import figures
from spikevision.runs import sweep, train

TINY = ["model.hidden=[32]", "train.eval_batch_size=2500"]
SUBSET = 512
ENCODINGS = ("direct", "rate", "latency")
STEPS = (4, 8)
HIDDEN = 32


class Crash(Exception):
    """Stands for the process dying in the middle of a point."""


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, mnist_root):
    out = tmp_path_factory.mktemp("sweep")
    events = []
    points = sweep.run_sweep(out, overrides=TINY, encodings=ENCODINGS, steps=(8, 4), train_subset=SUBSET,
                             data_root=mnist_root, on_event=lambda kind, info: events.append((kind, info)))
    figures.sweep_picture(out)  # what the command draws after each point
    return out, points, events


def no_training(*args, **kwargs):
    raise AssertionError("train.fit was called for a point that should have been reused")


def sweep_args(out: Path, root: Path, *extra: str) -> list[str]:
    args = ["sweep", "--encodings", ",".join(ENCODINGS), "--steps", ",".join(map(str, STEPS)),
            "--train-subset", str(SUBSET), "--root", str(root), "--out", str(out), "--quiet"]
    for item in TINY:
        args += ["--set", item]
    return [*args, *extra]


# --------------------------------------------------------------------------- the runs


def test_one_run_directory_per_point_with_its_encoding_and_steps(tiny_sweep):
    out, points, events = tiny_sweep
    # Encodings in the order given, steps sorted (8, 4 was given).
    assert [(p.encoding, p.num_steps) for p in points] == [(e, s) for e in ENCODINGS for s in STEPS]
    for p in points:
        run_dir = out / p.run
        assert run_dir.name == f"{p.encoding}-{p.num_steps}steps"
        saved = json.loads((run_dir / "config.json").read_text())
        assert saved["preset"] == "quick"
        assert saved["model"]["hidden"] == [HIDDEN]
        t = saved["train"]
        assert (t["encoding"], t["num_steps"], t["train_subset"], t["epochs"]) == (p.encoding, p.num_steps, SUBSET, 1)
        assert t["encoding_options"] == sweep.DEFAULT_OPTIONS[p.encoding]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["test_samples"] == 10_000
        assert summary["steps"] == SUBSET // 128  # the quick preset's batch 128, the last partial batch dropped
    kinds = [kind for kind, _ in events]
    assert kinds.count("point") == kinds.count("point_done") == kinds.count("start") == len(points)
    assert not any(info["reused"] for kind, info in events if kind == "point")


def test_table_rows_are_the_runs_own_summaries(tiny_sweep):
    out, points, _ = tiny_sweep
    for p in points:
        summary = json.loads((out / p.run / "summary.json").read_text())
        assert p.test_accuracy == summary["test_accuracy"]
        assert p.spikes_per_sample == pytest.approx(sum(summary["spikes_per_layer"]))
        assert p.synops_per_sample == summary["synops_per_sample"]
        assert p.train_seconds == summary["train_seconds"]
    # Trained, not chance: even 4 batches of 128 images lift a 784-32-10 net with direct input well above 10 %.
    assert all(p.test_accuracy > 0.2 for p in points if p.encoding == "direct")


def test_csv_and_json_hold_the_same_points(tiny_sweep):
    out, points, _ = tiny_sweep
    with open(out / sweep.CSV_NAME, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == sweep.COLUMNS
    assert len(rows) == len(points)
    for row, p in zip(rows, points):
        assert (row["encoding"], int(row["num_steps"])) == (p.encoding, p.num_steps)
        assert float(row["test_accuracy"]) == p.test_accuracy
        assert float(row["synops_per_sample"]) == p.synops_per_sample
        assert row["input_spikes_per_sample"] == ("" if p.encoding == "direct" else repr(p.input_spikes_per_sample))
    meta, from_json = sweep.read_results(out)
    assert from_json == points
    assert meta["encodings"] == list(ENCODINGS) and meta["steps"] == list(STEPS)
    assert (meta["train_subset"], meta["epochs"], meta["preset"]) == (SUBSET, 1, "quick")


def test_input_spikes_match_the_test_images(tiny_sweep, mnist_test):
    _, points, _ = tiny_sweep
    pixels = mnist_test.images.numpy().reshape(len(mnist_test.images), -1)
    for p in points:
        if p.encoding == "direct":
            assert p.input_spikes_per_sample is None  # pixels enter as a current, not as spikes
        elif p.encoding == "latency":
            # Clipped latency code: one spike per pixel at or above the threshold 0.01, i.e. value >= 3 of 255.
            assert p.input_spikes_per_sample == pytest.approx((pixels >= 3).sum(1).mean(), rel=1e-9)
        else:
            # Rate code with gain 1: each pixel spikes with probability value/255 at each of the T steps.
            expected = p.num_steps * (pixels / 255.0).sum(1).mean()
            assert p.input_spikes_per_sample == pytest.approx(expected, rel=5e-3)


def test_synops_count_every_spike_times_its_fan_out(tiny_sweep):
    out, points, _ = tiny_sweep
    for p in points:
        hidden, output = json.loads((out / p.run / "summary.json").read_text())["spikes_per_layer"]
        # A hidden spike reaches the 10 output neurons; an input spike the 32 hidden ones. Direct input is a
        # dense current computed once, so it adds no synaptic operations.
        expected = hidden * 10 + (0 if p.input_spikes_per_sample is None else p.input_spikes_per_sample * HIDDEN)
        assert p.synops_per_sample == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- the plot


def test_plot_has_one_line_per_encoding_with_the_table_values(tiny_sweep):
    out, points, _ = tiny_sweep
    with Image.open(out / sweep.PLOT_NAME) as img:
        assert img.size == (1100, 440)  # 11 x 4.4 inches at 100 dpi
    fig = figures.sweep_figure(points, title="t")
    ax_steps, ax_spikes = fig.axes
    for ax, x_of in ((ax_steps, lambda p: p.num_steps), (ax_spikes, lambda p: p.spikes_per_sample)):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert sorted(lines) == sorted(ENCODINGS)
        for enc, line in lines.items():
            mine = sorted((p for p in points if p.encoding == enc), key=lambda p: p.num_steps)
            np.testing.assert_allclose(line.get_xdata(), [x_of(p) for p in mine])
            np.testing.assert_allclose(line.get_ydata(), [p.test_accuracy * 100 for p in mine])
        assert ax.get_ylabel() == "Test accuracy (%)"
    assert "(T)" in ax_steps.get_xlabel() and "(count)" in ax_spikes.get_xlabel()
    assert list(ax_steps.get_xticks()) == list(STEPS)
    # Under the panels, the picture says every T had the same training (a falling line is the budget, not T)
    meta = json.loads((out / sweep.JSON_NAME).read_text())
    note = figures.sweep_figure(points, note=sweep.budget_note(meta)).get_supxlabel()
    assert f"({meta['epochs']} epoch" in note and f"on {meta['train_subset']:,} training images" in note
    assert "it does not show that more time steps hurt" in note


def test_plot_without_points_is_refused():
    with pytest.raises(ValueError, match="no points"):
        figures.sweep_figure([])


# --------------------------------------------------------------------------- resuming


def test_finished_points_are_reused_without_training(tiny_sweep, mnist_root, tmp_path, monkeypatch):
    out, points, _ = tiny_sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    monkeypatch.setattr(train, "fit", no_training)
    events = []
    again = sweep.run_sweep(copy, overrides=TINY, encodings=ENCODINGS, steps=STEPS, train_subset=SUBSET,
                            data_root=mnist_root, on_event=lambda kind, info: events.append((kind, info)))
    assert again == points
    assert all(info["reused"] for kind, info in events if kind == "point")


def test_interrupted_sweep_continues_to_the_same_results(tiny_sweep, mnist_root, tmp_path):
    _, points, _ = tiny_sweep
    out = tmp_path / "interrupted"
    seen = []

    def crash_in_second_point(kind, info):
        seen.append(kind)
        if kind == "step" and seen.count("point") == 2 and info["step"] == 2:
            raise Crash

    with pytest.raises(Crash):
        sweep.run_sweep(out, overrides=TINY, encodings=("direct",), steps=STEPS, train_subset=SUBSET,
                        data_root=mnist_root, on_event=crash_in_second_point)
    assert (out / "direct-4steps" / "summary.json").is_file()
    assert not (out / "direct-8steps" / "summary.json").exists()
    events = []
    resumed = sweep.run_sweep(out, overrides=TINY, encodings=("direct",), steps=STEPS, train_subset=SUBSET,
                              data_root=mnist_root, on_event=lambda kind, info: events.append((kind, info)))
    assert [info["reused"] for kind, info in events if kind == "point"] == [True, False]
    # Per-step seeds make the continued run the run that was never interrupted.
    want = {(p.encoding, p.num_steps): p.test_accuracy for p in points if p.encoding == "direct"}
    assert {(p.encoding, p.num_steps): p.test_accuracy for p in resumed} == want


def test_a_point_of_other_settings_is_refused_before_any_training(tiny_sweep, mnist_root, monkeypatch):
    out, _, _ = tiny_sweep
    monkeypatch.setattr(train, "fit", no_training)
    with pytest.raises(ValueError, match=r"train\.train_subset: 512 there, 256 now"):
        sweep.run_sweep(out, overrides=TINY, encodings=ENCODINGS, steps=STEPS, train_subset=256, data_root=mnist_root)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"encodings": ("direct", "poisson")}, "unknown encoding.*'poisson'.*direct, rate, latency"),
        ({"encodings": ()}, "no encodings"),
        ({"steps": (5, 0)}, "whole numbers >= 1; got 0"),
        ({"steps": (5, 5)}, "repeated: 5"),
        ({"encodings": ("rate", "rate")}, "repeated: rate"),
        ({"overrides": ["train.num_steps=50"]}, "sets train.num_steps itself; use --steps"),
        ({"overrides": ["encoding=rate"]}, "sets train.encoding itself; use --encodings"),
        ({"overrides": ["model.beta=2"]}, "beta must be a number in \\[0, 1\\]"),
        ({"preset": "nope"}, "unknown preset 'nope'"),
    ],
)
def test_bad_grid_or_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sweep.point_configs(**kwargs)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--encodings", "direct,morse"], "unknown encoding(s) 'morse'"),
        (["--steps", "5,ten"], "comma-separated whole numbers"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--train-subset", "-1"], "--train-subset must be >= 0"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, extra, message):
    code = cli.main(["sweep", "--out", str(tmp_path / "s"), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_cli_defaults_are_the_small_sweep():
    args = cli.build_parser().parse_args(["sweep", "--out", "x"])
    assert args.encodings == ("direct", "rate", "latency")
    assert args.steps == (5, 10, 25)
    assert (args.epochs, args.train_subset, args.preset) == (1, 10_000, "quick")


def test_cli_prints_the_table_of_a_finished_sweep(tiny_sweep, mnist_root, tmp_path, capsys, monkeypatch):
    out, points, _ = tiny_sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / sweep.PLOT_NAME).unlink()
    monkeypatch.setattr(train, "fit", no_training)
    assert cli.main(sweep_args(copy, mnist_root)) == 0
    assert (copy / sweep.PLOT_NAME).is_file()  # the command draws the picture of the points
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"sweep of {len(points)} runs -> {copy}")
    rows = printed[2:]
    assert len(rows) == len(points)
    for row, p in zip(rows, points):
        fields = row.split()
        assert fields[:3] == [p.encoding, str(p.num_steps), f"{p.test_accuracy * 100:.2f}%"]
        assert fields[-1] == p.run
