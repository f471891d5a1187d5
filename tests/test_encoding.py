"""Tests of the spike encoders against snnTorch 1.0.0's spikegen and against properties of each code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from snntorch import spikegen

from spikevision.data import encoding
from spikevision.data.encoding import delta, encode, encode_batches, latency, rate, saccade, saccade_delta


def digit_like(n: int, seed: int = 0) -> torch.Tensor:
    """MNIST-like images [n, 1, 28, 28]: anti-aliased rings and strokes in the centre 20x20, black
    background, values quantised to k/255 as in the real files."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    images = torch.zeros(n, 1, 28, 28)
    for i in range(n):
        cy, cx = 14 + 2 * torch.rand(2, generator=g) - 1
        ry, rx = 4 + 5 * torch.rand(2, generator=g)
        width = 1.0 + torch.rand((), generator=g)
        if i % 2 == 0:  # a "0": distance to an ellipse
            dist = (torch.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) - 1).abs() * min(ry, rx)
        else:  # a "1"/"7": distance to a slanted segment
            slope = torch.rand((), generator=g) - 0.5
            dist = (xx - cx - slope * (yy - cy)).abs() + torch.relu((yy - cy).abs() - ry)
        images[i, 0] = torch.clamp(width + 0.5 - dist, 0, 1)
    return torch.round(images * 255) / 255


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return digit_like(6)


def first_spike(spikes: torch.Tensor) -> torch.Tensor:
    """Step of each value's first spike; T (past the end) where it never spikes."""
    fired = spikes.bool()
    steps = torch.arange(spikes.shape[0]).reshape(-1, *[1] * (spikes.ndim - 1)).expand_as(fired)
    return torch.where(fired, steps, spikes.shape[0]).amin(0)


# ---------------------------------------------------------------------------------------------------
# rate


@pytest.mark.parametrize(
    ("gain", "offset", "first_spike_time"), [(1.0, 0.0, 0), (0.25, 0.0, 0), (2.0, -0.3, 5), (1.0, 0.2, 199)]
)
def test_rate_equals_snntorch_for_the_same_draws(digits, gain, offset, first_spike_time):
    kw = dict(gain=gain, offset=offset, first_spike_time=first_spike_time)
    torch.manual_seed(123)
    expected = spikegen.rate(digits, num_steps=200, **kw)
    ours = rate(digits, 200, **kw, generator=torch.Generator().manual_seed(123))
    assert ours.shape == (200, 6, 1, 28, 28) and ours.dtype == torch.float32
    assert torch.equal(ours, expected)
    # Without a generator the global RNG is used, draw for draw.
    torch.manual_seed(123)
    assert torch.equal(rate(digits, 200, **kw), expected)
    # Compact dtypes are drawn directly, from the same draws.
    for dtype in (torch.bool, torch.uint8):
        compact = rate(digits, 200, **kw, generator=torch.Generator().manual_seed(123), dtype=dtype)
        assert compact.dtype == dtype and torch.equal(compact, expected.to(dtype))


@pytest.mark.parametrize(("gain", "offset"), [(1.0, 0.0), (0.25, 0.0), (0.5, 0.3), (3.0, -0.5)])
def test_rate_mean_is_clamped_gain_x_plus_offset(gain, offset):
    x = torch.linspace(0, 1, 21)
    num_steps = 4000
    spikes = rate(x, num_steps, gain=gain, offset=offset, generator=torch.Generator().manual_seed(7))
    p = torch.clamp(gain * x + offset, 0, 1)
    # 5 binomial standard deviations, plus a hair for p in {0, 1} where the variance is 0.
    tolerance = 5 * torch.sqrt(p * (1 - p) / num_steps) + 1e-9
    assert ((spikes.mean(0) - p).abs() <= tolerance).all()


def test_rate_extremes():
    x = torch.tensor([0.0, 0.3, 1.0])
    assert rate(x, 500, gain=0.0).sum() == 0  # gain 0: silence
    ones = rate(torch.ones(4, 5), 300)
    assert ones.all()  # x = 1: a spike at every step
    assert rate(x, 300, offset=1.0).all()  # gain*x + offset >= 1 is clamped to certainty
    assert rate(x, 300, gain=-1.0).sum() == 0  # negative probabilities are clamped to 0
    assert rate(torch.zeros(3), 300).sum() == 0


def test_rate_first_spike_time_silences_the_first_steps():
    spikes = rate(torch.ones(2, 3), 10, first_spike_time=4)
    assert spikes[:4].sum() == 0 and spikes[4:].all()


def test_rate_seeded_generator_is_deterministic(digits):
    a = rate(digits, 50, generator=torch.Generator().manual_seed(1))
    b = rate(digits, 50, generator=torch.Generator().manual_seed(1))
    c = rate(digits, 50, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # The global RNG is not consumed by a call with its own generator.
    torch.manual_seed(5)
    before = torch.rand(3)
    torch.manual_seed(5)
    rate(digits, 50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.rand(3), before)


def test_rate_keeps_float64_and_does_not_require_grad():
    x = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    spikes = rate(x, 5)
    assert spikes.dtype == torch.float64 and not spikes.requires_grad


# ---------------------------------------------------------------------------------------------------
# latency


@pytest.mark.parametrize("tau", [1.0, 5.0, 20.0])
@pytest.mark.parametrize("threshold", [0.01, 0.2])
@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("first_spike_time", [0, 7])
def test_latency_equals_snntorch_for_one_sample(
    digits, tau, threshold, linear, normalize, clip, first_spike_time
):
    kw = dict(tau=tau, threshold=threshold, linear=linear, normalize=normalize, clip=clip)
    kw["first_spike_time"] = first_spike_time
    for x in (digits[:1], digits[3].flatten(), digits[2, 0].double()[None]):
        try:
            expected = spikegen.latency(x, num_steps=200, **kw)
        except Exception as exc:  # snnTorch's window check: ours must refuse the same settings
            assert "out of bounds" in str(exc)
            with pytest.raises(ValueError, match=r"num_steps >= \d+"):
                latency(x, 200, **kw)
            continue
        ours = latency(x, 200, **kw)
        assert ours.shape == (200, *x.shape) and ours.dtype == x.dtype
        assert torch.equal(ours, expected.to(x.dtype))


def test_latency_handout_settings(digits):
    """The handout: tau=5, threshold=0.01, 200 steps; and its linear and normalize+clip variants."""
    x = digits[:4]
    variants = (
        dict(),
        dict(linear=True),
        dict(normalize=True, clip=True),
        dict(linear=True, normalize=True, clip=True),
    )
    for kw in variants:
        spikes = latency(x, 200, tau=5, threshold=0.01, **kw)
        assert spikes.shape == (200, 4, 1, 28, 28)
        assert torch.equal(spikes, spikegen.latency(x, num_steps=200, tau=5, threshold=0.01, **kw))
    # Log code: the dark background fires together at round(5 ln(1 + 0.01/1e-7)) = round(57.56) = 58.
    dark = first_spike(latency(x, 200, tau=5, threshold=0.01))[x == 0]
    assert (dark == round(5 * math.log((0.01 + 1e-7) / 1e-7))).all() and dark[0] == 58
    # Normalize: each sample's latest spike falls on the last step.
    last = first_spike(latency(x, 200, tau=5, normalize=True)).flatten(1).amax(1)
    assert (last == 199).all()


@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
def test_latency_at_most_one_spike_brighter_never_later(digits, linear, normalize):
    x = digits
    spikes = latency(x, 200, tau=5, linear=linear, normalize=normalize)
    assert torch.equal(spikes.sum(0), torch.ones_like(x))  # exactly one spike without clip
    times = first_spike(spikes).flatten(1)
    values = x.flatten(1)
    for v, t in zip(values, times):
        order = torch.argsort(v, descending=True)
        assert (t[order].diff() >= 0).all()  # sorted brightest first, times never decrease
    # A direct check of the formula on values far from rounding ties.
    probe = torch.tensor([1.0, 0.5, 0.1])
    expected = [round(5 * (1 - v)) if linear else round(5 * math.log(v / (v - 0.01))) for v in probe.tolist()]
    if not normalize:
        assert first_spike(latency(probe, 60, tau=5, linear=linear)).tolist() == expected


def test_latency_clip_removes_sub_threshold_values(digits):
    x = digits
    for threshold in (0.01, 0.3):
        counts = latency(x, 200, tau=5, threshold=threshold, clip=True).sum(0)
        assert torch.equal(counts, (x >= threshold).to(counts.dtype))


def test_latency_first_spike_time_shifts(digits):
    x = digits
    base = latency(x, 100, tau=5)
    shifted = latency(x, 100, tau=5, first_spike_time=12)
    assert shifted[:12].sum() == 0
    assert torch.equal(shifted[12:], base[:-12])
    for normalize, linear in ((True, False), (True, True)):
        spikes = latency(x, 100, tau=5, normalize=normalize, linear=linear, first_spike_time=30)
        assert spikes[:30].sum() == 0 and spikes.sum(0).eq(1).all()


def test_latency_normalize_is_per_sample(digits):
    """Deliberate difference: a sample's times do not depend on its batch companions."""
    dark_digit = digits[0]  # black background: its latest spike is the saturated one
    bright = torch.full_like(dark_digit, 0.6)
    bright[..., 10:18, 10:18] = 1.0  # no dark values: its own latest spike is much earlier
    alone = latency(bright[None], 50, tau=5, normalize=True)
    in_batch = latency(torch.stack([dark_digit, bright]), 50, tau=5, normalize=True)[:, 1:]
    other_batch = latency(torch.stack([bright, digits[1], digits[2]]), 50, tau=5, normalize=True)[:, :1]
    assert torch.equal(in_batch, alone) and torch.equal(other_batch, alone)
    assert first_spike(alone).max() == 49  # stretched to the whole window on its own
    # snnTorch stretches by the batch's latest spike, so the bright image fires earlier there.
    snn = spikegen.latency(torch.stack([dark_digit, bright]), num_steps=50, tau=5, normalize=True)[:, 1:]
    assert first_spike(snn).max() < 49 and not torch.equal(snn, alone)


def test_latency_window_too_short_says_the_smallest_that_works(digits):
    x = digits[:2]
    needed = round(5 * math.log((0.01 + 1e-7) / 1e-7)) + 1  # 59: the dark pixels' step + 1
    with pytest.raises(ValueError, match=rf"num_steps=58 is too short.*num_steps >= {needed}.*normalize=True"):
        latency(x, needed - 1, tau=5)
    with pytest.raises(Exception, match="out of bounds"):  # snnTorch refuses it too
        spikegen.latency(x[:1], num_steps=needed - 1, tau=5)
    assert torch.equal(latency(x[:1], needed, tau=5), spikegen.latency(x[:1], num_steps=needed, tau=5))
    # Linear code: latest spike at round(20 * (1 - 0.01)) + 3 = 23.
    with pytest.raises(ValueError, match="linear latency code.*num_steps >= 24"):
        latency(x, 23, tau=20, linear=True, first_spike_time=3)
    assert latency(x, 24, tau=20, linear=True, first_spike_time=3).sum(0).eq(1).all()
    # normalize always fits.
    assert latency(x, 3, tau=5, normalize=True).sum(0).eq(1).all()


def test_latency_window_depends_on_settings_not_on_the_batch():
    """Deliberate difference: snnTorch accepts a short window when the batch happens to be bright."""
    bright = torch.full((4,), 0.9)
    assert spikegen.latency(bright, num_steps=5, tau=5).sum() == 4
    with pytest.raises(ValueError, match="num_steps >= 59"):
        latency(bright, 5, tau=5)
    # clip does not change the latest possible spike: a value exactly at threshold still fires there.
    at_threshold = torch.tensor([0.01, 1.0])
    with pytest.raises(ValueError, match="num_steps >= 59"):
        latency(at_threshold, 58, tau=5, clip=True)
    assert first_spike(latency(at_threshold, 59, tau=5, clip=True)).tolist() == [58, 0]


def test_latency_compact_dtype_and_half_input(digits):
    x = digits[:2]
    reference = latency(x, 200, tau=5)
    for dtype in (torch.bool, torch.uint8):
        compact = latency(x, 200, tau=5, dtype=dtype, clip=True)
        assert compact.dtype == dtype and torch.equal(compact, latency(x, 200, tau=5, clip=True).to(dtype))
    # Half input is coded in float32 (x - threshold is too coarse in half), spikes in half.
    half = latency(x.half(), 200, tau=5)
    assert half.dtype == torch.float16 and torch.equal(half.float(), reference)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0, 1, allow_nan=False, width=32), min_size=1, max_size=40),
    tau=st.floats(0.1, 8),
    threshold=st.floats(0.001, 0.9),
    linear=st.booleans(),
    normalize=st.booleans(),
    clip=st.booleans(),
)
def test_latency_properties_on_arbitrary_values(values, tau, threshold, linear, normalize, clip):
    x = torch.tensor(values)
    kw = dict(tau=tau, threshold=threshold, linear=linear, normalize=normalize, clip=clip)
    # 200 steps hold the latest log spike for these ranges: 8 * ln(1 + 0.9 / 1e-7) = 128.
    spikes = latency(x, 200, **kw)
    assert torch.equal(spikes, spikegen.latency(x, num_steps=200, **kw))
    counts = spikes.sum(0)
    assert (counts <= 1).all()
    if clip:
        assert torch.equal(counts.bool(), x >= threshold)
    times = first_spike(spikes)
    order = torch.argsort(x, descending=True)
    fired = counts[order].bool()
    assert (times[order][fired].diff() >= 0).all()


# ---------------------------------------------------------------------------------------------------
# delta


def test_delta_snntorch_docstring_examples():
    a = torch.tensor([1, 2, 2.9, 3, 3.9])
    assert delta(a, threshold=1).tolist() == [1, 1, 0, 0, 0]
    assert delta(a, threshold=1, padding=True).tolist() == [0, 1, 0, 0, 0]
    b = torch.tensor([1, 2, 0, 2, 2.9])
    assert delta(b, threshold=1, off_spike=True).tolist() == [1, 1, -1, 1, 0]
    assert delta(b, threshold=1, padding=True, off_spike=True).tolist() == [0, 1, -1, 1, 0]


@pytest.mark.parametrize("padding", [False, True])
@pytest.mark.parametrize("off_spike", [False, True])
@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.5])
def test_delta_equals_snntorch(padding, off_spike, threshold):
    g = torch.Generator().manual_seed(3)
    for seq in (torch.rand(30, 4, 10, generator=g), saccade(digit_like(2), 40, amplitude=3)):
        expected = spikegen.delta(seq, threshold=threshold, padding=padding, off_spike=off_spike)
        ours = delta(seq, threshold=threshold, padding=padding, off_spike=off_spike)
        assert ours.shape == seq.shape and ours.dtype == seq.dtype and torch.equal(ours, expected)
    if off_spike:
        assert (expected == -1).any() and (expected == 1).any()


def test_delta_dtypes_and_still_sequence():
    still = torch.full((6, 3), 0.7)
    assert delta(still, padding=True).sum() == 0  # no change, no spike
    assert delta(still).tolist() == [[1, 1, 1]] + [[0, 0, 0]] * 5  # padding=False: step 0 vs 0
    ramp = torch.linspace(0, 1, 11).unsqueeze(1)
    signed = delta(ramp.flip(0), threshold=0.1 - 1e-6, off_spike=True, padding=True, dtype=torch.int8)
    assert signed.dtype == torch.int8 and signed[1:].eq(-1).all() and signed[0] == 0
    assert delta(ramp, dtype=torch.bool).dtype == torch.bool
    # A change of exactly threshold spikes, both ways (binary fractions: the differences are exact).
    exact = torch.tensor([0.0, 0.25, 0.5, 0.25, 0.0, 0.125])
    expected = [0, 1, 1, -1, -1, 0]
    assert delta(exact, threshold=0.25, padding=True, off_spike=True).tolist() == expected
    assert spikegen.delta(exact, threshold=0.25, padding=True, off_spike=True).tolist() == expected


# ---------------------------------------------------------------------------------------------------
# saccade: the sequence delta sees for a still image


def shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """`image` [..., H, W] moved by (dy, dx), zeros filling in: an independent pad-and-crop version."""
    h, w = image.shape[-2:]
    pad = max(abs(dy), abs(dx))
    padded = torch.nn.functional.pad(image, (pad, pad, pad, pad))
    return padded[..., pad - dy : pad - dy + h, pad - dx : pad - dx + w]


def test_saccade_moves_the_image_one_pixel_at_a_time(digits):
    frames = saccade(digits, 60, amplitude=3)
    assert frames.shape == (60, *digits.shape)
    assert torch.equal(frames[0], digits) and torch.equal(frames[-1], digits)
    offsets = []
    for frame in frames:
        candidates = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)]
        matches = [(dy, dx) for dy, dx in candidates if torch.equal(frame, shifted(digits, dy, dx))]
        assert len(matches) == 1
        offsets.append(matches[0])
    steps = [(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(offsets, offsets[1:])]
    assert all(dy <= 1 and dx <= 1 for dy, dx in steps)
    assert len(set(offsets)) == 4 * 3  # the whole triangle, every point visited
    assert {dy for dy, _ in offsets} == {0, 1, 2, 3} and {dx for _, dx in offsets} == set(range(-3, 4))


def test_delta_of_a_saccade_fires_on_edges(digits):
    spikes = saccade_delta(digits, 40, padding=True, off_spike=True, dtype=torch.int8)
    assert torch.equal(spikes, delta(saccade(digits, 40), padding=True, off_spike=True, dtype=torch.int8))
    assert (spikes == 1).any() and (spikes == -1).any()
    # Events only where the image has something: no spike further than 2 pixels from any ink.
    ink = torch.nn.functional.max_pool2d(digits, 5, stride=1, padding=2) > 0
    assert not (spikes != 0).any(0)[~ink].any()


# ---------------------------------------------------------------------------------------------------
# encode, encode_batches


def test_encode_dispatches_by_name(digits):
    x = digits[:3]
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(encode(x, "rate", 20, gain=0.5, generator=g1), rate(x, 20, gain=0.5, generator=g2))
    assert torch.equal(encode(x, "latency", 80, tau=5, clip=True), latency(x, 80, tau=5, clip=True))
    assert torch.equal(
        encode(x, "delta", 30, threshold=0.2, amplitude=1), delta(saccade(x, 30, amplitude=1), threshold=0.2)
    )


def test_encode_names_valid_codings_and_arguments(digits):
    with pytest.raises(ValueError, match="coding must be one of rate, latency, delta, got 'poisson'"):
        encode(digits, "poisson", 10)
    rate_keywords = "gain, offset, first_spike_time, generator, dtype"
    with pytest.raises(ValueError, match=f"'rate': tau; valid: {rate_keywords}"):
        encode(digits, "rate", 10, tau=5)
    latency_keywords = "tau, threshold, linear, normalize, clip, first_spike_time, dtype"
    with pytest.raises(ValueError, match=f"valid: {latency_keywords}"):
        encode(digits, "latency", 10, gain=2)
    with pytest.raises(ValueError, match="valid: amplitude, threshold, padding, off_spike, dtype"):
        encode(digits, "delta", 10, normalize=True)


def test_encode_batches_streams_chunks(digits):
    chunks = list(encode_batches(digits, "latency", 60, batch_size=4, tau=5, normalize=True))
    assert [c.shape[1] for c in chunks] == [4, 2]
    assert torch.equal(torch.cat(chunks, dim=1), latency(digits, 60, tau=5, normalize=True))
    delta_chunks = list(encode_batches(digits, "delta", 20, batch_size=5))
    assert torch.equal(torch.cat(delta_chunks, dim=1), encode(digits, "delta", 20))
    a = list(encode_batches(digits, "rate", 10, batch_size=2, generator=torch.Generator().manual_seed(0)))
    b = list(encode_batches(digits, "rate", 10, batch_size=2, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(p, q) for p, q in zip(a, b)) and a[0].shape == (10, 2, 1, 28, 28)
    # Arguments are checked at the call, not at the first chunk.
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        encode_batches(digits, "rate", 10, batch_size=0)
    with pytest.raises(ValueError, match="unknown argument"):
        encode_batches(digits, "rate", 10, batch_size=2, tau=1)


# ---------------------------------------------------------------------------------------------------
# bad input: one clear error naming what was wrong

X = torch.full((2, 4), 0.5)
NAN = torch.tensor([0.5, float("nan")])
INF = torch.tensor([0.5, float("inf")])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rate(NAN, 5), "x contains NaN"),
        (lambda: latency(NAN, 5), "x contains NaN"),
        (lambda: rate(INF, 5), r"x has values in \[0.5, inf\]"),
        (lambda: delta(INF), "seq contains inf"),
        (lambda: rate(torch.tensor([-0.1, 0.5]), 5), r"x has values in \[-0.1, 0.5\]; values must lie in \[0, 1"),
        (lambda: latency(torch.tensor([0.5, 1.5]), 5), r"x has values in \[0.5, 1.5\]"),
        (lambda: rate(torch.empty(0, 3), 5), "x is empty"),
        (lambda: latency(torch.empty(0), 5), "x is empty"),
        (lambda: delta(torch.empty(0, 3)), "seq is empty"),
        (lambda: delta(torch.tensor(0.5)), "seq must have a time dimension"),
        (lambda: rate(torch.full((2,), 255, dtype=torch.uint8), 5), r"x must be a floating.*x.float\(\) / 255"),
        (lambda: latency(torch.ones(2, dtype=torch.int64), 5), "x must be a floating tensor"),
        (lambda: delta(torch.ones(3, dtype=torch.uint8)), "seq must be a floating tensor"),
        (lambda: rate(X, 0), r"num_steps must be >= 1, got 0"),
        (lambda: latency(X, -3), r"num_steps must be >= 1, got -3"),
        (lambda: latency(X, 10, tau=0), r"tau must be a finite number > 0, got 0"),
        (lambda: latency(X, 10, tau=-1), "tau must be a finite number > 0"),
        (lambda: latency(X, 10, tau=math.inf), "tau must be a finite number > 0"),
        (lambda: latency(X, 10, tau=math.nan), "tau must be a finite number > 0"),
        (lambda: latency(X, 10, threshold=0), r"threshold must be in \(0, 1\), got 0"),
        (lambda: latency(X, 10, threshold=1), r"threshold must be in \(0, 1\)"),
        (lambda: latency(X, 10, threshold=math.nan), r"threshold must be in \(0, 1\)"),
        (lambda: delta(X, threshold=0), "threshold must be a finite number > 0"),
        (lambda: delta(X, threshold=-0.1), "threshold must be a finite number > 0"),
        (lambda: rate(X, 10, gain=math.nan), "gain must be a finite number"),
        (lambda: rate(X, 10, gain=math.inf), "gain must be a finite number"),
        (lambda: rate(X, 10, offset=-math.inf), "offset must be a finite number"),
        (lambda: rate(X, 10, first_spike_time=10), r"first_spike_time must be in \[0, 9\], got 10"),
        (lambda: rate(X, 10, first_spike_time=-1), r"first_spike_time must be in \[0, 9\]"),
        (lambda: latency(X, 10, first_spike_time=10), r"first_spike_time must be in \[0, 9\]"),
        (lambda: latency(X, 50, tau=5), "num_steps=50 is too short.*num_steps >= 59"),
        (lambda: rate(X, 10, dtype=torch.complex64), "dtype must be one of"),
        (lambda: delta(X, off_spike=True, dtype=torch.bool), "cannot hold the -1 of off_spike=True"),
        (lambda: delta(X, off_spike=True, dtype=torch.uint8), "cannot hold the -1"),
        (lambda: saccade(torch.rand(28), 5), r"image must have at least 2 dimensions"),
        (lambda: saccade(torch.rand(28, 28), 5, amplitude=0), r"amplitude must be in \[1, 27\]"),
        (lambda: saccade(torch.rand(28, 28) + 1, 5), r"image has values in"),
        (lambda: encode_batches(torch.rand(5), "rate", 5, batch_size=2), r"x must be a batch \[B, ...\]"),
    ],
)
def test_bad_values_raise_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rate([0.5, 0.2], 5), "x must be a torch.Tensor, got list"),
        (lambda: rate(X, 2.5), "num_steps must be an integer, got float"),
        (lambda: rate(X, True), "num_steps must be an integer, got a bool"),
        (lambda: latency(X, 10, tau="5"), "tau must be a real number, got str"),
        (lambda: latency(X, 10, clip="False"), "clip must be True or False"),
        (lambda: rate(X, 10, generator=1234), "generator must be a torch.Generator or None, got int"),
        (lambda: rate(X, 10, dtype="bool"), "dtype must be a torch.dtype"),
    ],
)
def test_wrong_types_raise_type_error_naming_the_argument(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_numpy_scalars_are_accepted():
    spikes = latency(X, np.int64(60), tau=np.float32(5.0), threshold=np.float64(0.01))
    assert torch.equal(spikes, latency(X, 60, tau=5.0))


def test_module_exports():
    assert set(encoding.CODINGS) == {"rate", "latency", "delta"}
    for name in encoding.__all__:
        assert getattr(encoding, name).__doc__


# ---------------------------------------------------------------------------------------------------
# real MNIST


def test_real_mnist_digits(mnist_test):
    x = mnist_test.images[:64].float().div(255).unsqueeze(1)  # (64, 1, 28, 28)
    # Rate: over all pixels and 200 steps, the spike count matches the total brightness (binomial).
    spikes = rate(x, 200, generator=torch.Generator().manual_seed(0), dtype=torch.bool)
    expected = 200 * x.sum()
    spread = math.sqrt(200 * (x * (1 - x)).sum())
    assert abs(spikes.sum() - expected) <= 5 * spread
    # Latency with the handout's settings: each digit alone as in snnTorch, and the same within the batch.
    for kw in (dict(), dict(linear=True), dict(normalize=True, clip=True)):
        batch = latency(x, 200, tau=5, threshold=0.01, **kw)
        for i in range(0, 64, 9):
            alone = spikegen.latency(x[i : i + 1], num_steps=200, tau=5, threshold=0.01, **kw)
            assert torch.equal(batch[:, i : i + 1], alone)
    clipped = latency(x, 200, tau=5, normalize=True, clip=True, dtype=torch.uint8)
    assert clipped.sum() == (x >= 0.01).sum()
