"""animation: GIF and MP4 files that open, have one frame per time step, and show the spikes they were given."""

from __future__ import annotations

import os

import imageio_ffmpeg
import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from spikevision.pictures import animation, plotting


@pytest.fixture(autouse=True)
def rcparams_unchanged():
    before = dict(matplotlib.rcParams)
    yield
    assert dict(matplotlib.rcParams) == before


def _spikes(shape, p, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


def _gif_frames(path):
    """All frames of a GIF as RGB arrays, and their durations in ms."""
    frames, durations = [], []
    with Image.open(path) as img:
        for k in range(img.n_frames):
            img.seek(k)
            frames.append(np.asarray(img.convert("RGB")))
            durations.append(img.info["duration"])
    return np.stack(frames), durations


def _mp4_frames(path):
    """All frames of an MP4 as RGB arrays (decoded by the same bundled ffmpeg), and the frame size."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]
    return np.stack(frames), (width, height), meta


def _no_debris(directory, *names):
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


def test_gif_has_one_frame_per_step_showing_the_spikes_exactly(tmp_path):
    spikes = _spikes((200, 28, 28), 0.3)
    path = animation.save_animation(spikes, tmp_path / "rate.gif", fps=25, scale=8)
    frames, durations = _gif_frames(path)
    assert frames.shape[0] == 200 and frames.shape[2] == 28 * 8
    banner = frames.shape[1] - 28 * 8
    assert 0 < banner <= 40
    # GIF is lossless: every pixel block is white where a spike is, black where none (gray colour map).
    pixels = frames[:, banner + 4 :: 8, 4::8, 0]  # the centre of each 8x8 block, (T, 28, 28)
    np.testing.assert_array_equal(pixels, spikes.numpy().astype(np.uint8) * 255)
    assert durations == [40] * 200
    _no_debris(tmp_path, "rate.gif")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_step_counter_banner_changes_every_frame(tmp_path):
    spikes = torch.zeros(5, 28, 28)  # nothing moves: only the counter tells the frames apart
    frames, _ = _gif_frames(animation.save_animation(spikes, tmp_path / "still.gif"))
    assert frames.shape[0] == 5
    banners = frames[:, : frames.shape[1] - 28 * 8]
    assert all(not np.array_equal(banners[i], banners[i + 1]) for i in range(4))
    assert (banners == 0).any() and (banners == 255).any()  # black text on white
    # counted from 1, as the play page counts ("step 1 of 5" is the first frame)
    assert [animation.counter_text(i, 5) for i in (0, 4)] == ["step 1 of 5", "step 5 of 5"]


def test_gif_without_counter_merges_identical_frames_but_keeps_the_duration(tmp_path):
    spikes = torch.zeros(10, 28, 28)
    spikes[5:, 3, 3] = 1  # two runs of identical frames
    frames, durations = _gif_frames(animation.save_animation(spikes, tmp_path / "x.gif", fps=20, counter=False))
    assert frames.shape == (2, 224, 224, 3)
    assert durations == [250, 250]  # 5 frames of 50 ms each


def test_mp4_has_one_frame_per_step_of_even_size(tmp_path):
    spikes = _spikes((200, 28, 28), 0.3, seed=1)
    path = animation.save_animation(spikes, tmp_path / "rate.mp4", fps=25, scale=8)
    assert imageio_ffmpeg.count_frames_and_secs(str(path)) == (200, 8.0)
    frames, (width, height), meta = _mp4_frames(path)
    assert frames.shape[0] == 200 and width == 224 and height % 2 == 0 and height > 224
    assert meta["codec"].startswith("h264")
    # Lossy, but the block centres must still read as the spikes.
    banner = height - 224
    centres = frames[:, banner + 4 :: 8, 4::8].mean(axis=-1) > 128
    agreement = (centres == spikes.numpy().astype(bool)).mean()
    assert agreement > 0.99, agreement
    _no_debris(tmp_path, "rate.mp4")


def test_mp4_pads_odd_sizes_to_even(tmp_path):
    frames = _spikes((6, 27, 15), 0.5)
    path = animation.save_animation(frames, tmp_path / "odd.mp4", scale=1)
    decoded, size, _ = _mp4_frames(path)
    assert size == (16, 28) and decoded.shape[0] == 6


def test_200_frames_as_an_encoder_gives_them_become_200_frames_of_gif_and_mp4(tmp_path):
    spikes = _spikes((200, 1, 28, 28), 0.3)  # [T, 1, H, W], as an encoder gives for one digit
    gif, _ = _gif_frames(animation.save_animation(spikes, tmp_path / "a.gif"))
    mp4, _, _ = _mp4_frames(animation.save_animation(spikes, tmp_path / "a.mp4"))
    assert gif.shape[0] == 200 and mp4.shape[0] == 200  # how long they take: benchmarks/bench_io.py


def test_signed_frames_use_the_whole_colour_map(tmp_path):
    frames = torch.zeros(3, 28, 28)
    frames[1, 0, 0] = 1
    frames[2, 0, 0] = -1
    decoded, _ = _gif_frames(animation.save_animation(frames, tmp_path / "d.gif", cmap=plotting.ON_OFF_CMAP,
                                                      counter=False))
    on, none, off = (decoded[k, 4, 4] for k in (1, 0, 2))
    assert tuple(on) == (0xE6, 0x9F, 0x00) and tuple(off) == (0x00, 0x72, 0xB2)
    assert int(none.max()) <= 2  # the middle of the map is black (to rounding)


def test_save_animation_rejects_bad_input(tmp_path):
    spikes = torch.zeros(4, 28, 28)
    with pytest.raises(ValueError, match=r"unknown animation suffix '\.avi'.*\.gif.*\.mp4"):
        animation.save_animation(spikes, tmp_path / "x.avi")
    with pytest.raises(ValueError, match=r"\[T, H, W\]"):
        animation.save_animation(torch.zeros(4, 784), tmp_path / "x.gif")
    with pytest.raises(ValueError, match=r"\[T, H, W\]"):
        animation.save_animation(torch.zeros(4, 3, 28, 28), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="non-empty"):
        animation.save_animation(torch.zeros(0, 28, 28), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="fps"):
        animation.save_animation(spikes, tmp_path / "x.gif", fps=0)
    with pytest.raises(ValueError, match="scale"):
        animation.save_animation(spikes, tmp_path / "x.gif", scale=0)
    with pytest.raises(ValueError, match="NaN"):
        animation.save_animation(torch.full((2, 4, 4), float("nan")), tmp_path / "x.gif")
    _no_debris(tmp_path)


def test_write_video_failure_keeps_the_old_file_and_leaves_no_debris(tmp_path):
    target = tmp_path / "movie.gif"
    target.write_bytes(b"old")

    def frames():
        yield np.zeros((8, 8, 3), np.uint8)
        yield np.zeros((9, 8, 3), np.uint8)  # a different size half-way

    with pytest.raises(ValueError, match="frame 1"):
        animation.write_video(frames(), target)
    assert target.read_bytes() == b"old"
    _no_debris(tmp_path, "movie.gif")
    with pytest.raises(ValueError, match="need a palette"):
        animation.write_video([np.zeros((8, 8), np.uint8)], tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="at least one frame"):
        animation.write_video([], tmp_path / "x.mp4")


def test_write_video_round_trips_rgb_frames_in_gif(tmp_path):
    rng = np.random.default_rng(0)
    colours = np.array([[0, 0, 0], [230, 159, 0], [0, 114, 178], [255, 255, 255]], np.uint8)
    frames = colours[rng.integers(0, 4, (7, 20, 30))]  # (7, 20, 30, 3)
    decoded, _ = _gif_frames(animation.write_video(list(frames), tmp_path / "rgb.gif", palette=colours))
    np.testing.assert_array_equal(decoded, frames)


def _bar_heights(frame, colours, tol=40):
    """Pixel height of each bar, left to right, found by colour in the column at its centre."""
    match = np.zeros(frame.shape[:2], bool)
    for c in colours:
        match |= np.abs(frame.astype(int) - np.array(c)).sum(axis=-1) < tol
    columns = np.nonzero(match.any(axis=0))[0]
    runs = np.split(columns, np.nonzero(np.diff(columns) > 1)[0] + 1)
    return [int(match[:, run[len(run) // 2]].sum()) for run in runs if len(run)]


def _rgb(hex_colour):
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_spike_count_animation_bars_grow_with_the_running_count(tmp_path, suffix):
    rates = torch.linspace(0.05, 0.5, 10)
    g = torch.Generator().manual_seed(0)
    spk = (torch.rand(120, 10, generator=g) < rates).float()  # (T, 10)
    path = animation.spike_count_animation(spk, tmp_path / f"bars{suffix}", labels=list("0123456789"), dpi=80)
    if suffix == ".gif":
        frames, _ = _gif_frames(path)
    else:
        frames, size, _ = _mp4_frames(path)
        assert size == (512, 320)
    assert frames.shape[:3] == (120, 320, 512)
    counts = spk.sum(0).numpy()
    blue, red = _rgb(plotting.STYLE["bar_color"]), _rgb(plotting.STYLE["highlight_color"])
    heights = np.array(_bar_heights(frames[-1], [blue, red]))
    assert len(heights) == 10
    # Bar heights are proportional to the final counts (to a pixel or two of anti-aliasing and compression).
    np.testing.assert_allclose(heights, counts / counts.max() * heights.max(), atol=3)
    # Only the leader is highlighted.
    assert _bar_heights(frames[-1], [red]) == [heights[int(np.argmax(counts))]]
    # Early frames show the counts so far, not the final ones.
    early = spk[:10].sum(0).numpy()
    np.testing.assert_allclose(_bar_heights(frames[9], [blue, red]), early[early > 0] * heights.max() / counts.max(),
                               atol=3)
    _no_debris(tmp_path, f"bars{suffix}")


def test_spike_count_animation_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"\[T, K\]"):
        animation.spike_count_animation(torch.zeros(10), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="10 counts but 3 labels"):
        animation.spike_count_animation(torch.zeros(10, 10), tmp_path / "x.gif", labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="unknown animation suffix"):
        animation.spike_count_animation(torch.zeros(10, 10), tmp_path / "x.png")


def test_the_spike_count_bars_count_steps_from_one_as_every_other_counter(tmp_path, monkeypatch):
    shown = []
    counter = animation.counter_text
    monkeypatch.setattr(animation, "counter_text", lambda step, total: shown.append(counter(step, total)) or shown[-1])
    animation.spike_count_animation(torch.ones(3, 4), tmp_path / "bars.gif", dpi=40)
    assert sorted(set(shown)) == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
