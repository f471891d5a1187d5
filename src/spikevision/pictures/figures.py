"""Figures of runs, composed from ``plotting``: training curves, the confusion matrix and a sweep's accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spikevision.errors import InvalidValue
from spikevision.pictures import plotting
from spikevision.runs import rundir


def sweep_picture(out_dir: Path) -> Path:
    """Draw ``sweep.png`` of a sweep directory from its ``sweep.json`` (the points so far); returns its path."""
    from spikevision.runs import sweep

    meta, points = sweep.read_results(out_dir)
    figure = sweep_figure(points, title=sweep.title(meta), note=sweep.budget_note(meta))
    return plotting.save_figure(figure, Path(out_dir) / sweep.PLOT_NAME)


def training_curves(run_dir: Path) -> list[Path]:
    """Write ``loss.png`` (per step, with the test loss after each epoch) and ``accuracy.png`` (test accuracy per
    epoch) into ``run_dir``."""
    run_dir = Path(run_dir)
    records = rundir.read_metrics(run_dir)
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    written = []
    if steps:
        written.append(plotting.save_figure(loss_figure(steps, epochs), run_dir / rundir.LOSS_PLOT))
    if epochs:
        fig, ax = plotting.new_figure(figsize=(7, 4))
        plotting.accuracy_curve(ax, [r["epoch"] for r in epochs], [r["test_accuracy"] for r in epochs],
                                label="test set (all images)", title="Test accuracy after each epoch")
        written.append(plotting.save_figure(fig, run_dir / rundir.ACCURACY_PLOT))
    return written


def loss_figure(steps: Sequence[dict], epochs: Sequence[dict]):
    """The training loss of each step (faint) and its moving mean, with the test loss after each epoch: the
    ``metrics.jsonl`` records of kind "step" and "epoch"."""
    fig, ax = plotting.new_figure(figsize=(7, 4))
    tested = [r for r in epochs if "test_loss" in r]
    plotting.loss_curve(ax, [r["step"] for r in steps], [r["loss"] for r in steps], label="training batch",
                        smooth=max(1, len(steps) // 50), title="Training and test loss" if tested else None)
    if tested:  # the same loss on every test image, after each epoch: where over-fitting would show
        plotting.loss_points(ax, [r["step"] for r in tested], [r["test_loss"] for r in tested],
                             label="test set (after each epoch)")
    return fig


def confusion(run_dir: Path, matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> list[Path]:
    """Write ``confusion.png`` and ``confusion.json`` (rows: true class, columns: predicted) into ``run_dir``."""
    run_dir = Path(run_dir)
    fig, ax = plotting.new_figure(figsize=(6.5, 5.5))
    plotting.confusion_matrix(ax, matrix, classes)
    png = plotting.save_figure(fig, run_dir / rundir.CONFUSION_PLOT)
    payload = {"classes": list(classes), "rows": "true class", "columns": "predicted class", "matrix": matrix}
    rundir.write_json(run_dir / rundir.CONFUSION_TABLE, payload)
    return [png, run_dir / rundir.CONFUSION_TABLE]


# --------------------------------------------------------------------------- inside the network


def _verdict(label: int, prediction: int, classes: Sequence[str]) -> str:
    mark = "right" if label == prediction else "wrong"
    return f"true {classes[label]}, predicted {classes[prediction]} ({mark})"


def layer_activity(ins, classes: Sequence[str]):
    """The digit beside its input, every hidden layer's spikes and the output spikes, on one time axis.

    The handout's ``plot_snn_spikes`` for one test image: input raster (or, for direct encoding, the
    constant pixel current), hidden rasters, output raster with one row per class.

    Args:
        ins: an ``inspection.Inspection``.
        classes: class names indexed by label.

    Returns:
        The figure (9 inches wide).
    """
    rows = [("input", ins.input), *zip(ins.hidden_names, ins.hidden), ("output", ins.spk)]
    ratios = [1.0] * (len(rows) - 1) + [0.5]
    fig, axes = plotting.new_figure(len(rows), 2, figsize=(10, 1.2 + 2.2 * sum(ratios)), height_ratios=ratios,
                                    width_ratios=[1, 6])
    plotting.digit_grid([axes[0, 0]], ins.image[None], [ins.label], classes)
    for ax in axes[1:, 0]:
        ax.set_axis_off()
    panels = list(axes[:, 1])
    for ax in panels[1:]:
        ax.sharex(panels[0])
    steps = ins.spk.shape[0]
    if ins.input_is_spikes:
        plotting.raster(panels[0], ins.input, ylabel="Input neuron\n(pixel)")
    else:
        image = plotting.current_map(panels[0], ins.input, ylabel="Input neuron\n(pixel index)")
        bar = fig.colorbar(image, ax=panels[0], pad=0.01, fraction=0.03)
        bar.set_label("input current\n(pixel value)", fontsize=plotting.STYLE["label_size"])
    names = [f"{'Output' if name == 'output' else 'Hidden ' + name} neuron\n({int(spikes.sum())} spikes)"
             for name, spikes in rows[1:]]
    plotting.layer_rasters(panels[1:], [spikes for _, spikes in rows[1:]], names)
    for ax in panels[:-1]:
        ax.set_xlabel("")
        ax.tick_params(labelbottom=False)  # one time axis: numbered at the bottom only
    fig.suptitle(f"Test image {ins.index}: {_verdict(ins.label, ins.prediction, classes)}, {steps} time steps",
                 fontsize=plotting.STYLE["title_size"])
    return fig


def output_membranes(ins, classes: Sequence[str], threshold: float | None):
    """The 10 output neurons' membrane potentials over time, with the firing threshold.

    Args:
        ins: an ``inspection.Inspection``; classes: class names indexed by label.
        threshold: the output layer's threshold (None: not drawn).

    Returns:
        The figure; each legend entry gives the neuron's class and spike count. For current-based neurons
        (``ins.syn``), a second panel below draws their synaptic currents, the state that feeds the membranes;
        for adaptive-threshold ones (``ins.thr``), the predicted neuron's threshold is drawn dotted.
    """
    counts = ins.spike_counts.tolist()
    labels = [f"{name}: {n} spike{'s' if n != 1 else ''}" + (" (predicted)" if i == ins.prediction else "")
              for i, (name, n) in enumerate(zip(classes, counts))]
    if ins.syn is None:
        fig, ax = plotting.new_figure(figsize=(9, 4.5))
        panels = [(ax, ins.mem, threshold, "Output membranes")]
    else:
        fig, axes = plotting.new_figure(2, 1, figsize=(9, 7.5), sharex=True)
        panels = [(axes[0], ins.mem, threshold, "Output membranes"), (axes[1], ins.syn, None, "Synaptic currents")]
    for ax, values, line, name in panels:
        traces = plotting.membrane_traces(ax, values, line, labels, title=f"{name}, test image {ins.index}: "
                                          f"{_verdict(ins.label, ins.prediction, classes)}")
        traces.lines[ins.prediction].set_linewidth(2.8)  # the predicted neuron stands out
        traces.lines[ins.prediction].set_zorder(3)
    if ins.thr is not None:  # adaptive thresholds: the predicted neuron's, in its colour
        panels[0][0].plot(np.arange(ins.thr.shape[0]), ins.thr[:, ins.prediction].numpy(), linestyle=":",
                          linewidth=2.0, color=panels[0][0].get_lines()[ins.prediction].get_color(),
                          label=f"{classes[ins.prediction]}: its adaptive threshold")
    panels[0][0].legend(fontsize=plotting.STYLE["legend_size"], frameon=False, loc="center left",
                        bbox_to_anchor=(1.0, 0.5))
    if ins.syn is not None:
        panels[1][0].set_ylabel("Synaptic current (a.u.)")
        legend = panels[1][0].get_legend()
        if legend is not None:  # the membranes' legend names the neurons for both panels
            legend.remove()
        panels[0][0].set_xlabel("")
    return fig


def prediction_examples(inspections: Sequence, classes: Sequence[str], *, title: str):
    """One row per test image: the digit, then its output raster (one row per class).

    Args:
        inspections: ``inspection.Inspection`` objects (at least one).
        classes: class names indexed by label.
        title: the figure title.

    Returns:
        The figure (9 inches wide, 1.8 inches per example).
    """
    if not inspections:
        raise InvalidValue("prediction_examples: need at least one inspected image")
    fig, axes = plotting.new_figure(len(inspections), 2, figsize=(9, 0.5 + 1.8 * len(inspections)),
                                    width_ratios=[1, 6])
    axes = axes.reshape(len(inspections), 2)
    for (ax_img, ax_spk), ins in zip(axes, inspections):
        plotting.digit_grid([ax_img], ins.image[None], [ins.label], classes)
        ax_img.set_title(f"image {ins.index}", fontsize=plotting.STYLE["label_size"])
        counts = ins.spike_counts
        tally = f"{int(counts[ins.prediction])} spikes for {classes[ins.prediction]}"
        if ins.label != ins.prediction:  # a right answer's two counts are one and the same
            tally += f", {int(counts[ins.label])} for {classes[ins.label]}"
        plotting.raster(ax_spk, ins.spk, title=f"{_verdict(ins.label, ins.prediction, classes)}: {tally}",
                        ylabel="Output neuron")
        ax_spk.title.set_fontsize(plotting.STYLE["label_size"])
    for ax in axes[:-1, 1]:
        ax.set_xlabel("")
        ax.tick_params(labelbottom=False)
    fig.suptitle(title, fontsize=plotting.STYLE["title_size"])
    return fig


def sweep_figure(points: Sequence, *, title: str | None = None, note: str | None = None):
    """Test accuracy against time steps (left) and against network spikes per test image (right).

    One line per encoding, in the order the encodings first appear, each point labelled with its T on the
    right panel (labels of alternate encodings above and below their points, so they do not collide).

    Args:
        points: ``sweep.SweepPoint``s (any order).
        title: figure title.
        note: a line under both panels (what every point had in common: ``sweep.budget_note``).

    Returns:
        The figure (11 x 4.4 inches).
    """
    if not points:
        raise InvalidValue("sweep_figure: no points to plot")
    fig, (ax_steps, ax_spikes) = plotting.new_figure(1, 2, figsize=(11, 4.4))
    encodings = list(dict.fromkeys(p.encoding for p in points))
    for i, enc in enumerate(encodings):
        line = sorted((p for p in points if p.encoding == enc), key=lambda p: p.num_steps)
        style = {**plotting.series_style(i), "marker": "os^Dv<>p"[i % 8], "markersize": 5, "linewidth": 1.6}
        acc = [p.test_accuracy * 100 for p in line]
        ax_steps.plot([p.num_steps for p in line], acc, label=enc, **style)
        ax_spikes.plot([p.spikes_per_sample for p in line], acc, label=enc, **style)
        for p in line:
            ax_spikes.annotate(f"T={p.num_steps}", (p.spikes_per_sample, p.test_accuracy * 100),
                               textcoords="offset points", xytext=(4, 4 if i % 2 == 0 else -11),
                               fontsize=plotting.STYLE["annotation_size"], color=style["color"])
    steps = sorted({p.num_steps for p in points})
    ax_steps.set_xticks(steps)
    plotting.style_axes(ax_steps, title="Accuracy against time steps", xlabel="Time steps per image (T)",
                        ylabel="Test accuracy (%)")
    plotting.style_axes(ax_spikes, title="Accuracy against network activity",
                        xlabel="Spikes per test image, hidden + output layers (count)",
                        ylabel="Test accuracy (%)")
    for ax in (ax_steps, ax_spikes):
        ax.margins(x=0.1, y=0.1)  # room for the T= labels at the ends of the lines
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.legend(title="input encoding", fontsize=plotting.STYLE["legend_size"],
                  title_fontsize=plotting.STYLE["legend_size"], frameon=False)
    if title:
        fig.suptitle(title, fontsize=plotting.STYLE["title_size"])
    if note:  # under the panels, where constrained layout keeps room for it
        fig.supxlabel(note, fontsize=plotting.STYLE["label_size"], wrap=True)
    return fig
