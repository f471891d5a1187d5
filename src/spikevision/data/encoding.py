"""Spike encoders: images with values in [0, 1] -> spike trains, time first ``[num_steps, *x.shape]``.

Three codings, with the meaning of snnTorch 1.0.0's ``snntorch.spikegen``:

- ``rate``: at every step each pixel spikes with probability ``clamp(gain * x + offset, 0, 1)``.
- ``latency``: each pixel spikes at most once, brighter pixels earlier. The log code is the charging time
  of an RC circuit, ``t = tau * ln(x / (x - threshold))``; the linear code is ``t = tau * (1 - x)``.
  Pixels below ``threshold`` spike last (``clip=True`` drops them); ``normalize=True`` stretches the
  times so the latest spike falls on the last step; times are rounded half to even, as in snnTorch.
- ``delta``: a spike where a sequence rises by at least ``threshold`` from one step to the next
  (and an off spike, -1, where it falls by as much, with ``off_spike=True``). It needs a sequence;
  ``saccade`` makes one from a still image by moving it, as an event camera sees a moving digit.

``encode(x, coding, num_steps, **kwargs)`` picks a coding by name; ``encode_batches`` streams a large
batch in chunks.

Deliberate differences from snnTorch:

- ``normalize`` works per sample: for ``x`` of shape ``[B, ...]`` each ``x[b]`` is stretched by its own
  latest spike, so an image's spike times never depend on the other images in its batch (snnTorch
  normalises over the whole tensor). A 0-d or 1-d ``x`` is one sample, and then both agree.
- Whether ``num_steps`` is long enough for an un-normalized latency code depends on the settings only,
  never on the batch: the latest possible spike (a pixel at or below ``threshold``) must fit in the
  window, else ValueError with the smallest ``num_steps`` that works. snnTorch checks the latest spike
  of the batch at hand, so a window can pass on one batch and fail on the next, and its ``bypass=True``
  silently drops spikes past the window; here no spike is ever dropped.
- Bad arguments raise ValueError (TypeError for a wrong type) naming the argument and its valid range:
  ``x`` must be a non-empty floating tensor of finite values in [0, 1] (convert uint8 images with
  ``x.float() / 255``); snnTorch's ``rate`` silently clamps any input.
- ``rate`` takes a ``generator``: a seeded ``torch.Generator`` gives the same spikes every time; with
  ``None`` torch's global RNG is used, and the draws equal snnTorch's for the same seed.
- ``dtype`` picks the spike dtype (``torch.bool`` or ``torch.uint8`` are 4x smaller than float32);
  the default is ``x``'s dtype. snnTorch always returns float32 (``rate``: the input's dtype).
- ``delta`` needs a floating ``seq`` (differences of uint8 frames would wrap around).
- Not provided: snnTorch's ``time_var_input``, ``on_target``/``off_target``, ``interpolate``,
  ``bypass`` and ``epsilon`` (fixed at snnTorch's default, 1e-7).
"""

from __future__ import annotations

import inspect
import math
import numbers
import operator
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from spikevision.errors import InvalidType, InvalidValue

__all__ = [
    "CODINGS",
    "delta",
    "encode",
    "encode_batches",
    "latency",
    "rate",
    "saccade",
    "saccade_delta",
]

# snnTorch clamps the log code's input to threshold + 1e-7 so that x - threshold is never 0; the same
# constant keeps our spike times equal to snnTorch's.
_EPSILON = 1e-7

# The lab handout's latency code (its tau and threshold; the library's own tau default is 1), and the three
# variants the handout compares: the same code with logarithmic times, linear times, and linear times
# stretched over the window (normalize) with the dark pixels dropped (clip).
HANDOUT_LATENCY = {"tau": 5.0, "threshold": 0.01}
LATENCY_VARIANTS: tuple[tuple[str, dict[str, bool]], ...] = (
    ("log code", {}),
    ("linear code", {"linear": True}),
    ("linear, normalize, clip", {"linear": True, "normalize": True, "clip": True}),
)

# Spike dtypes: any real dtype holds 0/1 spikes; complex ones make no sense.
_SPIKE_DTYPES = (
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
)


# ---------------------------------------------------------------------------------------------------
# Argument checks: each returns the cleaned value or raises one clear ValueError / TypeError.


def _check_tensor(x: Any, name: str, *, unit_interval: bool) -> Tensor:
    """Check that `x` is a non-empty floating tensor of finite values (in [0, 1] if asked)."""
    if not isinstance(x, Tensor):
        raise InvalidType(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise InvalidValue(
            f"{name} must be a floating tensor with values in [0, 1], got dtype {x.dtype}; "
            f"convert uint8 images with {name}.float() / 255"
        )
    if x.numel() == 0:
        raise InvalidValue(f"{name} is empty (shape {tuple(x.shape)}); pass at least one value")
    lo, hi = (v.item() for v in torch.aminmax(x.detach()))
    if math.isnan(lo) or math.isnan(hi):
        raise InvalidValue(f"{name} contains NaN; pass finite values")
    if unit_interval and not (0.0 <= lo and hi <= 1.0):
        raise InvalidValue(f"{name} has values in [{lo:g}, {hi:g}]; values must lie in [0, 1]")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InvalidValue(f"{name} contains inf; pass finite values")
    return x.detach()


def _check_int(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    """Check that `value` is an integer in [lo, hi) (hi=None: no upper bound)."""
    if isinstance(value, bool):
        raise InvalidType(f"{name} must be an integer, got a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise InvalidType(f"{name} must be an integer, got {type(value).__name__}") from None
    if value < lo or (hi is not None and value >= hi):
        valid = f">= {lo}" if hi is None else f"in [{lo}, {hi - 1}]"
        raise InvalidValue(f"{name} must be {valid}, got {value}")
    return value


def _check_real(value: Any, name: str, *, positive: bool = False, below_one: bool = False) -> float:
    """Check that `value` is a finite real number (optionally > 0, optionally < 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidType(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if positive and below_one:
        if not 0.0 < value < 1.0:
            raise InvalidValue(f"{name} must be in (0, 1), got {value}")
    elif positive and not 0.0 < value < math.inf:
        raise InvalidValue(f"{name} must be a finite number > 0, got {value}")
    elif not math.isfinite(value):
        raise InvalidValue(f"{name} must be a finite number, got {value}")
    return value


def _check_flag(value: Any, name: str) -> bool:
    """Check that `value` is a bool (a string such as "False" would silently be true)."""
    if not isinstance(value, bool):
        raise InvalidType(f"{name} must be True or False, got {value!r}")
    return value


def _check_dtype(dtype: Any, x: Tensor) -> torch.dtype:
    """Resolve the spike dtype: `dtype` if given, else x's (floating) dtype."""
    if dtype is None:
        return x.dtype
    if not isinstance(dtype, torch.dtype):
        raise InvalidType(f"dtype must be a torch.dtype such as torch.bool, got {dtype!r}")
    if dtype not in _SPIKE_DTYPES:
        valid = ", ".join(str(d) for d in _SPIKE_DTYPES)
        raise InvalidValue(f"dtype must be one of {valid}, got {dtype}")
    return dtype


def _check_generator(generator: Any, x: Tensor) -> None:
    """Check that `generator` is None or a torch.Generator on x's device type."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise InvalidType(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if generator.device.type != x.device.type:
        raise InvalidValue(
            f"generator is on {generator.device} but x is on {x.device}; "
            f"use torch.Generator(device={str(x.device)!r})"
        )


# ---------------------------------------------------------------------------------------------------
# Rate coding.


def rate(
    x: Tensor,
    num_steps: int,
    *,
    gain: float = 1.0,
    offset: float = 0.0,
    first_spike_time: int = 0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Rate-code `x`: each step, each value spikes with probability clamp(gain * x + offset, 0, 1).

    Equals ``snntorch.spikegen.rate`` for the same random draws: with a generator seeded as
    ``torch.manual_seed(s)`` was, both give the same spikes.

    Args:
        x: values in [0, 1], any shape ``[*S]`` (e.g. ``[B, 1, 28, 28]``).
        num_steps: number of time steps T, >= 1.
        gain: scales x before the clamp (gain 0.25 gives fainter trains); finite.
        offset: added after the gain; finite.
        first_spike_time: steps ``[0, first_spike_time)`` are silent; in [0, num_steps).
        generator: the random source; None uses torch's global RNG. Must be on x's device.
        dtype: spike dtype (e.g. torch.bool); default x's dtype.

    Returns:
        spikes ``[T, *S]`` of 0/1.
    """
    x = _check_tensor(x, "x", unit_interval=True)
    num_steps = _check_int(num_steps, "num_steps", 1)
    gain = _check_real(gain, "gain")
    offset = _check_real(offset, "offset")
    first_spike_time = _check_int(first_spike_time, "first_spike_time", 0, num_steps)
    _check_generator(generator, x)
    dtype = _check_dtype(dtype, x)

    prob = (x * gain + offset).clamp_(0.0, 1.0)  # [*S], once, not T times
    spikes = torch.empty((num_steps, *x.shape), dtype=dtype, device=x.device)
    # One draw per element in memory order, as snnTorch's bernoulli on the repeated input; drawing
    # straight into the spike dtype avoids a float [T, *S] intermediate.
    spikes.bernoulli_(prob.expand_as(spikes), generator=generator)
    # snnTorch draws all steps, then silences the first ones: the same draws keep the same spikes.
    spikes[:first_spike_time] = 0
    return spikes


# ---------------------------------------------------------------------------------------------------
# Latency coding.


def _per_sample_max(t: Tensor) -> Tensor:
    """Max over each sample of `t` ``[B, ...]`` (over all of it when 0-d or 1-d), broadcastable to t."""
    if t.ndim <= 1:
        return t.max()
    return t.reshape(t.shape[0], -1).amax(dim=1).reshape(-1, *([1] * (t.ndim - 1)))


def _latency_times(
    x: Tensor,
    num_steps: int,
    tau: float,
    threshold: float,
    linear: bool,
    normalize: bool,
    first_spike_time: int,
) -> Tensor:
    """Real-valued spike times of x, with snnTorch's exact operations (so rounding agrees bit for bit).

    Log: t = tau * ln(x / (x - threshold)) with x clamped to threshold + 1e-7; linear: t = tau * (1 - x)
    with x clamped to threshold. Both are shifted by first_spike_time.
    """
    if linear:
        if normalize:
            tau = num_steps - 1 - first_spike_time
        return torch.clamp_max(-tau * (x - 1), -tau * (threshold - 1)) + first_spike_time
    clamped = torch.clamp(x, threshold + _EPSILON)
    times = tau * torch.log(clamped / (clamped - threshold))
    if first_spike_time > 0:
        times += first_spike_time
    if normalize:
        shifted = times - first_spike_time
        times = shifted * (num_steps - first_spike_time - 1) / _per_sample_max(shifted) + first_spike_time
    return times


def latency(
    x: Tensor,
    num_steps: int,
    *,
    tau: float = 1.0,
    threshold: float = 0.01,
    linear: bool = False,
    normalize: bool = False,
    clip: bool = False,
    first_spike_time: int = 0,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Latency-code `x`: each value spikes once, brighter earlier, at t = tau * ln(x / (x - threshold)).

    Equals ``snntorch.spikegen.latency`` for a single sample; see the module docstring for the
    per-sample ``normalize`` and the window check.

    Args:
        x: values in [0, 1], ``[B, ...]`` (each ``x[b]`` one sample) or 0-d/1-d (one sample).
        num_steps: number of time steps T, >= 1. Without ``normalize`` it must hold the latest
            possible spike (``tau * ln(1 + threshold / 1e-7)`` for the log code, ``tau * (1 - threshold)``
            for the linear one, plus first_spike_time), else ValueError saying the smallest T.
        tau: time constant (steps per unit of the code); > 0. Ignored by ``linear`` with ``normalize``.
        threshold: values below it spike last, or never with ``clip``; in (0, 1).
        linear: the linear code t = tau * (1 - x) instead of the log code.
        normalize: stretch each sample's times so they span ``[first_spike_time, T - 1]``
            (linear: tau becomes ``T - 1 - first_spike_time``).
        clip: drop the spikes of values below threshold.
        first_spike_time: no spike before this step; in [0, num_steps).
        dtype: spike dtype (e.g. torch.bool); default x's dtype.

    Returns:
        spikes ``[T, *x.shape]`` of 0/1, at most one per value along T.
    """
    x = _check_tensor(x, "x", unit_interval=True)
    num_steps = _check_int(num_steps, "num_steps", 1)
    tau = _check_real(tau, "tau", positive=True)
    threshold = _check_real(threshold, "threshold", positive=True, below_one=True)
    linear = _check_flag(linear, "linear")
    normalize = _check_flag(normalize, "normalize")
    clip = _check_flag(clip, "clip")
    first_spike_time = _check_int(first_spike_time, "first_spike_time", 0, num_steps)
    dtype = _check_dtype(dtype, x)
    # Half precision cannot resolve x - threshold near the threshold; float32/64 stay as they are.
    x = x.to(torch.promote_types(x.dtype, torch.float32))

    if not normalize:
        _check_latency_window(x.new_zeros(()), num_steps, tau, threshold, linear, first_spike_time)

    times = _latency_times(x, num_steps, tau, threshold, linear, normalize, first_spike_time)
    # torch.round is half to even, as in snnTorch; the clamp only guards the index, the window is checked.
    steps = torch.round(times).long().clamp_(0, num_steps - 1)
    spikes = torch.zeros((num_steps, *x.shape), dtype=dtype, device=x.device)
    if clip:
        # Writing 0 at a clipped value's step leaves it silent; every value gets exactly one write.
        spikes.scatter_(0, steps.unsqueeze(0), (~(x < threshold)).to(dtype).unsqueeze(0))
    else:
        spikes.scatter_(0, steps.unsqueeze(0), 1)
    return spikes


def _check_latency_window(
    dark: Tensor, num_steps: int, tau: float, threshold: float, linear: bool, first_spike_time: int
) -> None:
    """Raise if the latest possible spike, that of a value at or below threshold, falls past the window.

    `dark` is a 0-d zero in x's dtype: its time, computed like every other, is the code's latest.
    """
    last = int(torch.round(_latency_times(dark, num_steps, tau, threshold, linear, False, first_spike_time)))
    if last > num_steps - 1:
        name = "linear" if linear else "log"
        raise InvalidValue(
            f"num_steps={num_steps} is too short for the {name} latency code with tau={tau:g}, "
            f"threshold={threshold:g}, first_spike_time={first_spike_time}: the latest spike (a value at "
            f"or below threshold) falls at step {last}; pass num_steps >= {last + 1}, a smaller tau, "
            f"or normalize=True to fit the spikes into the window"
        )


# ---------------------------------------------------------------------------------------------------
# Delta modulation.


def delta(
    seq: Tensor,
    *,
    threshold: float = 0.1,
    padding: bool = False,
    off_spike: bool = False,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Delta-modulate `seq`: spike +1 where it rises by >= threshold from the previous step.

    Equals ``snntorch.spikegen.delta``. Needs a sequence: for a still image, make one with
    ``saccade`` (a still image repeated gives spikes at step 0 only).

    Args:
        seq: finite floating values ``[T, ...]``, T >= 1 (any range, not only [0, 1]).
        threshold: the smallest change that spikes; a finite number > 0.
        padding: compare step 0 with itself (no spike there); False compares it with 0, so step 0
            spikes wherever seq[0] >= threshold.
        off_spike: also emit -1 where seq falls by >= threshold; needs a signed dtype.
        dtype: spike dtype; default seq's dtype. torch.bool/uint8 only without off_spike.

    Returns:
        spikes ``[T, ...]``, the shape of seq: 0/1, or -1/0/1 with off_spike.
    """
    seq = _check_tensor(seq, "seq", unit_interval=False)
    if seq.ndim == 0:
        raise InvalidValue("seq must have a time dimension first, [T, ...], got a 0-d tensor")
    threshold = _check_real(threshold, "threshold", positive=True)
    padding = _check_flag(padding, "padding")
    off_spike = _check_flag(off_spike, "off_spike")
    dtype = _check_dtype(dtype, seq)
    if off_spike and dtype in (torch.bool, torch.uint8):
        raise InvalidValue(
            f"dtype {dtype} cannot hold the -1 of off_spike=True; use a signed dtype such as torch.int8"
        )

    change = torch.empty_like(seq)  # (T, ...)
    torch.sub(seq[1:], seq[:-1], out=change[1:])
    change[0] = 0 if padding else seq[0]
    spikes = (change >= threshold).to(dtype)
    if off_spike:
        spikes -= (change <= -threshold).to(dtype)
    return spikes


def saccade_vertices(amplitude: float) -> list[tuple[float, float]]:
    """The (dy, dx) corners of N-MNIST's three saccades, in pixels: down-left diagonal, right, up-left diagonal
    back to the start. ``saccade`` walks them a pixel at a time; the emulated N-MNIST (``data.nmnist_sim``)
    glides along them."""
    a = amplitude
    return [(0, 0), (a, -a), (a, a), (0, 0)]


def _saccade_path(num_steps: int, amplitude: int) -> list[tuple[int, int]]:
    """Integer (dy, dx) offsets of the saccades' triangle (``saccade_vertices``), one per step, starting and
    ending at (0, 0): one pixel per move, the 4 * amplitude moves spread evenly over the window."""
    points: list[tuple[int, int]] = []
    corners = [(int(dy), int(dx)) for dy, dx in saccade_vertices(amplitude)]
    for (y0, x0), (y1, x1) in zip(corners, corners[1:]):
        moves = max(abs(y1 - y0), abs(x1 - x0))
        points += [(y0 + (y1 - y0) * k // moves, x0 + (x1 - x0) * k // moves) for k in range(moves)]
    points.append(corners[-1])
    moves = len(points) - 1
    if num_steps == 1:
        return [points[0]]
    return [points[(t * moves) // (num_steps - 1)] for t in range(num_steps)]


def saccade(image: Tensor, num_steps: int, *, amplitude: int = 2) -> Tensor:
    """A still image moved along a small triangle, as an event camera sees it: the input for ``delta``.

    Delta modulation responds to change, so a still image gives it nothing after step 0, and a ramp of
    brightness makes every lit pixel spike at once. Moving the image is what makes sense: delta then
    fires on the edges of the digit (on spikes at the leading edge, off spikes at the trailing one),
    the way the N-MNIST dataset was recorded from MNIST with three saccades of a DVS camera. The image
    moves one pixel at a time, with zeros filling in; it starts and ends in place.

    Args:
        image: values in [0, 1], ``[..., H, W]`` (e.g. ``[B, 1, 28, 28]``).
        num_steps: number of time steps T, >= 1.
        amplitude: largest shift in pixels; in [1, min(H, W)).

    Returns:
        frames ``[T, ..., H, W]``.
    """
    image = _check_tensor(image, "image", unit_interval=True)
    if image.ndim < 2:
        raise InvalidValue(f"image must have at least 2 dimensions [..., H, W], got shape {tuple(image.shape)}")
    num_steps = _check_int(num_steps, "num_steps", 1)
    height, width = image.shape[-2:]
    amplitude = _check_int(amplitude, "amplitude", 1, min(height, width))

    frames = image.new_zeros((num_steps, *image.shape))
    for t, (dy, dx) in enumerate(_saccade_path(num_steps, amplitude)):
        # Shift by (dy, dx) with zero fill: destination rows/cols take the source rows/cols.
        frames[t, ..., max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = image[
            ..., max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)
        ]
    return frames


def saccade_delta(
    x: Tensor,
    num_steps: int,
    *,
    amplitude: int = 2,
    threshold: float = 0.1,
    padding: bool = False,
    off_spike: bool = False,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Delta-code still images through their saccade: ``delta(saccade(x, num_steps, amplitude), ...)``.

    Args:
        x: values in [0, 1], ``[..., H, W]``.
        num_steps: number of time steps T, >= 1.
        amplitude, threshold, padding, off_spike, dtype: as in ``saccade`` and ``delta``.

    Returns:
        spikes ``[T, *x.shape]``.
    """
    frames = saccade(x, num_steps, amplitude=amplitude)
    return delta(frames, threshold=threshold, padding=padding, off_spike=off_spike, dtype=dtype)


# ---------------------------------------------------------------------------------------------------
# Choosing a coding by name.

# Each coding takes (x, num_steps, **keywords) with x still images in [0, 1].
CODINGS: dict[str, Callable[..., Tensor]] = {"rate": rate, "latency": latency, "delta": saccade_delta}


def _keywords(fn: Callable[..., Tensor]) -> tuple[str, ...]:
    """The keyword-only parameters of a coding function, read from its signature."""
    params = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _coding(coding: Any, kwargs: dict[str, Any]) -> Callable[..., Tensor]:
    """Look up a coding by name and check the keyword arguments it is given."""
    if not isinstance(coding, str) or coding not in CODINGS:
        raise InvalidValue(f"coding must be one of {', '.join(CODINGS)}, got {coding!r}")
    fn = CODINGS[coding]
    valid = _keywords(fn)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise InvalidValue(
            f"unknown argument(s) for coding {coding!r}: {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    return fn


def encode(x: Tensor, coding: str, num_steps: int, **kwargs: Any) -> Tensor:
    """Encode still images `x` with the coding named `coding` ("rate", "latency" or "delta").

    "delta" moves each image along a saccade (see ``saccade``) and delta-modulates the frames.

    Args:
        x: values in [0, 1], ``[B, ...]`` (``[..., H, W]`` for "delta").
        coding: "rate", "latency" or "delta".
        num_steps: number of time steps T.
        **kwargs: the keyword arguments of ``rate``, ``latency`` or ``saccade_delta``.

    Returns:
        spikes ``[T, *x.shape]``.
    """
    return _coding(coding, kwargs)(x, num_steps, **kwargs)


def encode_batches(
    x: Tensor, coding: str, num_steps: int, *, batch_size: int, **kwargs: Any
) -> Iterator[Tensor]:
    """Encode `x` ``[B, ...]`` chunk by chunk along B, so only one chunk's spikes exist at a time.

    Arguments are checked before the first chunk is made. Latency and delta chunks equal the matching
    slices of ``encode(x, ...)``; rate chunks are drawn chunk after chunk, so with the same seed they are
    reproducible but differ from one whole-batch draw.

    Args:
        x: values in [0, 1], ``[B, ...]`` with B the batch.
        coding, num_steps, **kwargs: as in ``encode``.
        batch_size: samples per chunk, >= 1.

    Returns:
        an iterator of spikes ``[T, b, ...]``, b = batch_size except perhaps the last.
    """
    fn = _coding(coding, kwargs)
    batch_size = _check_int(batch_size, "batch_size", 1)
    if not isinstance(x, Tensor) or x.ndim < 2:
        raise InvalidValue("x must be a batch [B, ...] of at least 2 dimensions to split along B")

    def chunks() -> Iterator[Tensor]:
        for start in range(0, x.shape[0], batch_size):
            yield fn(x[start : start + batch_size], num_steps, **kwargs)

    return chunks()
