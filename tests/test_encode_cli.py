"""`spikevision encode` on real MNIST: the files it writes open, with one frame per step and the right sizes."""

from __future__ import annotations

import re

import imageio_ffmpeg
import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from spikevision.cli import main
from spikevision.data import encoding
from spikevision.pictures import lab
from spikevision.pictures.lab import pick_neuron

# The first five labels of the MNIST test set.
FIRST_TEST_LABELS = [7, 2, 1, 0, 4]


def _encode(capsys, tmp_path, *args):
    rc = main(["encode", *args, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def _table(out):
    """Rows (digit, label, spikes, [files]) of the printed table."""
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+(\d+)\s+([\d,]+)\s+(\S.*)$", line)
        if m:
            rows.append((int(m[1]), int(m[2]), int(m[3].replace(",", "")), m[4].split(", ")))
    return rows


def _png_size(path):
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def _gif_frame_count(path):
    with Image.open(path) as img:
        return img.n_frames, img.size


def test_rate_writes_animations_rasters_reconstruction_and_grid(capsys, tmp_path, mnist_root, mnist_test):
    before = dict(matplotlib.rcParams)
    steps = 30
    out = _encode(capsys, tmp_path, "--coding", "rate", "--num-steps", str(steps), "--samples", "2",
                  "--root", str(mnist_root), "--seed", "3")
    assert dict(matplotlib.rcParams) == before
    rows = _table(out)
    assert [(r[0], r[1]) for r in rows] == [(0, 7), (1, 2)]
    for index, label, count, files in rows:
        stem = f"digit{index}-label{label}-rate"
        neuron = [f for f in files if re.fullmatch(rf"{stem}-neuron\d+\.png", f)]
        assert files == [f"{stem}.gif", f"{stem}.mp4", f"{stem}-raster.png", *neuron, f"{stem}-reconstruction.png"]
        assert len(neuron) == 1
        # The spikes emitted are Bernoulli(pixel) draws: within 5 binomial standard deviations of the mean.
        p = mnist_test.images[index].double() / 255
        mean, sd = steps * p.sum().item(), (steps * (p * (1 - p)).sum().item()) ** 0.5
        assert abs(count - mean) < 5 * sd, (count, mean, sd)

        frames, size = _gif_frame_count(tmp_path / f"{stem}.gif")
        assert frames == steps and size[0] == 224 and size[1] > 224
        mp4_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / f"{stem}.mp4"))
        reader = imageio_ffmpeg.read_frames(str(tmp_path / f"{stem}.mp4"))
        meta = next(reader)
        reader.close()
        assert mp4_frames == steps and tuple(meta["size"]) == size and size[1] % 2 == 0
        assert _png_size(tmp_path / f"{stem}-raster.png") == (1000, 500)
        assert _png_size(tmp_path / neuron[0]) == (800, 200)  # two title lines: what was encoded, then the neuron
        assert _png_size(tmp_path / f"{stem}-reconstruction.png") == (960, 360)
    assert _png_size(tmp_path / "digits-mnist-test.png") == (400, 240)
    assert "digits-mnist-test.png" in out
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {f for r in rows for f in r[3]} | {"digits-mnist-test.png"}


def test_rate_is_reproducible_with_a_seed(capsys, tmp_path, mnist_root):
    args = ["--coding", "rate", "--num-steps", "10", "--index", "4", "--root", str(mnist_root), "--seed", "7"]
    first = _table(_encode(capsys, tmp_path / "a", *args))
    second = _table(_encode(capsys, tmp_path / "b", *args))
    assert first == second and first[0][:2] == (4, 4)
    gif = "digit4-label4-rate.gif"
    assert (tmp_path / "a" / gif).read_bytes() == (tmp_path / "b" / gif).read_bytes()


def test_latency_clip_spikes_once_per_pixel_above_threshold(capsys, tmp_path, mnist_root, mnist_test):
    out = _encode(capsys, tmp_path, "--coding", "latency", "--num-steps", "60", "--index", "2",
                  "--linear", "--normalize", "--clip", "--root", str(mnist_root))
    [(index, label, count, files)] = _table(out)
    # Independent fact: with clip every pixel at or above the threshold (0.01) fires exactly once.
    x = mnist_test.images[2].float() / 255
    assert (index, label) == (2, FIRST_TEST_LABELS[2]) and count == int((x >= 0.01).sum())
    stem = "digit2-label1-latency"
    assert f"{stem}-variants.png" in files
    assert _gif_frame_count(tmp_path / f"{stem}.gif")[0] == 60
    assert imageio_ffmpeg.count_frames_and_secs(str(tmp_path / f"{stem}.mp4"))[0] == 60
    assert _png_size(tmp_path / f"{stem}-variants.png") == (1000, 1000)


def test_latency_variants_survive_a_window_too_short_for_the_log_code(capsys, tmp_path, mnist_root):
    # 20 steps are too few for the un-normalized log code (tau 5 needs 59), but fine with --normalize.
    out = _encode(capsys, tmp_path, "--coding", "latency", "--num-steps", "20", "--normalize", "--index", "0",
                  "--root", str(mnist_root))
    [(_, _, count, files)] = _table(out)
    assert count == 784  # without clip every pixel fires once
    assert "digit0-label7-latency-variants.png" in files


def test_delta_with_off_spikes(capsys, tmp_path, mnist_root):
    out = _encode(capsys, tmp_path, "--coding", "delta", "--off-spike", "--num-steps", "16", "--index", "3",
                  "--root", str(mnist_root))
    [(index, label, count, files)] = _table(out)
    assert (index, label) == (3, 0) and count > 0
    assert files[:3] == ["digit3-label0-delta.gif", "digit3-label0-delta.mp4", "digit3-label0-delta-raster.png"]
    assert _gif_frame_count(tmp_path / files[0])[0] == 16
    assert files[-1] == "digit3-label0-delta-saccade.png" and _png_size(tmp_path / files[-1])[0] > 0  # its own figure


def test_the_delta_figure_shows_each_move_and_exactly_the_spikes_it_makes():
    image = torch.zeros(1, 12, 12)
    image[0, 4:8, 5:7] = 1.0  # a bar that the saccade moves one pixel at a time
    spikes = encoding.saccade_delta(image, 12, amplitude=1, off_spike=True)[:, 0]  # [T, 12, 12]
    fig = lab.saccade_figure(image, spikes, 1, "a bar")
    moving = [t for t in range(12) if spikes[t].abs().sum() > 0][:4]
    frames = encoding.saccade(image, 12, amplitude=1)[:, 0]
    top, bottom = fig.axes[: len(moving)], fig.axes[len(moving) :]
    for t, ax_frame, ax_spikes in zip(moving, top, bottom):
        np.testing.assert_array_equal(ax_frame.images[0].get_array(), frames[t].numpy())
        np.testing.assert_array_equal(ax_spikes.images[0].get_array(), spikes[t].numpy())
        on, off = int((spikes[t] > 0).sum()), int((spikes[t] < 0).sum())
        assert ax_spikes.get_title() == f"step {t + 1}: {on} ON, {off} OFF" and on + off > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coding", "latency", "--gain", "0.5"], "--gain applies to --coding rate"),
        (["--coding", "rate", "--clip"], "--clip applies to --coding latency"),
        (["--coding", "rate", "--samples", "0"], "--samples must be in [1, 10000]"),
        (["--coding", "rate", "--index", "10000"], "--index 10000 is out of range"),
        (["--coding", "rate", "--num-steps", "0"], "--num-steps must be >= 1"),
        (["--coding", "rate", "--gain", "nan"], "gain must be a finite number"),
        (["--coding", "latency", "--num-steps", "20"], "num_steps >= 59"),
        (["--coding", "latency", "--tau", "0"], "tau"),
        (["--coding", "rate", "--fps", "0"], "--fps must be in (0, 100]"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, tmp_path, mnist_root, args, message):
    rc = main(["encode", *args, "--root", str(mnist_root), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spikevision encode: error:"), err
    assert message in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_pick_neuron_prefers_a_spiking_mid_grey_pixel_near_the_centre():
    image = np.zeros(16)
    image[[0, 5, 6, 15]] = [0.5, 1.0, 0.5, 0.45]
    spikes = np.zeros((4, 16))
    spikes[:, [0, 5, 6, 15]] = 1
    assert pick_neuron(spikes, image) == 6  # 0.5 like pixel 0, but nearer the centre of the 4x4 image
    spikes[:, 6] = 0
    assert pick_neuron(spikes, image) == 0  # pixel 6 is silent now
    assert pick_neuron(np.zeros((4, 16)), image) == 5  # nothing spiked: the brightest pixel
