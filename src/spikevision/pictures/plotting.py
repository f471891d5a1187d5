"""Figures of spikes, membranes and training: each function draws one thing on an ``ax`` it is given.

Figures are Agg-backed ``matplotlib.figure.Figure`` objects made by :func:`new_figure`; nothing here
uses pyplot or touches ``matplotlib.rcParams``. The look (Okabe-Ito colour-blind-safe palette, font
sizes) comes from :data:`STYLE` and is applied to each artist and axes as it is drawn.

Example:
    >>> fig, ax = new_figure(figsize=(8, 4))
    >>> points = raster(ax, spikes.reshape(num_steps, -1))      # spikes [T, 1, 28, 28]
    >>> save_figure(fig, "raster.png")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.path import Path as MplPath
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import AffineDeltaTransform

from spikevision.errors import InvalidType, InvalidValue
from spikevision.runs.checkpoint import atomic_path

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}

# Order for series (lines, bars): yellow last of Okabe-Ito's, it is faint on white; then two of Paul Tol's
# muted colours, so that the ten output neurons (digits 0-9) each have a colour of their own.
SERIES_COLORS = tuple(
    OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "purple", "sky_blue", "black", "yellow")
) + ("#882255", "#999933")
# Beyond ten series the colours repeat with a new dash pattern.
SERIES_LINESTYLES = ("-", "--", ":", "-.")

# ON/OFF spikes of delta coding: blue for OFF (-1), black for none, orange for ON (+1).
ON_OFF_CMAP = LinearSegmentedColormap.from_list(
    "spikevision_on_off", [OKABE_ITO["blue"], OKABE_ITO["black"], OKABE_ITO["orange"]]
)

STYLE: dict[str, Any] = {
    "title_size": 12,
    "label_size": 10,
    "tick_size": 9,
    "legend_size": 8,
    "annotation_size": 8,
    "spike_color": OKABE_ITO["black"],
    "on_color": OKABE_ITO["orange"],
    "off_color": OKABE_ITO["blue"],
    "current_color": OKABE_ITO["orange"],
    "membrane_color": OKABE_ITO["blue"],
    "threshold_color": "#666666",  # neutral grey: never confused with a neuron's palette colour
    "bar_color": OKABE_ITO["blue"],
    "highlight_color": OKABE_ITO["vermillion"],
    "image_cmap": "binary",  # dark ink on white, as MNIST digits are usually shown
    "matrix_cmap": "cividis",  # perceptually uniform and designed for colour-vision deficiency
    "dpi": 100,
}

FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


class TraceArtists(NamedTuple):
    """Artists of :func:`membrane_traces`: one line per neuron and the threshold line (or None)."""

    lines: list
    threshold: Any


class CurrentMembraneSpikesArtists(NamedTuple):
    """Artists of :func:`current_membrane_spikes`, one field per panel."""

    current: Any
    membrane: Any
    threshold: Any
    spikes: Any


class ConfusionArtists(NamedTuple):
    """Artists of :func:`confusion_matrix`: the coloured image and one count text per cell."""

    image: Any
    texts: list


# --------------------------------------------------------------------------- figures and files


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    figsize: tuple[float, float] = (6.4, 4.8),
    dpi: int | None = None,
    sharex: bool = False,
    sharey: bool = False,
    height_ratios: Sequence[float] | None = None,
    width_ratios: Sequence[float] | None = None,
) -> tuple[Figure, Any]:
    """Make an Agg-backed figure with a grid of axes, without pyplot.

    Args:
        nrows, ncols: grid of axes.
        figsize: (width, height) in inches; the saved image is ``figsize * dpi`` pixels.
        dpi: dots per inch (default ``STYLE["dpi"]``).
        sharex, sharey, height_ratios, width_ratios: as in ``Figure.subplots``.

    Returns:
        (figure, axes): a single ``Axes`` for a 1x1 grid, else an ndarray of ``Axes`` of shape
        ``[nrows, ncols]`` squeezed like ``Figure.subplots``.
    """
    if nrows < 1 or ncols < 1:
        raise InvalidValue(f"new_figure: nrows and ncols must be >= 1; got {nrows}x{ncols}")
    fig = Figure(figsize=figsize, dpi=dpi or STYLE["dpi"], layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    gridspec_kw = {}
    if height_ratios is not None:
        gridspec_kw["height_ratios"] = list(height_ratios)
    if width_ratios is not None:
        gridspec_kw["width_ratios"] = list(width_ratios)
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, gridspec_kw=gridspec_kw or None)
    return fig, axes


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int | None = None) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically.

    Args:
        fig: a figure, e.g. from :func:`new_figure`.
        path: destination ending in .png, .svg, .pdf or .jpg; parent directories are created.
        dpi: resolution (default: the figure's own dpi, so PNGs are ``figsize * dpi`` pixels).

    Returns:
        The path written.
    """
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise InvalidValue(
            f"save_figure: unknown image suffix {path.suffix!r} in {path}; use one of {', '.join(FIGURE_SUFFIXES)}"
        )
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    with atomic_path(path, make_folder=True) as tmp:
        fig.savefig(tmp, dpi=dpi or fig.dpi, format=path.suffix.lower().lstrip(".").replace("jpg", "jpeg"))
    return path


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render ``fig`` and return its pixels.

    Returns:
        uint8 array ``[H, W, 3]`` (RGB), ``H, W = figsize * dpi``.
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


# --------------------------------------------------------------------------- helpers


def as_array(x: Any, name: str, ndim: int | tuple[int, ...], shape_hint: str) -> np.ndarray:
    """Convert a tensor/array-like to a numpy array and check its number of dimensions.

    Raises:
        TypeError: ``x`` is not array-like. ValueError: wrong number of dimensions.
    """
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - report any conversion failure as a type error
        raise InvalidType(f"{name} must be an array or tensor {shape_hint}; got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise InvalidType(f"{name} must be a numeric array or tensor {shape_hint}; got {type(x).__name__}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in allowed:
        raise InvalidValue(f"{name} must be {shape_hint}; got shape {tuple(arr.shape)}")
    return arr


def style_axes(ax: Axes, *, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None) -> Axes:
    """Apply the shared font sizes to ``ax`` and set its title and axis labels when given."""
    if title is not None:
        ax.set_title(title, fontsize=STYLE["title_size"], wrap=True)  # a title wider than the figure wraps, never cut
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=STYLE["label_size"])
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=STYLE["label_size"])
    ax.tick_params(labelsize=STYLE["tick_size"])
    return ax


def series_style(i: int) -> dict[str, Any]:
    """Colour and line style of the ``i``-th series: ten distinct colours, then new dash patterns."""
    return {
        "color": SERIES_COLORS[i % len(SERIES_COLORS)],
        "linestyle": SERIES_LINESTYLES[(i // len(SERIES_COLORS)) % len(SERIES_LINESTYLES)],
    }


def _image(ax: Axes, img: np.ndarray, *, title: str | None, cmap: Any, vmin: float, vmax: float):
    """Show one image with square pixels and no ticks (pixel indices carry no meaning for a reader)."""
    artist = ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    style_axes(ax, title=title)
    return artist


def _legend(ax: Axes) -> None:
    ax.legend(fontsize=STYLE["legend_size"], frameon=False)


def _legend_over_headroom(ax: Axes) -> None:
    """The legend in one row at the top of ``ax``, in headroom added above the data, so that it covers no trace
    (traces that fill the whole panel, as an adaptive threshold's, leave ``loc="best"`` no free place)."""
    handles, _ = ax.get_legend_handles_labels()
    ax.relim()
    ax.autoscale_view()
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top + 0.3 * (top - bottom))
    ax.legend(fontsize=STYLE["legend_size"], frameon=False, loc="upper left", ncols=len(handles))


def _curve_xy(x: Any, y: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    x = as_array(x, f"{name}: x values", 1, "1-D [K]")
    y = as_array(y, f"{name}: y values", 1, "1-D [K]")
    if x.shape != y.shape:
        raise InvalidValue(f"{name}: x and y must have the same length; got {x.shape[0]} and {y.shape[0]}")
    if y.size and not np.all(np.isfinite(y)):
        raise InvalidValue(f"{name}: values must be finite; got NaN or inf")
    return x, y


# --------------------------------------------------------------------------- images


def digit_grid(axes: Any, images: Any, labels: Any, class_names: Sequence[str] | None = None) -> list:
    """Draw one image per axes, titled with its label; axes left over are hidden.

    Args:
        axes: ``Axes`` objects (any array/sequence shape; filled row by row), at least ``N``.
        images: ``[N, H, W]`` or ``[N, 1, H, W]``, uint8 in [0, 255] or float in [0, 1].
        labels: ``[N]`` integer class labels.
        class_names: names indexed by label (e.g. "T-shirt/top"); shown beside the label when given.

    Returns:
        list of ``N`` ``AxesImage``.
    """
    images = as_array(images, "digit_grid: images", (3, 4), "[N, H, W] or [N, 1, H, W]")
    if images.ndim == 4:
        if images.shape[1] != 1:
            raise InvalidValue(f"digit_grid: images must be [N, H, W] or [N, 1, H, W]; got shape {images.shape}")
        images = images[:, 0]
    labels = as_array(labels, "digit_grid: labels", 1, "1-D [N]").astype(int)
    if labels.shape[0] != images.shape[0]:
        raise InvalidValue(f"digit_grid: {images.shape[0]} images but {labels.shape[0]} labels")
    flat = list(np.asarray(axes, dtype=object).ravel())
    if len(flat) < images.shape[0]:
        raise InvalidValue(f"digit_grid: {images.shape[0]} images need as many axes; got {len(flat)}")
    vmax = 255 if images.dtype == np.uint8 else 1.0
    artists = []
    for ax, img, label in zip(flat, images, labels):
        title = f"label {label}"
        if class_names is not None and str(class_names[label]) != str(label):
            title += f" ({class_names[label]})"
        artists.append(_image(ax, img, title=title, cmap=STYLE["image_cmap"], vmin=0, vmax=vmax))
    for ax in flat[images.shape[0]:]:
        ax.set_axis_off()
    return artists


def digit_grid_figure(
    images: Any, labels: Any, class_names: Sequence[str] | None = None, *, ncols: int = 4, title: str | None = None
) -> Figure:
    """Lay out :func:`digit_grid` on a new figure, ``ncols`` images per row.

    Args:
        images: ``[N, H, W]`` or ``[N, 1, H, W]``; labels: ``[N]``; class_names: as in :func:`digit_grid`.
        ncols: images per row (fewer when N is smaller).
        title: figure title (e.g. "MNIST test digits 0-3").

    Returns:
        The figure (2 inches per image).
    """
    n = len(images)
    if n < 1:
        raise InvalidValue("digit_grid_figure: need at least one image")
    if ncols < 1:
        raise InvalidValue(f"digit_grid_figure: ncols must be >= 1; got {ncols}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = new_figure(nrows, ncols, figsize=(2.0 * ncols, 2.0 * nrows + (0.4 if title else 0.0)))
    digit_grid(axes, images, labels, class_names)
    if title:
        fig.suptitle(title, fontsize=STYLE["title_size"])
    return fig


def reconstruction(
    ax: Axes, spikes: Any, title: str | None = None, *, cmap: Any = None, colorbar: bool = False
):
    """Show the mean over time of a spike movie: the image a rate code carries.

    Args:
        ax: target axes.
        spikes: ``[T, H, W]`` (or ``[T, 1, H, W]``) spikes; the mean is the fraction of steps with a spike.
        title: default "Mean spike rate over T steps".
        cmap: colour map (default ``STYLE["image_cmap"]``).
        colorbar: add a colour bar labelled "Spikes per time step".

    Returns:
        The ``AxesImage``.
    """
    spikes = as_array(spikes, "reconstruction: spikes", (3, 4), "[T, H, W] (time first)")
    if spikes.ndim == 4:
        if spikes.shape[1] != 1:
            raise InvalidValue(f"reconstruction: spikes must be [T, H, W] or [T, 1, H, W]; got shape {spikes.shape}")
        spikes = spikes[:, 0]
    mean = spikes.astype(np.float32).mean(axis=0)
    vmin, vmax = min(0.0, float(mean.min())), max(1.0, float(mean.max()))
    title = title if title is not None else f"Mean spike rate over {spikes.shape[0]} steps"
    artist = _image(ax, mean, title=title, cmap=cmap or STYLE["image_cmap"], vmin=vmin, vmax=vmax)
    if colorbar:
        bar = ax.figure.colorbar(artist, ax=ax, shrink=0.8)
        bar.set_label("Spikes per time step", fontsize=STYLE["label_size"])
        bar.ax.tick_params(labelsize=STYLE["tick_size"])
    return artist


# --------------------------------------------------------------------------- spikes


def _default_marker(num_neurons: int, num_spikes: int) -> tuple[str, float]:
    """Marker and area (pt^2) that stay readable: ticks for a few neurons, fine dots when dense, dots when sparse."""
    if num_neurons <= 20:
        return "|", 100.0
    return (".", 1.5) if num_spikes > 2000 else ("o", 6.0)


def _row_ticks(ax: Axes, t: np.ndarray, n: np.ndarray, color) -> PathCollection:
    """A vertical tick per spike at ``(t, n)``, 0.7 of a row tall at any axes size (its height is in data units,
    through ``AffineDeltaTransform``), so neighbours firing at one step stay separate ticks, not one bar."""
    tick = MplPath([(0.0, -0.35), (0.0, 0.35)])
    points = PathCollection([tick], offsets=np.column_stack([t, n]), offset_transform=ax.transData,
                            transform=AffineDeltaTransform(ax.transData), edgecolors=color, facecolors="none",
                            linewidths=1.5, rasterized=True)
    ax.add_collection(points, autolim=False)
    return points


def raster(
    ax: Axes,
    spikes: Any,
    *,
    title: str | None = None,
    ylabel: str = "Neuron index",
    color: str | None = None,
    size: float | None = None,
    marker: str | None = None,
):
    """Raster plot: one dot per spike, time step on x, neuron on y.

    Only the nonzero entries are plotted (one scatter), so 200 steps x 784 neurons draw in milliseconds.
    Signed spikes (delta coding with OFF spikes) are coloured ON/OFF.

    Args:
        ax: target axes.
        spikes: ``[T, N]`` (time first); any nonzero entry is a spike. Reshape images with
            ``spikes.reshape(T, -1)``.
        title: axes title; ylabel: y-axis label.
        color: dot colour (default ``STYLE["spike_color"]``; ignored for signed spikes).
        size: dot area in pt^2 (default: chosen from the number of neurons and spikes).
        marker: matplotlib marker (default: for up to 20 neurons a tick 0.7 of a row tall, whatever the axes'
            height; dots otherwise).

    Returns:
        The ``PathCollection``; it holds exactly one point per spike.
    """
    spikes = as_array(spikes, "raster: spikes", 2, "2-D [T, N] (time first); reshape with spikes.reshape(T, -1)")
    num_steps, num_neurons = spikes.shape
    t, n = np.nonzero(spikes)
    small = num_neurons <= 20
    default_marker, default_size = _default_marker(num_neurons, t.size)
    kwargs: dict[str, Any] = {
        "s": default_size if size is None else size,
        "marker": marker or default_marker,
        "linewidths": 1.0 if small else 0.0,
        # Dots become one bitmap in SVG/PDF, so a 30,000-spike raster stays small.
        "rasterized": True,
    }
    values = spikes[t, n]
    signed = bool(np.any(values < 0))
    kwargs["c"] = (np.where(values > 0, STYLE["on_color"], STYLE["off_color"]) if signed
                   else (color or STYLE["spike_color"]))
    if small and marker is None and size is None:
        points = _row_ticks(ax, t, n, kwargs["c"])
    else:
        points = ax.scatter(t, n, **kwargs)
    if signed:
        ax.legend(
            handles=[Line2D([], [], linestyle="", marker="o", color=STYLE[f"{k}_color"],
                            label=f"{k.upper()} spike ({v})") for k, v in (("on", "+1"), ("off", "-1"))],
            fontsize=STYLE["legend_size"], loc="lower right",  # image borders are blank: low pixel indices
        )
    ax.set_xlim(-0.5, num_steps - 0.5)
    ax.set_ylim(-0.5, num_neurons - 0.5)
    if small:
        ax.set_yticks(range(num_neurons))
    style_axes(ax, title=title, xlabel="Time step", ylabel=ylabel)
    return points


def neuron_raster(ax: Axes, spikes: Any, *, neuron: int | None = None, title: str | None = None):
    """Raster of one neuron: a tick at each time step where it spiked.

    Args:
        ax: target axes (a short, wide one suits it, e.g. figsize (8, 1.5)).
        spikes: ``[T]`` spikes of one neuron; any nonzero entry is a spike.
        neuron: its index, for the default title.
        title: default "Neuron <i>: <k> spikes in <T> steps".

    Returns:
        The ``PathCollection`` with one point per spike.
    """
    spikes = as_array(spikes, "neuron_raster: spikes", 1, "1-D [T] (one neuron)")
    (t,) = np.nonzero(spikes)
    points = ax.scatter(t, np.zeros_like(t), s=200, marker="|", linewidths=1.5, c=STYLE["spike_color"])
    ax.set_xlim(-0.5, spikes.shape[0] - 0.5)
    ax.set_ylim(-0.5, 0.5)
    ax.set_yticks([])
    if title is None:
        who = f"Neuron {neuron}" if neuron is not None else "Neuron"
        title = f"{who}: {t.size} spike{'s' if t.size != 1 else ''} in {spikes.shape[0]} steps"
    style_axes(ax, title=title, xlabel="Time step")
    return points


def current_map(ax: Axes, values: Any, *, title: str | None = None, ylabel: str = "Input neuron (pixel index)"):
    """Input currents over time as an image on the axes of :func:`raster` (time step on x, neuron on y).

    It takes the input raster's place when the first layer receives values, not spikes (direct
    encoding: the pixels at every step). Darker is a larger current, as in ``STYLE["image_cmap"]``.

    Args:
        ax: target axes.
        values: ``[T, N]`` currents (time first), e.g. pixel values in [0, 1].
        title, ylabel: axes title and y-axis label.

    Returns:
        The ``AxesImage``.
    """
    values = as_array(values, "current_map: values", 2, "2-D [T, N] (time first)").astype(np.float32)
    if 0 in values.shape or not np.all(np.isfinite(values)):
        raise InvalidValue(f"current_map: values must be non-empty and finite [T, N]; got shape {values.shape}")
    num_steps, num_neurons = values.shape
    image = ax.imshow(
        values.T, cmap=STYLE["image_cmap"], vmin=min(0.0, float(values.min())), vmax=max(1.0, float(values.max())),
        aspect="auto", origin="lower", interpolation="nearest",
        extent=(-0.5, num_steps - 0.5, -0.5, num_neurons - 0.5),
    )
    style_axes(ax, title=title, xlabel="Time step", ylabel=ylabel)
    return image


def layer_rasters(axes: Sequence[Axes], layers: Sequence[Any], names: Sequence[str], *,
                  title: str | None = None) -> list:
    """Rasters of several layers stacked on one time axis (the handout's ``plot_snn_spikes``).

    Args:
        axes: one ``Axes`` per layer (e.g. ``new_figure(3, 1, sharex=True, height_ratios=[1, 1, 0.4])``).
        layers: spikes ``[T, N_i]`` per layer, all with the same ``T``.
        names: y-axis label per layer (e.g. "Input neuron", "Hidden neuron", "Output neuron").
        title: title of the top panel.

    Returns:
        list of ``PathCollection``, one per layer.
    """
    axes = list(np.asarray(axes, dtype=object).ravel())
    if not (len(axes) == len(layers) == len(names)):
        raise InvalidValue(
            f"layer_rasters: need one axes and one name per layer; "
            f"got {len(axes)} axes, {len(layers)} layers, {len(names)} names"
        )
    steps = {as_array(s, "layer_rasters: layer", 2, "2-D [T, N] (time first)").shape[0] for s in layers}
    if len(steps) > 1:
        raise InvalidValue(f"layer_rasters: layers must share the number of time steps; got {sorted(steps)}")
    artists = [raster(ax, s, ylabel=name) for ax, s, name in zip(axes, layers, names)]
    for ax in axes[:-1]:
        ax.set_xlabel("")
    if title:
        style_axes(axes[0], title=title)
    return artists


# --------------------------------------------------------------------------- membranes


def membrane_traces(
    ax: Axes,
    mem: Any,
    threshold: float | None = None,
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> TraceArtists:
    """Membrane potential of several neurons over time, with the firing threshold as a dashed line.

    Args:
        ax: target axes.
        mem: ``[T, N]`` membrane potentials (or ``[T]`` for one neuron).
        threshold: firing threshold, drawn when given.
        labels: one legend entry per neuron (e.g. the class names of 10 output neurons).
        title: axes title (default "Membrane potential").

    Returns:
        ``TraceArtists(lines, threshold)``: N ``Line2D`` and the threshold ``Line2D`` (or None).
    """
    mem = as_array(mem, "membrane_traces: mem", (1, 2), "[T, N] or [T] (time first)")
    if mem.ndim == 1:
        mem = mem[:, None]
    if labels is not None and len(labels) != mem.shape[1]:
        raise InvalidValue(f"membrane_traces: {mem.shape[1]} neurons but {len(labels)} labels")
    steps = np.arange(mem.shape[0])
    lines = []
    for i in range(mem.shape[1]):
        (line,) = ax.plot(steps, mem[:, i], linewidth=1.2, label=None if labels is None else str(labels[i]),
                          **series_style(i))
        lines.append(line)
    thr = None
    if threshold is not None:
        thr = ax.axhline(threshold, color=STYLE["threshold_color"], linestyle="--", linewidth=1.2, label="threshold")
    ax.set_xlim(0, max(mem.shape[0] - 1, 1))
    style_axes(ax, title=title or "Membrane potential", xlabel="Time step", ylabel="Membrane potential U (a.u.)")
    if labels is not None or threshold is not None:
        _legend(ax)
    return TraceArtists(lines, thr)


def current_membrane_spikes(
    axes3: Sequence[Axes],
    cur: Any,
    mem: Any,
    spk: Any,
    threshold: float | None = None,
    *,
    title: str | None = None,
) -> CurrentMembraneSpikesArtists:
    """One neuron's input current, membrane potential (with threshold) and output spikes on a shared time axis.

    The handout's ``plot_cur_mem_spk``. Make the axes with
    ``new_figure(3, 1, figsize=(8, 6), sharex=True, height_ratios=[1, 1, 0.4])``.

    Args:
        axes3: three ``Axes``, top to bottom.
        cur, mem, spk: ``[T]`` input current, membrane potential, spikes.
        threshold: firing threshold, drawn as a dashed line on the membrane panel.
        title: title of the top panel.

    Returns:
        ``CurrentMembraneSpikesArtists(current, membrane, threshold, spikes)``.
    """
    axes3 = list(np.asarray(axes3, dtype=object).ravel())
    if len(axes3) != 3:
        raise InvalidValue(f"current_membrane_spikes: need 3 axes (current, membrane, spikes); got {len(axes3)}")
    cur = as_array(cur, "current_membrane_spikes: cur", 1, "1-D [T]")
    mem = as_array(mem, "current_membrane_spikes: mem", 1, "1-D [T]")
    spk = as_array(spk, "current_membrane_spikes: spk", 1, "1-D [T]")
    if not (cur.shape == mem.shape == spk.shape):
        raise InvalidValue(
            "current_membrane_spikes: cur, mem, spk must have the same length; "
            f"got {cur.shape[0]}, {mem.shape[0]}, {spk.shape[0]}"
        )
    ax_cur, ax_mem, ax_spk = axes3
    steps = np.arange(cur.shape[0])
    (cur_line,) = ax_cur.plot(steps, cur, color=STYLE["current_color"], linewidth=1.5)
    style_axes(ax_cur, title=title, ylabel="Input current I (a.u.)")
    (mem_line,) = ax_mem.plot(steps, mem, color=STYLE["membrane_color"], linewidth=1.5)
    thr = None
    if threshold is not None:
        thr = ax_mem.axhline(
            threshold, color=STYLE["threshold_color"], linestyle="--", linewidth=1.2, label=f"threshold {threshold:g}"
        )
        _legend_over_headroom(ax_mem)
    style_axes(ax_mem, ylabel="Membrane potential U (a.u.)")
    points = neuron_raster(ax_spk, spk, title="")
    style_axes(ax_spk, xlabel="Time step", ylabel="Spikes")
    for ax in (ax_cur, ax_mem):
        ax.set_xlim(-0.5, cur.shape[0] - 0.5)
    return CurrentMembraneSpikesArtists(cur_line, mem_line, thr, points)


def synaptic_current(ax: Axes, syn: Any, label: str = "synaptic current (decays by alpha)"):
    """A current-based neuron's synaptic current ``[T]`` over the input current on ``ax``, both in the legend
    (any state a neuron feeds its membrane from, under ``label``).

    Returns:
        The line drawn.
    """
    syn = as_array(syn, "synaptic_current: syn", 1, "1-D [T]")
    lines = ax.get_lines()
    if lines:
        lines[0].set_label("input current I")
    (line,) = ax.plot(np.arange(syn.shape[0]), syn, color=STYLE["membrane_color"], linestyle=":", linewidth=1.5,
                      label=label)
    _legend_over_headroom(ax)
    return line


def adaptive_threshold(ax: Axes, thr: Any, label: str = "adaptive threshold (rises with each spike)"):
    """An adaptive-threshold neuron's threshold ``[T]`` over its membrane on ``ax`` (beside the resting one).

    Returns:
        The line drawn.
    """
    thr = as_array(thr, "adaptive_threshold: thr", 1, "1-D [T]")
    (line,) = ax.plot(np.arange(thr.shape[0]), thr, color=STYLE["threshold_color"], linewidth=1.5, label=label)
    _legend_over_headroom(ax)
    return line


def membrane_partner(ax: Axes, values: Any, label: str):
    """Another state ``[T]`` of a neuron drawn over its membrane on ``ax`` (a resonate-and-fire neuron's
    imaginary part), dashed, in the legend.

    Returns:
        The line drawn.
    """
    values = as_array(values, "membrane_partner: values", 1, "1-D [T]")
    (line,) = ax.plot(np.arange(values.shape[0]), values, color=STYLE["membrane_color"], linestyle="--",
                      linewidth=1.0, alpha=0.7, label=label)
    _legend_over_headroom(ax)
    return line


# --------------------------------------------------------------------------- outputs and training


def spike_count_bars(
    ax: Axes,
    counts: Any,
    labels: Sequence[str] | None = None,
    *,
    highlight: int | None | str = "max",
    ymax: float | None = None,
    title: str | None = None,
):
    """Bar chart of spike counts per output neuron; the winning neuron (the prediction) is highlighted.

    Args:
        ax: target axes.
        counts: ``[K]`` spike counts (e.g. ``spk.sum(0)`` of ``spk [T, 10]``).
        labels: K tick labels (default "0".."K-1").
        highlight: index of the bar to colour, "max" for the largest count (ties: lowest index), None for none.
        ymax: upper y limit (e.g. fixed across animation frames); default fits the data.
        title: default "Spike count per output neuron".

    Returns:
        The ``BarContainer`` (``container.patches[i]`` is neuron i's bar).
    """
    counts = as_array(counts, "spike_count_bars: counts", 1, "1-D [K] (one count per neuron)").astype(float)
    k = counts.shape[0]
    labels = [str(i) for i in range(k)] if labels is None else [str(lab) for lab in labels]
    if len(labels) != k:
        raise InvalidValue(f"spike_count_bars: {k} counts but {len(labels)} labels")
    bars = ax.bar(np.arange(k), counts, color=STYLE["bar_color"], width=0.7)
    index = int(np.argmax(counts)) if highlight == "max" and k and counts.max() > 0 else highlight
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        bars.patches[int(index)].set_color(STYLE["highlight_color"])
    ax.set_xticks(np.arange(k), labels)
    ax.set_ylim(0, ymax if ymax is not None else max(1.0, float(counts.max(initial=0)) * 1.1))
    style_axes(ax, title=title or "Spike count per output neuron", xlabel="Output neuron", ylabel="Spike count")
    return bars


def loss_curve(
    ax: Axes,
    steps: Any,
    losses: Any,
    *,
    label: str | None = None,
    color: str | None = None,
    smooth: int = 0,
    xlabel: str = "Training iteration",
    title: str | None = None,
) -> list:
    """Loss against training step, optionally with a moving average over ``smooth`` points.

    Args:
        ax: target axes; call again with another ``label`` to add e.g. the test loss.
        steps, losses: ``[K]`` each.
        label: legend entry; color: line colour (default: first palette colour).
        smooth: window of a trailing moving average drawn on top of the faint raw curve (0: raw only).
        xlabel, title: axis label and title (default "Training loss").

    Returns:
        list of ``Line2D``: the raw curve, then the smoothed one when ``smooth > 1``.
    """
    steps, losses = _curve_xy(steps, losses, "loss_curve")
    if smooth < 0:
        raise InvalidValue(f"loss_curve: smooth must be >= 0 points; got {smooth}")
    color = color or SERIES_COLORS[0]
    lines = []
    if smooth > 1 and losses.size >= smooth:
        (raw,) = ax.plot(steps, losses, color=color, alpha=0.3, linewidth=1.0, label=label and f"{label} (each step)")
        kernel = np.ones(smooth) / smooth
        avg = np.convolve(losses, kernel, mode="valid")
        (line,) = ax.plot(steps[smooth - 1:], avg, color=color, linewidth=1.6,
                          label=label and f"{label} (mean of {smooth})")
        lines = [raw, line]
    else:
        (raw,) = ax.plot(steps, losses, color=color, linewidth=1.4, label=label)
        lines = [raw]
    style_axes(ax, title=title or "Training loss", xlabel=xlabel, ylabel="Loss")
    if label:
        _legend(ax)
    return lines


def loss_points(ax: Axes, steps: Any, losses: Any, *, label: str, color: str | None = None) -> list:
    """Losses measured now and then (the test loss after each epoch) at their training steps, a marker each, on
    the axes of :func:`loss_curve`; returns the one ``Line2D``."""
    steps, losses = _curve_xy(steps, losses, "loss_points")
    (line,) = ax.plot(steps, losses, color=color or SERIES_COLORS[1], marker="o", markersize=5, linewidth=1.4,
                      label=label)
    _legend(ax)
    return [line]


def accuracy_curve(
    ax: Axes,
    epochs: Any,
    acc: Any,
    *,
    label: str | None = None,
    color: str | None = None,
    title: str | None = None,
) -> list:
    """Accuracy (in percent) against epoch, with a marker per evaluation.

    Args:
        ax: target axes; call again with another ``label`` for another split.
        epochs: ``[K]`` epoch numbers; acc: ``[K]`` accuracies as fractions in [0, 1].
        label, color, title: legend entry, line colour, title (default "Accuracy").

    Returns:
        list with one ``Line2D``.
    """
    epochs, acc = _curve_xy(epochs, acc, "accuracy_curve")
    if acc.size and (acc.min() < 0 or acc.max() > 1):
        raise InvalidValue(
            f"accuracy_curve: accuracies must be fractions in [0, 1]; got range [{acc.min():g}, {acc.max():g}] "
            "(divide percentages by 100)"
        )
    (line,) = ax.plot(
        epochs, acc * 100, color=color or SERIES_COLORS[0], marker="o", markersize=4, linewidth=1.4, label=label
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    if epochs.size:
        ax.set_xlim(min(0.5, epochs.min() - 0.5), epochs.max() + 0.5)  # one epoch gets a sensible axis too
        ax.set_xticks(np.unique(epochs) if epochs.size <= 12 else ax.get_xticks())
        low = float(acc.min()) * 100
        # A range that shows the values (never above 100 %), a few points wide even for a single epoch.
        ax.set_ylim(max(0.0, min(low - 2.0, 100.0 - 5.0)), 100.0)
        for x, y in zip(epochs, acc * 100) if epochs.size <= 12 else ():
            ax.annotate(f"{y:.2f} %", (x, y), textcoords="offset points", xytext=(0, -14), ha="center",
                        fontsize=STYLE["annotation_size"])
    style_axes(ax, title=title or "Accuracy", xlabel="Epoch", ylabel="Accuracy (%)")
    if label:
        _legend(ax)
    return [line]


def confusion_matrix(
    ax: Axes, cm: Any, class_names: Sequence[str] | None = None, *, title: str | None = None
) -> ConfusionArtists:
    """Confusion matrix: rows true class, columns predicted class; colour is the fraction of the row.

    Colouring by row fraction keeps rare classes as visible as common ones; each cell shows its count.

    Args:
        ax: target axes.
        cm: ``[K, K]`` non-negative counts, ``cm[i, j]`` = samples of class i predicted as j.
        class_names: K tick labels (default "0".."K-1").
        title: default "Confusion matrix (colour: fraction of true class)".

    Returns:
        ``ConfusionArtists(image, texts)`` with K*K count texts, row by row.
    """
    cm = as_array(cm, "confusion_matrix: cm", 2, "2-D [K, K] counts")
    k = cm.shape[0]
    if cm.shape != (k, k):
        raise InvalidValue(f"confusion_matrix: cm must be square [K, K]; got shape {cm.shape}")
    if np.any(cm < 0):
        raise InvalidValue("confusion_matrix: counts must be >= 0")
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise InvalidValue(f"confusion_matrix: {k} classes but {len(names)} class names")
    rows = cm.sum(axis=1, keepdims=True).astype(float)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    image = ax.imshow(frac, cmap=STYLE["matrix_cmap"], vmin=0, vmax=1, interpolation="nearest")
    texts = []
    for i in range(k):
        for j in range(k):
            # cividis is dark at 0 and light at 1: light text on the dark half.
            color = "white" if frac[i, j] < 0.6 else "black"
            texts.append(
                ax.text(j, i, f"{cm[i, j]:g}", ha="center", va="center", color=color, fontsize=STYLE["annotation_size"])
            )
    long_names = max(map(len, names)) > 2  # e.g. Fashion-MNIST's: slanted so they do not overlap
    ax.set_xticks(np.arange(k), names, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticks(np.arange(k), names)
    title = title or "Confusion matrix (colour: fraction of true class)"
    style_axes(ax, title=title, xlabel="Predicted class", ylabel="True class")
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("Fraction of the true class's images", fontsize=STYLE["label_size"])
    bar.ax.tick_params(labelsize=STYLE["tick_size"])
    return ConfusionArtists(image, texts)
