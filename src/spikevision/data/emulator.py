"""An event camera emulated from frames: the ESIM / v2e pixel model, vectorised over a batch of videos.

A DVS pixel remembers a reference log intensity and reports an event each time its log intensity moves a
contrast threshold away from it: ON (p = 1) when it rose by ``threshold_on``, OFF (p = 0) when it fell by
``threshold_off``, the reference moving by one threshold with each event. Between two frames the log intensity
is taken to change linearly (ESIM, Gehrig et al. 2020), so the k-th crossing in an interval is stamped at the
time the line meets ``reference +- k * threshold``. What makes a real sensor differ from that ideal, after v2e
(Hu, Liu and Delbruck 2021):

- **threshold mismatch**: each pixel's thresholds are drawn once per camera, ``N(threshold, mismatch)``;
- **refractory period**: a pixel that just fired is blind for ``refractory_us`` (the crossing is lost, the
  reference still follows the light, as the pixel resets to it);
- **leak**: the reference drifts down by ``leak_hz`` thresholds a second, so a still pixel fires a spurious ON
  event now and then (each pixel starts at a random phase of that drift);
- **shot noise**: ``shot_noise_hz`` random events a pixel a second, of either polarity. Unlike v2e's, they leave
  the reference where it is: moved, it would make the pixel answer each with an event of the other polarity,
  and the noise would come at about twice the rate asked for.

This is the handout's delta modulation done as the silicon does it: ``encoding.delta`` compares each step with
the one before and fires once; a pixel here keeps its own reference level and fires once per threshold crossed.
Everything random comes from ``seed``: the same frames and seed give the same events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikevision.data import events as ev
from spikevision.errors import InvalidValue

VERSION = 1  # of the pixel model: caches of emulated events record it, and are rebuilt when it changes
_MIN_THRESHOLD = 0.01  # a drawn threshold never falls to zero or below, which would fire without end


@dataclass(frozen=True)
class Camera:
    """The emulated pixel's parameters (log-intensity units, microseconds, hertz); v2e's names where it has one.

    ``log_offset`` keeps the log of a black pixel finite: the pixel sees ``log(intensity + log_offset)``.
    """

    threshold_on: float = 0.25
    threshold_off: float = 0.25
    mismatch: float = 0.03
    refractory_us: int = 0
    leak_hz: float = 0.0
    shot_noise_hz: float = 0.0
    log_offset: float = 0.1

    def __post_init__(self) -> None:
        for name in ("threshold_on", "threshold_off", "log_offset"):
            if not getattr(self, name) > 0:
                raise InvalidValue(f"camera {name} must be > 0, got {getattr(self, name)}")
        for name in ("mismatch", "refractory_us", "leak_hz", "shot_noise_hz"):
            if not getattr(self, name) >= 0:
                raise InvalidValue(f"camera {name} must be >= 0, got {getattr(self, name)}")


@dataclass
class _Pixels:
    """Every pixel's state across the batch ``[B, H, W]``: its reference level, its thresholds, its last event."""

    reference: np.ndarray
    threshold_on: np.ndarray
    threshold_off: np.ndarray
    last_event: np.ndarray


def emulate(frames, times_us, camera: Camera = Camera(), *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The events an event camera would report watching ``frames``.

    Args:
        frames: intensities >= 0 (1 is a white pixel), ``[N, B, H, W]`` -- N frames of B videos.
        times_us: when each frame was shown, ``[N]`` whole microseconds, strictly increasing; N >= 2.
        camera: the pixel model.
        seed: the seed of the thresholds' mismatch, the leak's phases and the shot noise.

    Returns:
        ``(events, offsets)``: the videos' events one after another (``events.DTYPE``, each video's in time
        order) and ``offsets`` ``[B + 1]``, video b's events being ``events[offsets[b]:offsets[b + 1]]``.
    """
    frames, times = _checked(frames, times_us)
    rng = np.random.default_rng(seed)
    before = np.log(frames[0] + camera.log_offset)  # (B, H, W); one frame at a time, so a long video fits
    pixels = _start(before, camera, rng)
    parts = []
    for k in range(1, len(times)):
        after = np.log(frames[k] + camera.log_offset)
        parts.append(_interval(pixels, before, after, int(times[k - 1]), int(times[k]), camera, rng))
        before = after
    b, y, x, t, p = (np.concatenate(column) for column in zip(*parts))
    order = np.lexsort((t, b))  # by video, then time; stable, so ties keep the order they were made in
    events = ev.make(x[order], y[order], t[order], p[order])
    offsets = np.searchsorted(b[order], np.arange(frames.shape[1] + 1))
    return events, offsets


def _checked(frames, times_us) -> tuple[np.ndarray, np.ndarray]:
    frames = np.asarray(frames)
    times = np.asarray(times_us)
    if not (np.issubdtype(frames.dtype, np.floating) or np.issubdtype(frames.dtype, np.integer)):
        raise InvalidValue(f"frames must hold numbers (intensities), got dtype {frames.dtype}")
    if frames.ndim != 4:
        raise InvalidValue(f"frames must be [N, B, H, W] (N frames of B videos); got shape {list(frames.shape)}")
    if times.shape != frames.shape[:1] or len(times) < 2 or not np.issubdtype(times.dtype, np.integer):
        raise InvalidValue(f"times_us must be {frames.shape[0]} whole microseconds, one per frame (at least 2); "
                           f"got {times.dtype} of shape {list(times.shape)}")
    if np.any(np.diff(times) <= 0):
        raise InvalidValue("times_us must be strictly increasing: each frame after the one before it")
    if frames.size == 0 or not np.isfinite(frames).all() or frames.min() < 0:
        raise InvalidValue("frames must be finite intensities >= 0 (1 is a white pixel)")
    return frames, times.astype(np.int64)


def _start(log0: np.ndarray, camera: Camera, rng: np.random.Generator) -> _Pixels:
    """Pixels at rest on the first frame: references at its log intensity, the camera's thresholds drawn (one
    map for every video: the mismatch belongs to the sensor), no event yet, and the leak at a random phase."""
    shape = log0.shape[1:]
    on = np.maximum(rng.normal(camera.threshold_on, camera.mismatch, shape), _MIN_THRESHOLD)
    off = np.maximum(rng.normal(camera.threshold_off, camera.mismatch, shape), _MIN_THRESHOLD)
    reference = log0.copy()
    if camera.leak_hz > 0:
        reference -= rng.uniform(0, 1, log0.shape) * on
    return _Pixels(reference, np.broadcast_to(on, log0.shape), np.broadcast_to(off, log0.shape),
                   np.full(log0.shape, np.iinfo(np.int64).min // 2))


def _interval(pixels: _Pixels, log0: np.ndarray, log1: np.ndarray, t0: int, t1: int, camera: Camera,
              rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The events of one interval between frames, ``(b, y, x, t, p)``, and the pixels' state moved to its end."""
    pixels.reference -= camera.leak_hz * (t1 - t0) * 1e-6 * pixels.threshold_on
    rise = log1 - pixels.reference
    on = np.floor(rise / pixels.threshold_on).clip(min=0).astype(np.int64)
    off = np.floor(-rise / pixels.threshold_off).clip(min=0).astype(np.int64)
    step = np.where(on > 0, pixels.threshold_on, -pixels.threshold_off)  # the signed threshold each pixel moves
    crossings = on + off  # one of the two is zero
    parts = [_crossings(pixels, log0, log1, t0, t1, camera.refractory_us, crossings, step)]
    pixels.reference += crossings * step
    if camera.shot_noise_hz > 0:
        parts.append(_shot_noise(pixels, t0, t1, camera.shot_noise_hz, rng))
    return tuple(np.concatenate(column) for column in zip(*parts))


def _crossings(pixels: _Pixels, log0, log1, t0: int, t1: int, refractory_us: int, crossings, step):
    """The k-th crossing of every pixel that crosses k or more times, k = 1, 2, ...: stamped where the line from
    ``log0`` to ``log1`` meets ``reference + k * step``, kept unless the pixel is still refractory."""
    parts = []
    slope = log1 - log0
    for k in range(1, int(crossings.max(initial=0)) + 1):
        b, y, x = np.nonzero(crossings >= k)
        level = pixels.reference[b, y, x] + k * step[b, y, x]
        flat = slope[b, y, x]
        safe = np.where(flat == 0, 1.0, flat)
        fraction = np.where(flat == 0, 1.0, (level - log0[b, y, x]) / safe).clip(0, 1)
        t = t0 + np.rint(fraction * (t1 - t0)).astype(np.int64)
        ready = t - pixels.last_event[b, y, x] >= refractory_us
        b, y, x, t = b[ready], y[ready], x[ready], t[ready]
        pixels.last_event[b, y, x] = t
        parts.append((b, y, x, t, (step[b, y, x] > 0).astype(np.int8)))
    return tuple(np.concatenate(column) for column in zip(*parts)) if parts else _no_events()


def _shot_noise(pixels: _Pixels, t0: int, t1: int, rate_hz: float, rng: np.random.Generator):
    """Poisson shot-noise events in the interval, at uniform times and of either polarity."""
    count = rng.poisson(rate_hz * (t1 - t0) * 1e-6, pixels.reference.shape)
    b, y, x = np.nonzero(count)
    b, y, x = (np.repeat(a, count[b, y, x]) for a in (b, y, x))
    t = rng.integers(t0 + 1, t1 + 1, b.shape[0], dtype=np.int64)
    p = rng.integers(0, 2, b.shape[0], dtype=np.int8)
    return b, y, x, t, p


def _no_events() -> tuple[np.ndarray, ...]:
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, empty, empty, np.zeros(0, dtype=np.int8)
