"""plotting: every function draws what it is given, on the ax it is given, without touching global state."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from spikevision.pictures import figures, plotting


@pytest.fixture(autouse=True)
def rcparams_unchanged():
    """Every test here also checks that nothing changed matplotlib's global rcParams."""
    before = dict(matplotlib.rcParams)
    yield
    after = dict(matplotlib.rcParams)
    changed = sorted(k for k in before if before[k] != after[k])
    assert not changed, f"rcParams changed: {changed}"


def _spikes(shape, p, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


def test_plotting_and_animation_never_import_pyplot():
    # A fresh interpreter: importing pyplot would set up global figure state and may pick a GUI backend.
    code = (
        "import sys, spikevision.pictures.plotting, spikevision.pictures.animation, spikevision.cli.encode_cmd;"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_only_the_pictures_package_imports_matplotlib():
    # The folder shows the rule: the core, training, inference and the command line never draw themselves.
    source = Path(__file__).resolve().parents[1] / "src" / "spikevision"
    offenders = [str(p.relative_to(source)) for p in source.rglob("*.py")
                 if p.parent.name != "pictures" and re.search(r"^\s*(import|from) matplotlib", p.read_text(), re.M)]
    assert offenders == []
    lab_modules = {p.stem for p in (source / "pictures").glob("*.py")}
    assert {"plotting", "animation", "figures", "lab"} <= lab_modules


def test_new_figure_is_agg_backed_with_a_grid_of_axes():
    fig, ax = plotting.new_figure()
    assert isinstance(fig, Figure) and isinstance(fig.canvas, FigureCanvasAgg) and isinstance(ax, Axes)
    fig, axes = plotting.new_figure(3, 2, figsize=(4, 6), dpi=50, sharex=True, height_ratios=[1, 1, 0.4])
    assert axes.shape == (3, 2)
    assert plotting.figure_to_array(fig).shape == (300, 200, 3)
    with pytest.raises(ValueError, match="nrows"):
        plotting.new_figure(0, 1)


def test_save_figure_writes_png_of_figsize_times_dpi_and_leaves_no_temp_files(tmp_path):
    fig, ax = plotting.new_figure(figsize=(5, 3), dpi=80)
    ax.plot([0, 1], [0, 1])
    out = plotting.save_figure(fig, tmp_path / "sub" / "line.png")
    assert out == tmp_path / "sub" / "line.png"
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (400, 240)
    plotting.save_figure(fig, tmp_path / "line.svg")
    assert (tmp_path / "line.svg").read_text().lstrip().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["line.png", "line.svg"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as any new file, not owner-only


def test_save_figure_failure_keeps_the_old_file_and_leaves_no_debris(tmp_path, monkeypatch):
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    fig, _ = plotting.new_figure()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plotting.save_figure(fig, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_save_figure_rejects_unknown_suffix(tmp_path):
    fig, _ = plotting.new_figure()
    with pytest.raises(ValueError, match=r"unknown image suffix '\.gif'"):
        plotting.save_figure(fig, tmp_path / "x.gif")


def test_raster_has_one_point_per_spike_at_time_and_neuron():
    spikes = _spikes((200, 784), 0.2)  # about 31,000 spikes, the size of a rate-coded digit
    fig, ax = plotting.new_figure(figsize=(10, 5))
    points = plotting.raster(ax, spikes)
    plotting.figure_to_array(fig)
    offsets = np.asarray(points.get_offsets())
    assert len(offsets) == int(spikes.sum())
    expected = {tuple(map(int, p)) for p in torch.nonzero(spikes).tolist()}
    assert {(int(t), int(n)) for t, n in offsets} == expected
    assert ax.get_xlabel() == "Time step" and ax.get_ylabel() == "Neuron index"
    assert ax.get_xlim() == (-0.5, 199.5) and ax.get_ylim() == (-0.5, 783.5)


def test_raster_counts_nonzero_entries_and_colours_signed_spikes():
    spikes = torch.zeros(10, 30)
    spikes[2, 5] = 1
    spikes[3, 5] = -1
    spikes[7, 29] = 1
    fig, ax = plotting.new_figure()
    points = plotting.raster(ax, spikes, title="delta")
    colours = [to_hex(c) for c in points.get_facecolors()]
    by_point = dict(zip(map(tuple, np.asarray(points.get_offsets()).astype(int).tolist()), colours))
    assert by_point == {
        (2, 5): plotting.STYLE["on_color"].lower(),
        (3, 5): plotting.STYLE["off_color"].lower(),
        (7, 29): plotting.STYLE["on_color"].lower(),
    }
    assert ax.get_legend() is not None and ax.get_title() == "delta"


def test_raster_of_no_spikes_draws_an_empty_collection():
    fig, ax = plotting.new_figure()
    points = plotting.raster(ax, np.zeros((5, 40), dtype=bool))
    assert len(points.get_offsets()) == 0
    plotting.figure_to_array(fig)


@pytest.mark.parametrize("bad", [np.zeros((3, 4, 5)), np.zeros(7)])
def test_raster_rejects_wrong_shapes_with_a_hint(bad):
    _, ax = plotting.new_figure()
    with pytest.raises(ValueError, match=r"\[T, N\].*reshape"):
        plotting.raster(ax, bad)


def test_raster_rejects_non_arrays():
    _, ax = plotting.new_figure()
    with pytest.raises(TypeError, match="array or tensor"):
        plotting.raster(ax, [[object()]])


def test_neuron_raster_marks_each_spike_time():
    spikes = torch.tensor([0, 1, 0, 0, 1, 1, 0, 0.0])
    _, ax = plotting.new_figure(figsize=(8, 1.5))
    points = plotting.neuron_raster(ax, spikes, neuron=400)
    offsets = np.asarray(points.get_offsets())
    assert offsets[:, 0].tolist() == [1, 4, 5] and offsets[:, 1].tolist() == [0, 0, 0]
    assert ax.get_title() == "Neuron 400: 3 spikes in 8 steps"
    with pytest.raises(ValueError, match=r"1-D \[T\]"):
        plotting.neuron_raster(ax, torch.zeros(8, 2))


def test_layer_rasters_stack_layers_on_one_time_axis():
    layers = [_spikes((50, 784), 0.1, 1), _spikes((50, 100), 0.05, 2), _spikes((50, 10), 0.2, 3)]
    fig, axes = plotting.new_figure(3, 1, sharex=True, height_ratios=[1, 1, 0.4])
    artists = plotting.layer_rasters(axes, layers, ["Input", "Hidden", "Output"], title="Fully connected SNN")
    assert [len(a.get_offsets()) for a in artists] == [int(s.sum()) for s in layers]
    assert [ax.get_ylabel() for ax in axes] == ["Input", "Hidden", "Output"]
    assert axes[0].get_title() == "Fully connected SNN" and axes[2].get_xlabel() == "Time step"
    with pytest.raises(ValueError, match="share the number of time steps"):
        plotting.layer_rasters(axes, [layers[0], layers[1][:10], layers[2]], ["a", "b", "c"])


def test_reconstruction_shows_the_mean_over_time():
    spikes = _spikes((200, 28, 28), 0.3)
    fig, ax = plotting.new_figure()
    image = plotting.reconstruction(ax, spikes, colorbar=True)
    np.testing.assert_allclose(image.get_array(), spikes.numpy().mean(axis=0), rtol=1e-6)
    assert image.get_clim() == (0.0, 1.0)
    assert ax.get_title() == "Mean spike rate over 200 steps"
    plotting.figure_to_array(fig)
    # [T, 1, H, W], straight from an encoder, is accepted too.
    image = plotting.reconstruction(ax, spikes[:, None], title="gain 1")
    np.testing.assert_allclose(image.get_array(), spikes.numpy().mean(axis=0), rtol=1e-6)


def test_digit_grid_titles_each_image_with_its_label_and_hides_spare_axes():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([7, 2, 1, 0, 4])
    fig, axes = plotting.new_figure(2, 3)
    artists = plotting.digit_grid(axes, images, labels, class_names=[str(i) for i in range(10)])
    assert len(artists) == 5
    np.testing.assert_array_equal(artists[0].get_array(), images[0].numpy())
    assert [ax.get_title() for ax in axes.ravel()[:5]] == ["label 7", "label 2", "label 1", "label 0", "label 4"]
    assert not axes.ravel()[5].axison
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    _, axes = plotting.new_figure(1, 2)
    plotting.digit_grid(axes, images[:2].float() / 255, labels[:2], fashion)
    assert axes[0].get_title() == "label 7 (Sneaker)"
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        plotting.digit_grid(axes, images, labels[:4])
    with pytest.raises(ValueError, match="need as many axes"):
        plotting.digit_grid(axes, images, labels)


def test_digit_grid_figure_lays_out_two_inches_per_image():
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    fig = plotting.digit_grid_figure(images, torch.arange(6), ncols=4, title="six digits")
    assert plotting.figure_to_array(fig).shape == (440, 800, 3)  # 2 rows x 2 in + 0.4 in title, 4 cols x 2 in
    assert fig.get_suptitle() == "six digits"


def test_membrane_traces_one_distinguishable_line_per_neuron_and_threshold():
    mem = torch.cumsum(torch.full((100, 10), 0.01), 0) * torch.arange(1, 11)
    _, ax = plotting.new_figure()
    artists = plotting.membrane_traces(ax, mem, threshold=1.0, labels=[str(i) for i in range(10)])
    assert len(artists.lines) == 10
    for i, line in enumerate(artists.lines):
        np.testing.assert_allclose(line.get_ydata(), mem[:, i].numpy())
    styles = {(line.get_color(), line.get_linestyle()) for line in artists.lines}
    assert len(styles) == 10  # ten output neurons, ten different looks
    assert artists.threshold.get_ydata()[0] == 1.0
    assert artists.threshold.get_color() not in {line.get_color() for line in artists.lines}
    assert ax.get_xlabel() == "Time step" and "Membrane" in ax.get_ylabel()
    assert ax.get_legend() is not None
    with pytest.raises(ValueError, match="10 neurons but 3 labels"):
        plotting.membrane_traces(ax, mem, labels=["a", "b", "c"])


def test_current_membrane_spikes_draws_three_panels():
    cur = torch.cat([torch.zeros(10), torch.full((90,), 0.3)])
    mem = torch.linspace(0, 1.2, 100)
    spk = (torch.arange(100) % 25 == 24).float()
    fig, axes = plotting.new_figure(3, 1, figsize=(8, 6), sharex=True, height_ratios=[1, 1, 0.4])
    artists = plotting.current_membrane_spikes(axes, cur, mem, spk, threshold=1.0, title="Step input")
    np.testing.assert_allclose(artists.current.get_ydata(), cur.numpy())
    np.testing.assert_allclose(artists.membrane.get_ydata(), mem.numpy())
    assert len(artists.spikes.get_offsets()) == 4
    assert artists.threshold.get_ydata()[0] == 1.0
    assert axes[0].get_title() == "Step input" and axes[2].get_xlabel() == "Time step"
    plotting.figure_to_array(fig)
    with pytest.raises(ValueError, match="same length"):
        plotting.current_membrane_spikes(axes, cur, mem[:50], spk)
    with pytest.raises(ValueError, match="need 3 axes"):
        plotting.current_membrane_spikes(axes[:2], cur, mem, spk)


def test_spike_count_bars_heights_and_highlighted_winner():
    counts = torch.tensor([3, 0, 12, 5, 7, 1, 0, 2, 9, 4])
    _, ax = plotting.new_figure()
    bars = plotting.spike_count_bars(ax, counts, [f"digit {i}" for i in range(10)])
    assert [p.get_height() for p in bars.patches] == counts.tolist()
    colours = [to_hex(p.get_facecolor()) for p in bars.patches]
    assert colours[2] == plotting.STYLE["highlight_color"].lower()
    assert set(colours[:2] + colours[3:]) == {plotting.STYLE["bar_color"].lower()}
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"digit {i}" for i in range(10)]
    with pytest.raises(ValueError, match="10 counts but 2 labels"):
        plotting.spike_count_bars(ax, counts, ["a", "b"])


def test_loss_curve_raw_and_moving_average():
    steps = np.arange(50)
    losses = np.linspace(2.0, 0.5, 50) + 0.1 * (-1) ** steps
    _, ax = plotting.new_figure()
    raw, smooth = plotting.loss_curve(ax, steps, losses, label="train", smooth=5)
    np.testing.assert_allclose(raw.get_ydata(), losses)
    expected = [losses[i - 4 : i + 1].mean() for i in range(4, 50)]
    np.testing.assert_allclose(smooth.get_ydata(), expected)
    np.testing.assert_array_equal(smooth.get_xdata(), steps[4:])
    assert ax.get_ylabel() == "Loss"
    # both lines in the legend: the faint one is each step's loss, the other their mean
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train (each step)", "train (mean of 5)"]
    (test,) = plotting.loss_points(ax, [24, 49], [1.2, 0.6], label="test set (after each epoch)")
    assert test.get_marker() == "o" and list(test.get_xdata()) == [24, 49]
    assert ax.get_legend().get_texts()[-1].get_text() == "test set (after each epoch)"
    (only,) = plotting.loss_curve(ax, steps, losses)
    with pytest.raises(ValueError, match="finite"):
        plotting.loss_curve(ax, [0, 1], [1.0, float("nan")])
    with pytest.raises(ValueError, match="same length"):
        plotting.loss_curve(ax, [0, 1, 2], [1.0, 2.0])


def test_accuracy_curve_in_percent_and_rejects_percent_input():
    _, ax = plotting.new_figure()
    (line,) = plotting.accuracy_curve(ax, [1, 2, 3], [0.9, 0.93, 0.95], label="test")
    np.testing.assert_allclose(line.get_ydata(), [90, 93, 95])
    assert ax.get_ylabel() == "Accuracy (%)" and ax.get_xlabel() == "Epoch"
    with pytest.raises(ValueError, match="divide percentages by 100"):
        plotting.accuracy_curve(ax, [1, 2], [90.0, 95.0])


def test_confusion_matrix_colours_row_fractions_and_prints_counts():
    cm = np.array([[8, 2, 0], [1, 1, 0], [0, 0, 0]])
    fig, ax = plotting.new_figure()
    artists = plotting.confusion_matrix(ax, cm, ["cat", "dog", "owl"])
    np.testing.assert_allclose(artists.image.get_array(), [[0.8, 0.2, 0], [0.5, 0.5, 0], [0, 0, 0]])
    assert [t.get_text() for t in artists.texts] == ["8", "2", "0", "1", "1", "0", "0", "0", "0"]
    assert ax.get_xlabel() == "Predicted class" and ax.get_ylabel() == "True class"
    (bar,) = [a for a in fig.axes if a is not ax]  # the colour bar says what the colours mean
    assert bar.get_ylabel() == "Fraction of the true class's images" and bar.get_ylim() == (0.0, 1.0)
    plotting.figure_to_array(fig)
    with pytest.raises(ValueError, match="square"):
        plotting.confusion_matrix(ax, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=">= 0"):
        plotting.confusion_matrix(ax, -np.ones((2, 2)))


def test_series_colours_start_with_okabe_ito_and_give_ten_classes_ten_colours():
    assert {plotting.series_style(i)["color"] for i in range(8)} == set(plotting.OKABE_ITO.values())
    assert len({plotting.series_style(i)["color"] for i in range(10)}) == 10  # digits 0-9 never share one
    assert plotting.series_style(10)["linestyle"] != plotting.series_style(0)["linestyle"]


def test_a_single_epoch_accuracy_is_a_labelled_point_on_a_sensible_axis():
    fig, ax = plotting.new_figure()
    plotting.accuracy_curve(ax, [1], [0.9654])
    low, high = ax.get_ylim()
    assert high == 100.0 and 90.0 <= low < 96.54  # never above 100 %, a few points of room below the value
    assert list(ax.get_xticks()) == [1.0]
    assert [t.get_text() for t in ax.texts] == ["96.54 %"]


@pytest.mark.parametrize("height", [0.8, 1.6, 4.0])
def test_a_few_neurons_raster_draws_separate_ticks_for_neighbours_at_one_step(height):
    """Seen: ticks about a row tall, so output neurons 1-3 firing at one step drew one unbroken bar."""
    spikes = np.zeros((25, 10))
    spikes[5, 1:4] = 1
    fig, ax = plotting.new_figure(figsize=(6, height))
    points = plotting.raster(ax, spikes, ylabel="Output neuron")
    plotting.figure_to_array(fig)  # lays the figure out: the axes' final height
    assert sorted(map(tuple, np.asarray(points.get_offsets()).astype(int).tolist())) == [(5, 1), (5, 2), (5, 3)]
    (tick,) = points.get_paths()
    ends = points.get_transform().transform(tick.vertices)  # the tick's two ends, in pixels from its centre
    row = ax.transData.transform([(0, 1)])[0, 1] - ax.transData.transform([(0, 0)])[0, 1]
    assert 0.5 * row < abs(ends[1, 1] - ends[0, 1]) < 0.9 * row  # a gap between neighbours, at any height


def test_the_loss_picture_puts_each_epochs_test_loss_at_its_step():
    steps = [{"kind": "step", "step": s, "loss": 3.0 / s} for s in range(1, 101)]
    epochs = [{"kind": "epoch", "step": 50, "test_loss": 0.2}, {"kind": "epoch", "step": 100, "test_loss": 0.1}]
    fig = figures.loss_figure(steps, epochs)
    (ax,) = fig.axes
    test = [line for line in ax.lines if line.get_label() == "test set (after each epoch)"]
    assert len(test) == 1 and list(test[0].get_xdata()) == [50, 100] and list(test[0].get_ydata()) == [0.2, 0.1]
    assert ax.get_title() == "Training and test loss"
