"""Inspecting a trained run on real MNIST: the library side (inspection.py, figures) and `spikevision inspect`."""

from __future__ import annotations

import dataclasses
import re

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from conftest import TINY_RUN_STEPS as STEPS
from PIL import Image

from spikevision import metrics
from spikevision.analysis import inspection
from spikevision.cli import main
from spikevision.pictures import figures, plotting
from spikevision.runs import rundir, train


@pytest.fixture(scope="module")
def loaded(tiny_run, mnist_test):
    config, model = rundir.load_run(tiny_run)
    return config, model, train.TensorData.from_split(mnist_test)


def _table(out):
    """Rows (index, true, predicted, verdict, spikes, [files]) of the printed table."""
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+(\d)\s+(\d)\s+(right|WRONG)\s+(\d+)\s+(\S.*)$", line)
        if m:
            rows.append((int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5]), m[6].split(", ")))
    return rows


def test_inspect_writes_rasters_traces_and_animations_with_one_frame_per_step(capsys, tmp_path, tiny_run, mnist_root,
                                                                               loaded):
    _, model, test = loaded
    rc = main(["inspect", str(tiny_run), "--root", str(mnist_root), "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = _table(out)
    # Independent of the command: the whole first part of the test set in one batch, direct input.
    with torch.no_grad():
        batch = model(test.images[:200], num_steps=STEPS)
    predicted = metrics.predict_from_output(batch.spk, batch.mem)
    first_wrong = int((predicted != test.labels[:200]).nonzero()[0, 0])
    assert [r[0] for r in rows] == [0, 1, 2] + ([first_wrong] if first_wrong > 2 else [])
    assert any(r[3] == "WRONG" for r in rows)
    for index, label, pred, verdict, spikes, files in rows:
        assert (label, pred) == (int(test.labels[index]), int(predicted[index]))
        assert verdict == ("right" if label == pred else "WRONG")
        assert spikes == int(batch.spk[:, index].sum())
        stem = f"test{index}-label{label}-pred{pred}"
        assert files == [f"{stem}-layers.png", f"{stem}-membrane.png", f"{stem}-counts.gif", f"{stem}-counts.mp4"]
        with Image.open(tmp_path / files[0]) as img:
            assert img.format == "PNG" and img.size[0] == 1000 and img.size[1] > 500
        with Image.open(tmp_path / files[1]) as img:
            assert img.size == (900, 450)
        with Image.open(tmp_path / files[2]) as gif:
            assert gif.n_frames == STEPS and gif.size == (640, 400)
        frames = list(imageio_ffmpeg.read_frames(str(tmp_path / files[3])))
        meta, pixels = frames[0], frames[1:]
        assert tuple(meta["size"]) == (640, 400) and len(pixels) == STEPS
        assert all(len(p) == 640 * 400 * 3 for p in pixels)
    assert {p.name for p in tmp_path.iterdir()} == {f for r in rows for f in r[5]}


def test_chosen_indices_and_their_order(capsys, tmp_path, tiny_run, mnist_root):
    rc = main(["inspect", str(tiny_run), "--index", "42", "7", "42", "--root", str(mnist_root), "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert [r[0] for r in _table(out)] == [42, 7]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--index", "10000"], "test image index 10000 is out of range"),
        (["--count", "0"], "--count must be >= 1"),
        (["--fps", "0"], "--fps must be in (0, 100]"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, tmp_path, tiny_run, mnist_root, args, message):
    rc = main(["inspect", str(tiny_run), *args, "--root", str(mnist_root), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("spikevision inspect: error:"), err
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_directory_without_a_run_is_a_clear_error(capsys, tmp_path):
    rc = main(["inspect", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "no config.json" in err


def test_inspection_records_every_layer_as_the_batch_sees_it(loaded):
    config, model, test = loaded
    [ins] = inspection.inspect_samples(model, config.train, test, [5])
    with torch.no_grad():
        out = model(test.images[:10], num_steps=STEPS, record=True)
    torch.testing.assert_close(ins.spk, out.spk[:, 5])
    torch.testing.assert_close(ins.mem, out.mem[:, 5])
    torch.testing.assert_close(ins.hidden[0], out.hidden[0][:, 5])
    assert ins.hidden_names == ("fc1",) and ins.hidden[0].shape == (STEPS, 512)
    # Direct encoding: the first layer sees the pixels, the same at every step.
    assert not ins.input_is_spikes and ins.input.shape == (STEPS, 784)
    assert torch.equal(ins.input, test.images[5].flatten().expand(STEPS, -1))
    assert ins.label == int(test.labels[5]) and ins.correct == (ins.prediction == ins.label)
    assert torch.equal(ins.spike_counts, out.spk[:, 5].sum(0).long())
    assert inspection.output_threshold(model) == 1.0


def test_rate_coded_samples_get_the_same_spikes_alone_or_together(loaded):
    config, model, test = loaded
    cfg = dataclasses.replace(config.train, encoding="rate", num_steps=40)
    together = inspection.inspect_samples(model, cfg, test, [3, 9, 11])
    [alone] = inspection.inspect_samples(model, cfg, test, [9])
    assert alone.input_is_spikes and torch.equal(alone.input, together[1].input)
    assert torch.equal(alone.spk, together[1].spk)
    # A rate code fires each pixel with its value as the probability: 40 draws per pixel.
    pixels = test.images[9].flatten().double()
    mean, sd = 40 * pixels.sum(), (40 * (pixels * (1 - pixels)).sum()).sqrt()
    assert abs(float(alone.input.sum()) - float(mean)) < 5 * float(sd)
    assert not torch.equal(together[0].input, together[2].input)


def test_find_examples_returns_the_first_right_and_wrong_in_order(loaded):
    config, model, test = loaded
    right, wrong = inspection.find_examples(model, config.train, test, right=4, wrong=2, batch_size=64)
    with torch.no_grad():
        out = model(test.images[:400], num_steps=STEPS)
    hits = (metrics.predict_from_output(out.spk, out.mem) == test.labels[:400]).tolist()
    assert right == [i for i, h in enumerate(hits) if h][:4]
    assert wrong == [i for i, h in enumerate(hits) if not h][:2]
    assert inspection.find_examples(model, config.train, test, right=0, wrong=0) == ([], [])
    with pytest.raises(ValueError, match="right must be a whole number >= 0"):
        inspection.find_examples(model, config.train, test, right=-1, wrong=1)
    with pytest.raises(TypeError, match="whole numbers"):
        inspection.check_indices([1.5], 10)
    with pytest.raises(ValueError, match="at least one"):
        inspection.check_indices([], 10)


def test_figures_show_the_recorded_activity(loaded):
    config, model, test = loaded
    ins = inspection.inspect_samples(model, config.train, test, [0, 1])
    fig = figures.layer_activity(ins[0], test.classes)
    image_ax, input_ax, hidden_ax, output_ax = (ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>")
    (colorbar,) = (ax for ax in fig.axes if ax.get_label() == "<colorbar>")  # what the input's shades mean
    assert "pixel value" in colorbar.get_ylabel() and input_ax.get_ylabel() == "Input neuron\n(pixel index)"
    assert input_ax.images[0].get_array().shape == (784, STEPS)  # direct input: the pixel current map
    assert len(hidden_ax.collections[0].get_offsets()) == int(ins[0].hidden[0].sum())
    assert len(output_ax.collections[0].get_offsets()) == int(ins[0].spk.sum())
    assert f"Test image 0: true 7, predicted {ins[0].prediction}" in fig.texts[0].get_text()

    fig = figures.output_membranes(ins[1], test.classes, 1.0)
    (ax,) = fig.axes
    np.testing.assert_allclose(np.stack([line.get_ydata() for line in ax.lines[:10]], 1), ins[1].mem.numpy(), rtol=1e-6)
    assert ax.lines[10].get_ydata()[0] == 1.0
    counts = ins[1].spike_counts.tolist()
    assert [t.get_text() for t in ax.get_legend().get_texts()][:10] == [
        f"{c}: {n} spike{'s' if n != 1 else ''}" + (" (predicted)" if i == ins[1].prediction else "")
        for i, (c, n) in enumerate(zip(test.classes, counts))]
    widths = [line.get_linewidth() for line in ax.lines[:10]]
    assert widths.index(max(widths)) == ins[1].prediction and widths.count(max(widths)) == 1

    fig = figures.prediction_examples(ins, test.classes, title="examples")
    assert plotting.figure_to_array(fig).shape == (int(0.5 * 100 + 2 * 180), 900, 3)
    with pytest.raises(ValueError, match="at least one"):
        figures.prediction_examples([], test.classes, title="none")


def test_current_map_draws_values_on_the_raster_axes():
    values = torch.rand(12, 30, generator=torch.Generator().manual_seed(0))
    fig, ax = plotting.new_figure()
    image = plotting.current_map(ax, values, title="currents")
    np.testing.assert_allclose(image.get_array(), values.numpy().T)
    assert image.get_extent() == [-0.5, 11.5, -0.5, 29.5] and ax.get_xlabel() == "Time step"
    with pytest.raises(ValueError, match=r"2-D \[T, N\]"):
        plotting.current_map(ax, torch.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        plotting.current_map(ax, torch.full((2, 2), float("nan")))
