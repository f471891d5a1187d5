"""N-MNIST emulated from MNIST: each digit shown to the emulated event camera (``data.emulator``) as N-MNIST's
digits were shown to an ATIS camera, so that event networks train here, offline.

N-MNIST (Orchard et al. 2015) filmed each MNIST digit on a monitor while the camera made three saccades, about
100 ms each, in a triangle; the samples are 34x34 pixels, 2 polarities, about 300 ms. Here the 28x28 digit
glides along the same triangle (``encoding.saccade_vertices``) across a 34x34 canvas, rendered every
``FRAME_US`` with bilinear sub-pixel shifts, and the emulator turns the frames into events. It is emulated data,
not N-MNIST: every record, file and result made from it says "nmnist-sim".
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spikevision.data import datasets, emulator, eventset
from spikevision.data import events as ev
from spikevision.data.encoding import saccade_vertices
from spikevision.data.fetching import data_root
from spikevision.data.tensors import load as load_images
from spikevision.errors import InvalidValue

SENSOR = ev.Sensor(34, 34)
SACCADE_US = 100_000  # each of the three saccades
FRAME_US = 2_000  # the emulator interpolates between frames, so a frame every 2 ms places events finely
AMPLITUDE = 3.0  # pixels: the digit's corner moves within [1.5, 4.5] x [0, 6] of the 34x34 canvas
# A little of a real sensor's noise (v2e's leak and shot noise, a tenth of an event a pixel a second each);
# thresholds that give about N-MNIST's 4,000 events a digit.
CAMERA = emulator.Camera(threshold_on=0.35, threshold_off=0.35, leak_hz=0.1, shot_noise_hz=0.1)
CHUNK = 256  # digits emulated together; each chunk has its own seed, so a split is the same however it is built
_SPLIT_SEEDS = {"train": 0, "test": 1_000_000}


def positions(times_us: np.ndarray, amplitude: float = AMPLITUDE) -> np.ndarray:
    """The digit's top-left corner ``(y, x)`` in the canvas at each time, ``[N, 2]``: centred, plus the
    saccades' offset, moving at constant speed along each side of the triangle."""
    corners = np.asarray(saccade_vertices(amplitude), dtype=np.float64)  # (4, 2): dy, dx
    side = np.clip(np.asarray(times_us) / SACCADE_US, 0, len(corners) - 1)
    k = np.minimum(side.astype(np.int64), len(corners) - 2)
    along = (side - k)[:, None]
    offset = corners[k] * (1 - along) + corners[k + 1] * along
    base = np.array([(SENSOR.height - 28 - amplitude) / 2, (SENSOR.width - 28) / 2])
    return base + offset


def render(digits: np.ndarray, corner: np.ndarray) -> np.ndarray:
    """Digits ``[B, 28, 28]`` (intensities in [0, 1]) drawn with their top-left corner at ``corner`` (y, x),
    between pixels where it falls between them (bilinear), on a black 34x34 canvas: ``[B, 34, 34]``."""
    (y, x), size = corner, digits.shape[-1]
    top, left = int(np.floor(y)), int(np.floor(x))
    fy, fx = y - top, x - left
    if y < 0 or x < 0 or y + size > SENSOR.height or x + size > SENSOR.width:
        raise InvalidValue(f"a digit at ({y:g}, {x:g}) leaves the {SENSOR.width}x{SENSOR.height} canvas")
    canvas = np.zeros((digits.shape[0], SENSOR.height + 1, SENSOR.width + 1), dtype=np.float32)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            if wy * wx > 0:
                canvas[:, top + dy: top + dy + size, left + dx: left + dx + size] += (wy * wx) * digits
    return canvas[:, : SENSOR.height, : SENSOR.width]


def emulate_digits(digits: np.ndarray, *, seed: int = 0,
                   camera: emulator.Camera | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The events of MNIST digits ``[B, 28, 28]`` (uint8, or floats in [0, 1]) seen through the saccades:
    ``emulator.emulate``'s ``(events, offsets)``, each sample about 300 ms on a 34x34 sensor; ``camera``
    by default ``CAMERA``."""
    digits = np.asarray(digits)
    if digits.ndim != 3 or digits.shape[1:] != (28, 28):
        raise InvalidValue(f"digits must be [B, 28, 28]; got shape {list(digits.shape)}")
    if digits.dtype == np.uint8:
        digits = digits.astype(np.float32) / 255
    times = np.arange(0, 3 * SACCADE_US + 1, FRAME_US, dtype=np.int64)
    frames = np.stack([render(digits, corner) for corner in positions(times)])  # (N, B, 34, 34)
    return emulator.emulate(frames, times, camera or CAMERA, seed=seed)


def load(split: str = "train", root: str | os.PathLike | None = None, *, limit: int = 0,
         progress: bool = False) -> eventset.EventSet:
    """The emulated split (from MNIST's ``split``; its first ``limit`` digits when ``limit`` > 0), built into
    the cache on first use (about a second per 100 digits on one core) and read from there afterwards; a cache
    made with other settings is rebuilt."""
    datasets.check_split(split)
    folder = data_root(root) / "nmnist-sim" / (f"{split}-first{limit}" if limit else split)
    cached = eventset.cached(folder)
    if cached is not None and cached.about.get("made_by") == _provenance(split):
        return cached
    return build(folder, split, root, limit=limit, progress=progress)


def build(folder: Path, split: str, root: str | os.PathLike | None = None, *, limit: int = 0,
          progress: bool = False) -> eventset.EventSet:
    """Emulate MNIST's ``split`` (its first ``limit`` digits when ``limit`` > 0) and cache it at ``folder``."""
    mnist = load_images("mnist", split, root)
    count = min(limit, len(mnist)) if limit else len(mnist)

    def samples():
        for start in tqdm(range(0, count, CHUNK), desc=f"nmnist-sim {split}", unit="chunk", disable=not progress,
                          leave=False):
            digits = mnist.images[start: min(start + CHUNK, count)].numpy()
            events, offsets = emulate_digits(digits, seed=_SPLIT_SEEDS[split] + start // CHUNK, camera=CAMERA)
            for i in range(len(digits)):
                yield events[offsets[i]: offsets[i + 1]], int(mnist.labels[start + i])

    return eventset.write(folder, samples(), sensor=SENSOR, classes=mnist.classes,
                          about={"dataset": "nmnist-sim", "split": split, "made_by": _provenance(split)})


def _provenance(split: str) -> dict:
    """What the cache was made from and how: a cache whose record differs is rebuilt."""
    return {"emulated_from": f"mnist {split}", "emulator": emulator.VERSION, "camera": dataclasses.asdict(CAMERA),
            "saccade_us": SACCADE_US,
            "frame_us": FRAME_US, "amplitude": AMPLITUDE, "chunk": CHUNK}
