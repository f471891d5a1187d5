"""The figures of the lab's own sections: one LIF neuron (section 5) and digits as spike trains (section 4).

``spikevision neuron`` and ``spikevision encode`` draw these; the notebook and Python users can call them too.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from spikevision.analysis import single_neuron
from spikevision.data import encoding
from spikevision.pictures import plotting


def neuron_figure(current, spk, mem, threshold: float, title: str, *, synaptic=None, adaptive=None, traces=()):
    """Current, membrane with threshold and spikes of one neuron (8 x 6 inches); ``synaptic`` ``[T]``: a
    current-based neuron's synaptic current, drawn over the input current; ``adaptive`` ``[T]``: an ALIF
    neuron's threshold at each step, drawn over the membrane; ``traces``: any neuron's other states as
    ``(panel, values [T], label)`` (``NeuronKind.traces``), panel "current", "threshold" or "membrane"."""
    fig, axes = plotting.new_figure(3, 1, figsize=(8, 6), sharex=True, height_ratios=[1, 1, 0.4])
    plotting.current_membrane_spikes(axes, current, mem, spk, threshold, title=title)
    traces = list(traces)
    if synaptic is not None:
        traces.append(("current", synaptic, "synaptic current (decays by alpha)"))
    if adaptive is not None:
        traces.append(("threshold", adaptive, "adaptive threshold (rises with each spike)"))
    draw = {"current": lambda v, label: plotting.synaptic_current(axes[0], v, label),
            "threshold": lambda v, label: plotting.adaptive_threshold(axes[1], v, label),
            "membrane": lambda v, label: plotting.membrane_partner(axes[1], v, label)}
    for panel, values, label in traces:
        draw[panel](values, label)
    return fig


def neuron_comparison_figure(current, beta: float, threshold: float, what: str, *, simulate=None):
    """Membrane and spikes for three betas (top) and three thresholds (bottom) on the same input (12 x 8 inches).

    ``simulate(current, beta, threshold) -> (spk, mem)`` runs the neuron (default: ``single_neuron.simulate``,
    the LIF; e.g. ``simulate_cuba`` or ``simulate_alif`` with their other settings bound)."""
    simulate = simulate or single_neuron.simulate
    runs = [[(b, threshold) for b in single_neuron.compared_betas(beta)],
            [(beta, t) for t in single_neuron.compared_thresholds(threshold)]]
    ncols = max(len(r) for r in runs)
    fig, axes = plotting.new_figure(4, ncols, figsize=(4 * ncols, 8), sharex=True,
                                    height_ratios=[1, 0.22, 1, 0.22])
    for row, settings in enumerate(runs):
        mem_axes, spk_axes = axes[2 * row], axes[2 * row + 1]
        results = [simulate(current, b, t) for b, t in settings]
        # One y range per row, threshold lines included, so the panels compare at a glance.
        top = max(max(float(mem.max()) for _, mem in results), max(t for _, t in settings)) * 1.08
        bottom = min(0.0, min(float(mem.min()) for _, mem in results)) * 1.08
        for col, ((b, t), (spk, mem)) in enumerate(zip(settings, results)):
            varied = f"beta {b:g} ({single_neuron.time_constant(b)})" if row == 0 else f"threshold {t:g}"
            plotting.membrane_traces(mem_axes[col], mem, t,
                                     title=f"{varied}: {single_neuron.spikes_text(int(spk.sum()))}")
            plotting.neuron_raster(spk_axes[col], spk, title="")
            mem_axes[col].set_ylim(bottom, top)
            mem_axes[col].set_xlabel("")
            if row == 0:
                spk_axes[col].set_xlabel("")
            if col:
                mem_axes[col].set_ylabel("")
        for ax in (*mem_axes[len(settings):], *spk_axes[len(settings):]):
            ax.set_axis_off()
    fig.suptitle(f"What beta and threshold do: {what}; top: threshold {threshold:g}, bottom: beta {beta:g}",
                 fontsize=plotting.STYLE["title_size"])
    return fig


def pick_neuron(spikes, image):
    """Index of a lit input neuron worth showing: it spiked, its pixel is nearest mid-grey, then nearest the centre.

    A mid-grey pixel shows what a code does with an in-between value (a rate code's random spikes);
    a saturated pixel would simply spike at every step. With no spike at all, the brightest pixel.

    Args:
        spikes: ``[T, N]`` one digit's spikes; image: ``[N]`` its pixel values in [0, 1].

    Returns:
        int in [0, N).
    """
    spiked = (np.asarray(spikes) != 0).any(axis=0)
    pixels = np.asarray(image, dtype=float)
    if not spiked.any():
        return int(np.argmax(pixels))
    side = int(round(len(pixels) ** 0.5))
    rows, cols = np.divmod(np.arange(len(pixels)), side)
    centre = (side - 1) / 2
    distance = (rows - centre) ** 2 + (cols - centre) ** 2
    # lexsort sorts by the last key first: silent neurons last, then distance from grey, then from the centre.
    return int(np.lexsort((distance, np.abs(pixels - 0.5), ~spiked))[0])


def raster_file(spikes, title: str, path: Path) -> Path:
    fig, ax = plotting.new_figure(figsize=(10, 5))
    plotting.raster(ax, spikes.reshape(spikes.shape[0], -1), title=title, ylabel="Input neuron (pixel index)")
    return plotting.save_figure(fig, path)


def input_neuron_file(spikes, neuron: int, what: str, path: Path) -> Path:
    fig, ax = plotting.new_figure(figsize=(8, 2.0))
    train = spikes.reshape(spikes.shape[0], -1)[:, neuron]
    row, col = divmod(neuron, spikes.shape[-1])
    count = int((train != 0).sum())
    # Two lines that fit the figure's width: what was encoded, then which neuron and what it did.
    title = textwrap.fill(what, 90) + (f"\ninput neuron {neuron} (pixel row {row}, col {col}): "
                                       f"{single_neuron.spikes_text(count)}")
    plotting.neuron_raster(ax, train, title=title)
    return plotting.save_figure(fig, path)


def reconstruction_file(image, spikes_by_gain: dict[float, Any], what: str, path: Path) -> Path:
    fig, axes = plotting.new_figure(1, 1 + len(spikes_by_gain), figsize=(3.2 * (1 + len(spikes_by_gain)), 3.6))
    plotting.reconstruction(axes[0], image[None], title="Image (pixel value)")
    for ax, (gain, spikes) in zip(axes[1:], spikes_by_gain.items()):
        plotting.reconstruction(ax, spikes, title=f"Gain = {gain:g}: mean over {spikes.shape[0]} steps")
    fig.suptitle(f"{what}: mean spike rate reconstructs the image", fontsize=plotting.STYLE["title_size"])
    return plotting.save_figure(fig, path)


def latency_variants_file(x, num_steps: int, kwargs: dict[str, Any], what: str, path: Path) -> Path:
    base = {"tau": kwargs["tau"], "threshold": kwargs["threshold"]}
    fig, axes = plotting.new_figure(3, 1, figsize=(10, 10), sharex=True)
    settings = f"tau={base['tau']:g}, threshold={base['threshold']:g}"
    for ax, (name, flags) in zip(axes, encoding.LATENCY_VARIANTS):
        try:
            spikes = encoding.latency(x, num_steps, **base, **flags)  # (T, 1, 28, 28)
        except ValueError as exc:
            # A window too short for the un-normalized code: say so in the panel, draw the others.
            ax.text(0.5, 0.5, f"{name}: not drawn\n" + textwrap.fill(str(exc), 100), transform=ax.transAxes,
                    ha="center", va="center", fontsize=plotting.STYLE["label_size"])
            ax.tick_params(left=False, labelleft=False)
            plotting.style_axes(ax, title=f"{name} ({settings})")
            continue
        flat = spikes.reshape(num_steps, -1)
        plotting.raster(ax, flat, title=f"{name} ({settings}): {int(flat.count_nonzero())} spikes",
                        ylabel="Input neuron")
    for ax in axes[:-1]:
        ax.set_xlabel("")
    fig.suptitle(f"{what}: latency code variants", fontsize=plotting.STYLE["title_size"])
    return plotting.save_figure(fig, path)


def saccade_file(image, spikes, amplitude: int | None, what: str, path: Path) -> Path:
    """:func:`saccade_figure` written to ``path``."""
    return plotting.save_figure(saccade_figure(image, spikes, amplitude, what), path)


def saccade_figure(image, spikes, amplitude: int | None, what: str, *, moves: int = 4):
    """Delta coding's own figure: the digit as it moves (its saccade, top) and the ON/OFF spikes each move makes
    (bottom), at the first ``moves`` steps that spike; ``image`` ``[1, H, W]``, ``spikes`` ``[T, H, W]``,
    ``amplitude`` as given to the coding (None: ``saccade``'s default)."""
    spikes = np.asarray(spikes)
    shift = {} if amplitude is None else {"amplitude": amplitude}
    frames = np.asarray(encoding.saccade(image, spikes.shape[0], **shift))[:, 0]  # [T, H, W]
    steps = np.flatnonzero(np.abs(spikes).reshape(spikes.shape[0], -1).sum(1))[:moves]
    if steps.size == 0:
        steps = np.array([0])  # nothing spiked (a threshold above every change): show the first frame alone
    fig, axes = plotting.new_figure(2, len(steps), figsize=(2.4 * len(steps), 5.2))
    axes = np.asarray(axes, dtype=object).reshape(2, len(steps))
    for col, t in enumerate(steps):
        on, off = int((spikes[t] > 0).sum()), int((spikes[t] < 0).sum())
        axes[0, col].imshow(frames[t], cmap=plotting.STYLE["image_cmap"], vmin=0, vmax=1, interpolation="nearest")
        axes[1, col].imshow(spikes[t], cmap=plotting.ON_OFF_CMAP, vmin=-1, vmax=1, interpolation="nearest")
        plotting.style_axes(axes[0, col], title=f"step {t + 1}: the digit")
        plotting.style_axes(axes[1, col], title=f"step {t + 1}: {on} ON, {off} OFF")
        for ax in axes[:, col]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(textwrap.fill(f"{what}: spikes where the moving digit's brightness changes", 90),
                 fontsize=plotting.STYLE["title_size"])
    return fig
