"""Pictures of one sample of events: the ON/OFF movie, the event raster, the (x, y, t) point cloud and a grid of
frames. ON events are drawn in the ON colour and OFF events in the OFF colour everywhere (``plotting.STYLE``),
as the delta coding's pictures draw its +1 and -1 spikes.

A movie frame, a grid cell, is ``ON count - OFF count`` per pixel over one of ``bins`` equal time bins
(``data.frames``' n_time_bins rule), on the ON/OFF colour map, the same scale in every frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikevision.data import events as ev
from spikevision.data import frames as fr
from spikevision.errors import InvalidValue
from spikevision.pictures import animation, plotting

_MOVIE_PIXELS = 272  # the movie's longer side, about: small sensors are scaled up, whole pixels each


def signed_frames(events: np.ndarray, sensor: ev.Sensor, bins: int) -> np.ndarray:
    """ON minus OFF counts per pixel in each of ``bins`` time bins, int ``[bins, H, W]``."""
    counts = fr.frames(events, sensor, n_time_bins=bins).astype(np.int32)
    return counts[:, 1] - counts[:, 0] if sensor.polarities > 1 else counts[:, 0]


def save_movie(events: np.ndarray, sensor: ev.Sensor, path: str | os.PathLike, *, bins: int = 30,
               fps: float = 10) -> Path:
    """The ON/OFF movie of a sample as .gif or .mp4 (by suffix): one frame a time bin."""
    frames = signed_frames(events, sensor, bins)
    peak = max(1, int(np.abs(frames).max()))
    scale = max(1, min(64, _MOVIE_PIXELS // max(sensor.width, sensor.height)))
    return animation.save_animation(frames, path, fps=fps, scale=scale, cmap=plotting.ON_OFF_CMAP, vmin=-peak,
                                    vmax=peak)


def raster_figure(events: np.ndarray, sensor: ev.Sensor, *, title: str):
    """Every event as a dot: time (ms) across, pixel (row by row, ``y * W + x``) down, coloured by polarity."""
    fig, ax = plotting.new_figure(figsize=(8, 4.5))
    colours = np.where(events["p"] > 0, plotting.STYLE["on_color"], plotting.STYLE["off_color"])
    pixel = events["y"].astype(np.int64) * sensor.width + events["x"]
    ax.scatter(events["t"] / 1000, pixel, c=colours, s=1.5, linewidths=0, rasterized=True)
    ax.set_ylim(-0.5, sensor.width * sensor.height - 0.5)
    plotting.style_axes(ax, title=title, xlabel="time (ms)", ylabel="pixel (y * width + x)")
    _polarity_legend(ax)
    return fig


def cloud_figure(events: np.ndarray, sensor: ev.Sensor, *, title: str, max_points: int = 30_000):
    """The events as points in (x, time, y): the sample's motion as a shape; at most ``max_points`` of them,
    evenly spaced, so a long recording still draws at once."""
    fig = plotting.new_figure(figsize=(7, 5.5))[0]
    fig.clf()
    ax = fig.add_subplot(projection="3d")
    step = max(1, events.size // max_points)
    shown = events[::step]
    colours = np.where(shown["p"] > 0, plotting.STYLE["on_color"], plotting.STYLE["off_color"])
    ax.scatter(shown["x"], shown["t"] / 1000, shown["y"], c=colours, s=1, linewidths=0, depthshade=False)
    ax.set_xlim(0, sensor.width - 1)
    ax.set_zlim(max(sensor.height - 1, 1), 0)  # rows count down from the top, as in the frames
    ax.set_xlabel("x")
    ax.set_ylabel("time (ms)")
    ax.set_zlabel("y")
    ax.set_title(title + (f" (every {step}th event)" if step > 1 else ""), fontsize=plotting.STYLE["title_size"])
    return fig


def frames_figure(events: np.ndarray, sensor: ev.Sensor, *, title: str, bins: int = 8, columns: int = 4):
    """A grid of ``bins`` frames (ON - OFF counts), one time bin each, on one colour scale; a sensor one pixel
    high (SHD's 700 channels) as one picture of its rows stacked in time."""
    frames = signed_frames(events, sensor, bins)
    peak = max(1, int(np.abs(frames).max()))
    if sensor.height == 1:
        return _stacked_rows(frames[:, 0], peak, title)
    rows = -(-bins // columns)
    fig, axes = plotting.new_figure(rows, columns, figsize=(2.2 * columns, 2.2 * rows * sensor.height
                                                            / max(sensor.width, 1) + 0.6))
    span = (int(events["t"][-1]) - int(events["t"][0])) / 1000 if events.size else 0.0
    for k, ax in enumerate(np.asarray(axes, dtype=object).reshape(-1)):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= bins:
            ax.set_visible(False)
            continue
        ax.imshow(frames[k], cmap=plotting.ON_OFF_CMAP, vmin=-peak, vmax=peak, interpolation="nearest")
        plotting.style_axes(ax, title=f"{k * span / bins:.0f}-{(k + 1) * span / bins:.0f} ms")
    fig.suptitle(title, fontsize=plotting.STYLE["title_size"])
    return fig


def _stacked_rows(rows: np.ndarray, peak: int, title: str):
    """Frames one pixel high ``[bins, W]`` as one image: time bins down, pixels across."""
    fig, ax = plotting.new_figure(figsize=(8, 4))
    ax.imshow(rows, cmap=plotting.ON_OFF_CMAP, vmin=-peak, vmax=peak, aspect="auto", interpolation="nearest")
    plotting.style_axes(ax, title=title, xlabel="pixel (channel)", ylabel="time bin")
    return fig


def save_all(events: np.ndarray, sensor: ev.Sensor, out: Path, name: str, *, title: str, bins: int = 30,
             fps: float = 10) -> list[Path]:
    """Every picture of a sample into ``out``: ``<name>.gif`` and ``.mp4`` (the movie), ``-raster.png``,
    ``-cloud.png`` and ``-frames.png``."""
    if events.size == 0:
        raise InvalidValue(f"{title}: the sample has no events; there is nothing to draw")
    written = [save_movie(events, sensor, out / f"{name}{suffix}", bins=bins, fps=fps) for suffix in (".gif", ".mp4")]
    for kind, figure in (("raster", raster_figure), ("cloud", cloud_figure), ("frames", frames_figure)):
        written.append(plotting.save_figure(figure(events, sensor, title=title), out / f"{name}-{kind}.png"))
    return written


def _polarity_legend(ax) -> None:
    from matplotlib.lines import Line2D

    ax.legend(handles=[Line2D([], [], linestyle="", marker="o", color=plotting.STYLE[f"{k}_color"],
                              label=f"{k.upper()} events") for k in ("on", "off")],
              fontsize=plotting.STYLE["legend_size"], loc="upper right")
