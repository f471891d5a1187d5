"""Turn any picture of a digit into a 28x28 MNIST-like image, the way MNIST itself was made.

MNIST digits are white on black, size-normalised to fit a 20x20 box (keeping the aspect ratio), and
placed in a 28x28 field so that the centre of mass of the ink is at the centre.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter, UnidentifiedImageError

from spikevision.errors import InvalidValue, NotFound

MAX_PIXELS = 50_000_000  # refuse absurd images before decoding them
UNEVEN_BORDER = 0.03     # a border whose brightness varies more (std) than this is a photo's uneven paper
BACKGROUND_SIZE = 64     # pixels across at which a photo's lighting is estimated


def load_image(path: Path) -> Image.Image:
    """Open ``path`` as a greyscale PIL image; clear errors for missing, empty, non-image or huge files."""
    path = Path(path)
    if path.is_dir():
        raise InvalidValue(f"{path} is a directory, not an image file")
    if not path.is_file():
        raise NotFound(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise InvalidValue(f"{path}: empty file, not an image", reason="empty")
    return _decode(path, str(path), MAX_PIXELS)


def image_bytes(content: bytes, *, name: str = "the upload", max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an image file's bytes (an upload) as greyscale, with :func:`load_image`'s checks and messages."""
    if not content:
        raise InvalidValue(f"{name}: empty, not an image", reason="empty")
    return _decode(io.BytesIO(content), name, max_pixels)


def _decode(source, name: str, max_pixels: int) -> Image.Image:
    """Greyscale PIL image from a path or file object; refuses more than ``max_pixels`` before decoding."""
    try:
        # Our own size limit refuses big images; Pillow's warning about them would only add stderr lines.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
        with img:
            if img.width * img.height > max_pixels:
                raise InvalidValue(f"{name}: {img.width}x{img.height} is too large (max {max_pixels:,} pixels)",
                                   reason="too_many_pixels", width=img.width, height=img.height, limit=max_pixels)
            img.load()
            return _to_grey(img)
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours: the same refusal, in our words
        raise InvalidValue(f"{name}: the image is too large (max {max_pixels:,} pixels)", reason="too_many_pixels",
                           limit=max_pixels) from None
    except UnidentifiedImageError:
        raise InvalidValue(f"{name}: not a readable image (PNG, JPEG, ...)", reason="not_an_image") from None
    except (OSError, SyntaxError) as exc:  # e.g. a truncated file
        raise InvalidValue(f"{name}: not a readable image (PNG, JPEG, ...): {exc}", reason="not_an_image") from None
    except ValueError as exc:
        raise _named(name, exc) from None


def _to_grey(img: Image.Image) -> Image.Image:
    """Greyscale 8-bit; transparency composited onto white (a drawing on a transparent canvas)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8), "L")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise InvalidValue("the image has NaN or infinite pixel values", reason="not_finite")
        span = (arr.max() - arr.min()) or 1.0
        return Image.fromarray(((arr - arr.min()) / span * 255.0).astype(np.uint8), "L")
    if img.mode in ("P", "PA") or "A" in img.getbands() or img.mode == "LA":
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return img.convert("L")


def to_mnist(img: Image.Image) -> torch.Tensor:
    """A greyscale image -> float32 ``[1, 28, 28]`` in [0, 1], white digit on black, centred by mass."""
    arr = np.asarray(img, dtype=np.float32) / 255.0
    # Dark ink on a light background (a scan, a drawing) is inverted to MNIST's light-on-dark.
    if _border(arr).mean() > 0.5:
        arr = 1.0 - arr
    if _border(arr).std() > UNEVEN_BORDER:  # a photo: paper lit unevenly would be taken for ink
        flat = arr - _background(arr)
        arr = np.clip(flat - np.quantile(_border(flat), 0.99), 0.0, None)  # and its grain is not ink either
    arr = np.clip(arr - np.median(_border(arr)), 0.0, None)  # background to exactly 0
    if arr.max() <= 1e-6:
        raise InvalidValue("the image is blank: no digit found", reason="blank")
    arr /= arr.max()
    rows = np.flatnonzero(arr.max(1) > 0.1)
    cols = np.flatnonzero(arr.max(0) > 0.1)
    arr = arr[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = arr.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(
        Image.fromarray((arr * 255).astype(np.uint8), "L").resize((new_w, new_h), Image.Resampling.LANCZOS),
        dtype=np.float32,
    ) / 255.0
    canvas = np.zeros((28, 28), dtype=np.float32)
    total = small.sum()
    cy = (small.sum(1) * np.arange(new_h)).sum() / total
    cx = (small.sum(0) * np.arange(new_w)).sum() / total
    top = int(np.clip(round(14 - cy), 0, 28 - new_h))
    left = int(np.clip(round(14 - cx), 0, 28 - new_w))
    canvas[top : top + new_h, left : left + new_w] = small
    return torch.from_numpy(np.clip(canvas, 0.0, 1.0))[None]


def _background(arr: np.ndarray) -> np.ndarray:
    """The picture without its strokes (a grey opening at 64 pixels across, then smoothed): the lighting."""
    h, w = arr.shape
    scale = BACKGROUND_SIZE / max(h, w)
    small = Image.fromarray((arr * 255).astype(np.uint8), "L").resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    # Strokes narrower than the filter vanish; the paper's slow changes of light stay.
    small = small.filter(ImageFilter.MinFilter(7)).filter(ImageFilter.MaxFilter(7)).filter(ImageFilter.BoxBlur(3))
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0


def _border(arr: np.ndarray) -> np.ndarray:
    return np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])


def image_file_to_mnist(path: Path) -> torch.Tensor:
    """Read an image file -> float32 ``[1, 28, 28]`` ready for a model."""
    try:
        return to_mnist(load_image(path))
    except ValueError as exc:
        raise _named(path, exc) from None


def _named(name: str | Path, exc: ValueError) -> ValueError:
    """``exc`` with the file's name in front (once), so a refusal among many files says which one; its reason kept."""
    message = str(exc)
    return InvalidValue(message if message.startswith(str(name)) else f"{name}: {message}",
                        reason=getattr(exc, "reason", None), **getattr(exc, "values", {}))
