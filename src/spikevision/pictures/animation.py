"""Animations of spikes as GIF (Pillow) or MP4 (H.264 through imageio-ffmpeg's bundled ffmpeg).

Frames are rendered straight into arrays (colour map lookup + nearest-neighbour upscaling), not through
matplotlib's FuncAnimation, so 200 frames of a 28x28 image are written in well under a second; the spike
count bar chart reuses one matplotlib figure and redraws only the bars (blitting). The format follows
the file suffix, and files are written atomically (temporary name, then rename).

Example:
    >>> spikes = encoding.rate(x, num_steps=200)          # [200, 1, 1, 28, 28]
    >>> save_animation(spikes[:, 0, 0], "digit.gif")       # one frame per time step
    >>> spike_count_animation(spk_out[:, 0], "counts.mp4")  # spk_out [T, B, 10]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from spikevision.errors import InvalidType, InvalidValue
from spikevision.pictures import plotting
from spikevision.runs.checkpoint import atomic_path

VIDEO_SUFFIXES = (".gif", ".mp4")

# Palette layout of save_animation: 254 colour-map levels, then the banner's background and text colours.
_LEVELS = 254
_BANNER_BG = 254
_BANNER_FG = 255
# Below this width the step counter would not fit legibly, so it is left out.
_MIN_COUNTER_WIDTH = 96


def counter_text(step: int, num_steps: int) -> str:
    """A movie frame's counter for 0-based ``step``: "step 1 of T" first, as the play page and the figures count."""
    return f"step {step + 1} of {num_steps}"


def _check_path(path: str | os.PathLike, fps: float) -> Path:
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise InvalidValue(f"unknown animation suffix {path.suffix!r} in {path}; use .gif (Pillow) or .mp4 (H.264)")
    if not (isinstance(fps, (int, float)) and np.isfinite(fps) and 0 < fps <= 100):
        raise InvalidValue(f"fps must be a number in (0, 100]; got {fps!r}")
    return path


def _peek(frames: Iterable[np.ndarray]) -> tuple[np.ndarray, Iterator[np.ndarray]]:
    """First frame (to learn the size and kind) and an iterator over all frames, the first included."""
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise InvalidValue("an animation needs at least one frame; got none") from None

    def chain() -> Iterator[np.ndarray]:
        yield first
        yield from it

    return np.asarray(first), chain()


def _checked(frames: Iterator[np.ndarray], shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.shape != shape or frame.dtype != np.uint8:
            raise InvalidValue(f"frame {i} is {frame.dtype} {frame.shape}; every frame must be uint8 {shape} "
                               "like the first")
        yield frame


def write_video(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike,
    *,
    fps: float = 25,
    palette: np.ndarray | None = None,
) -> Path:
    """Write frames to ``path`` as GIF or MP4 (by suffix), atomically; frames are streamed, not stacked.

    Args:
        frames: uint8 arrays, all ``[H, W, 3]`` (RGB) or all ``[H, W]`` (indices into ``palette``).
        path: destination ending in .gif or .mp4; parent directories are created.
        fps: frames per second. GIF stores delays in 1/100 s, so e.g. 30 fps plays at 1/0.03 s.
        palette: ``[K <= 256, 3]`` uint8 colours. Required for index frames. For RGB frames written as
            GIF, the colours each frame is mapped to (nearest, no dithering); default: the first
            frame's own 256-colour palette.

    Returns:
        The path written. MP4 frames are padded to even width/height (H.264 with yuv420p needs it).
        A GIF merges a frame identical to the one before it into one longer frame (Pillow's rule).
    """
    path = _check_path(path, fps)
    first, frames = _peek(frames)
    if first.ndim not in (2, 3) or (first.ndim == 3 and first.shape[2] != 3) or first.dtype != np.uint8:
        raise InvalidValue(
            f"frames must be uint8 [H, W, 3] (RGB) or uint8 [H, W] with a palette; got {first.dtype} {first.shape}"
        )
    frames = _checked(frames, first.shape)
    if palette is not None:
        palette = np.asarray(palette)
        if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= palette.shape[0] <= 256 or palette.dtype != np.uint8:
            raise InvalidValue(f"palette must be uint8 [K <= 256, 3]; got {palette.dtype} {palette.shape}")
    if first.ndim == 2:
        if palette is None:
            raise InvalidValue("index frames [H, W] need a palette [K, 3]; pass palette= or give RGB frames [H, W, 3]")
        if int(first.max()) >= palette.shape[0]:
            raise InvalidValue(f"frame values index a palette of {palette.shape[0]} colours; "
                               f"got index {int(first.max())}")
    with atomic_path(path, make_folder=True) as tmp:
        if path.suffix.lower() == ".gif":
            _write_gif(frames, tmp, fps, palette, indexed=first.ndim == 2)
        else:
            rgb = (palette[f] for f in frames) if first.ndim == 2 else frames
            _write_mp4(rgb, tmp, fps, (first.shape[1], first.shape[0]))
    return path


def _palette_image(palette: np.ndarray) -> Image.Image:
    img = Image.new("P", (1, 1))
    img.putpalette(palette.reshape(-1).tolist())
    return img


def _write_gif(frames: Iterator[np.ndarray], path: Path, fps: float, palette: np.ndarray | None, indexed: bool) -> None:
    first = next(frames)
    if indexed:
        flat_palette = palette.reshape(-1).tolist()

        def to_image(f: np.ndarray) -> Image.Image:
            img = Image.frombytes("P", (f.shape[1], f.shape[0]), np.ascontiguousarray(f).tobytes())
            img.putpalette(flat_palette)
            return img
    else:
        if palette is not None:
            pal_img = _palette_image(palette)
        else:
            pal_img = Image.fromarray(first).quantize(256, dither=Image.Dither.NONE)

        def to_image(f: np.ndarray) -> Image.Image:
            return Image.fromarray(f).quantize(palette=pal_img, dither=Image.Dither.NONE)

    head = to_image(first)
    head.save(
        path,
        format="GIF",
        save_all=True,
        append_images=(to_image(f) for f in frames),
        duration=1000.0 / fps,
        loop=0,
        optimize=False,
    )


def _write_mp4(frames: Iterable[np.ndarray], path: Path, fps: float, size: tuple[int, int]) -> None:
    width, height = size
    pad_w, pad_h = width % 2, height % 2
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width + pad_w, height + pad_h),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        macro_block_size=1,  # sizes are made even here; ffmpeg must not rescale the pixels
        quality=None,
        ffmpeg_log_level="error",
        # crf 18 keeps single spike pixels crisp; faststart lets browsers play before the download ends.
        output_params=["-crf", "18", "-movflags", "+faststart"],
    )
    writer.send(None)  # start the ffmpeg process
    try:
        for frame in frames:
            if pad_w or pad_h:
                frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()


# --------------------------------------------------------------------------- spike movies


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _palette(cmap: Any) -> np.ndarray:
    """256 RGB colours: the colour map at 254 levels, then white (banner) and black (banner text)."""
    colors = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    if not callable(colors):
        raise InvalidType(f"cmap must be a matplotlib colour-map name or Colormap; got {type(cmap).__name__}")
    levels = (np.asarray(colors(np.linspace(0.0, 1.0, _LEVELS)))[:, :3] * 255).round().astype(np.uint8)
    return np.concatenate([levels, [[255, 255, 255], [0, 0, 0]]]).astype(np.uint8)


def _as_frames(frames: Any) -> np.ndarray:
    arr = plotting.as_array(frames, "save_animation: frames", (3, 4), "[T, H, W] (time first; one frame per time step)")
    if arr.ndim == 4:
        if arr.shape[1] != 1:
            raise InvalidValue(f"save_animation: frames must be [T, H, W] or [T, 1, H, W]; got shape {arr.shape}")
        arr = arr[:, 0]
    if 0 in arr.shape:
        raise InvalidValue(f"save_animation: frames must be non-empty [T, H, W]; got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not np.all(np.isfinite(arr)):
        raise InvalidValue("save_animation: frames contain NaN or inf")
    return arr


def render_frames(
    frames: Any,
    *,
    scale: int = 8,
    cmap: Any = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    counter: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a spike movie into palette-indexed, upscaled frames with an optional step counter banner.

    Args:
        frames: ``[T, H, W]`` (or ``[T, 1, H, W]``) values, e.g. spikes in {0, 1} or {-1, 0, 1}.
        scale: integer upscaling factor (nearest neighbour, so each pixel stays a crisp square).
        cmap: matplotlib colour-map name or ``Colormap``.
        vmin, vmax: values mapped to the ends of the colour map (default: ``min(0, data)``, ``max(1, data)``).
        counter: add a banner above the image reading "step <n> of <T>" (only when the upscaled
            image is at least 96 pixels wide); it also makes every GIF frame distinct.

    Returns:
        (indices, palette): uint8 ``[T, H*scale (+ banner), W*scale]`` and uint8 ``[256, 3]``.
    """
    arr = _as_frames(frames)
    if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or not 1 <= scale <= 64:
        raise InvalidValue(f"scale must be an integer in [1, 64]; got {scale!r}")
    lo = float(min(0.0, arr.min())) if vmin is None else float(vmin)
    hi = float(max(1.0, arr.max())) if vmax is None else float(vmax)
    if not hi > lo:
        raise InvalidValue(f"vmax must be greater than vmin; got vmin={lo:g}, vmax={hi:g}")
    palette = _palette(cmap)
    idx = np.clip(np.rint((arr.astype(np.float32) - lo) / (hi - lo) * (_LEVELS - 1)), 0, _LEVELS - 1).astype(np.uint8)
    t, h, w = idx.shape
    # Nearest-neighbour upscaling as a broadcast: every pixel becomes a scale x scale block.
    big = np.broadcast_to(idx[:, :, None, :, None], (t, h, scale, w, scale)).reshape(t, h * scale, w * scale)
    width = w * scale
    if not counter or width < _MIN_COUNTER_WIDTH:
        return np.ascontiguousarray(big), palette
    font_size = max(10, width // 14)
    banner_h = font_size + font_size // 2
    banner_h += banner_h % 2  # keep the frame height even when the image height is
    out = np.empty((t, banner_h + h * scale, width), dtype=np.uint8)
    out[:, banner_h:] = big
    font = _font(font_size)
    for step in range(t):
        banner = Image.new("P", (width, banner_h), _BANNER_BG)
        ImageDraw.Draw(banner).text(
            (font_size // 3, banner_h // 2), counter_text(step, t), fill=_BANNER_FG, font=font, anchor="lm"
        )
        out[step, :banner_h] = np.asarray(banner)
    return out, palette


def save_animation(
    frames: Any,
    path: str | os.PathLike,
    *,
    fps: float = 25,
    scale: int = 8,
    cmap: Any = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    counter: bool = True,
) -> Path:
    """Write a spike movie as .gif or .mp4 (by suffix), one frame per time step.

    Args:
        frames: ``[T, H, W]`` (or ``[T, 1, H, W]``), e.g. one digit's spikes from ``encoding.rate``.
        path: destination ending in .gif or .mp4.
        fps: frames per second (25 plays 200 steps in 8 s).
        scale, cmap, vmin, vmax, counter: as in :func:`render_frames`. With ``counter=False`` a GIF
            merges runs of identical frames (same total duration, fewer frames).

    Returns:
        The path written.
    """
    _check_path(path, fps)
    indices, palette = render_frames(frames, scale=scale, cmap=cmap, vmin=vmin, vmax=vmax, counter=counter)
    return write_video(indices, path, fps=fps, palette=palette)


# --------------------------------------------------------------------------- spike count bars


def _spikes_2d(spk: Any, caller: str) -> np.ndarray:
    """``spk`` as a non-empty ``[T, K]`` array, or a clear refusal naming ``caller``."""
    spk = plotting.as_array(spk, f"{caller}: spk", 2, "2-D [T, K] (time first, one sample)")
    if 0 in spk.shape:
        raise InvalidValue(f"{caller}: spk must be non-empty [T, K]; got shape {spk.shape}")
    return spk


def spike_count_animation(
    spk: Any,
    path: str | os.PathLike,
    labels: Sequence[str] | None = None,
    *,
    fps: float = 25,
    title: str | None = None,
    figsize: tuple[float, float] = (6.4, 4.0),
    dpi: int = 100,
) -> Path:
    """Animate the running spike count of each output neuron as a bar chart (the handout's ``spike_count``).

    One matplotlib figure is drawn once; each frame redraws only the bars and the step label (blitting)
    and copies the pixels, so 200 frames take about a second.

    Args:
        spk: ``[T, K]`` output spikes of one sample (e.g. ``spk_out[:, 0]`` of ``[T, B, 10]``).
        path: destination ending in .gif or .mp4.
        labels: K bar labels (default "0".."K-1").
        fps: frames per second.
        title: default "Cumulative spike count per output neuron".
        figsize, dpi: frame size is ``figsize * dpi`` pixels (padded to even for MP4).

    Returns:
        The path written; frame ``t`` shows the counts of steps 0..t, the leading neuron highlighted.
    """
    path = _check_path(path, fps)
    counts = np.cumsum(_spikes_2d(spk, "spike_count_animation") != 0, axis=0)  # (T, K)
    num_steps = counts.shape[0]
    fig, ax = plotting.new_figure(figsize=figsize, dpi=dpi)
    ymax = max(1.0, float(counts[-1].max()) * 1.2)  # headroom for the step label
    bars = plotting.spike_count_bars(
        ax, counts[-1], labels, highlight=None, ymax=ymax, title=title or "Cumulative spike count per output neuron"
    )
    step_text = ax.text(0.02, 0.96, "", transform=ax.transAxes, ha="left", va="top",
                        fontsize=plotting.STYLE["label_size"])
    for artist in (*bars.patches, step_text):
        artist.set_animated(True)  # left out of the background, drawn per frame
    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)

    def render(step: int) -> np.ndarray:
        canvas.restore_region(background)
        leader = int(np.argmax(counts[step])) if counts[step].max() > 0 else -1
        for i, patch in enumerate(bars.patches):
            patch.set_height(counts[step, i])
            patch.set_color(plotting.STYLE["highlight_color"] if i == leader else plotting.STYLE["bar_color"])
            ax.draw_artist(patch)
        step_text.set_text(counter_text(step, num_steps))  # "step 1 of T" first, as every other counter
        ax.draw_artist(step_text)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    # The last frame shows every colour the animation uses: its palette serves all GIF frames.
    last = render(num_steps - 1)
    colours = Image.fromarray(last).quantize(256, dither=Image.Dither.NONE).getpalette()[: 256 * 3]
    palette = np.asarray(colours, dtype=np.uint8).reshape(-1, 3)
    return write_video((render(s) for s in range(num_steps)), path, fps=fps, palette=palette)
