"""Pictures of events (pictures/events.py) and the commands that write them: `spikevision events show` on a
file of each format and on a dataset's sample, and `spikevision encode --coding dvs`."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from spikevision.cli import main
from spikevision.data import aedat3, atis, shd
from spikevision.data import events as ev
from spikevision.data import frames as fr
from spikevision.pictures import events as pictures

SENSOR = ev.Sensor(34, 34)


def sample(seed: int = 0, count: int = 3000, sensor: ev.Sensor = SENSOR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ev.make(rng.integers(0, sensor.width, count), rng.integers(0, sensor.height, count),
                   np.sort(rng.integers(0, 300_000, count)), rng.integers(0, 2, count))


def test_a_movie_frame_is_on_minus_off_counts_in_its_time_bin():
    events = sample()
    signed = pictures.signed_frames(events, SENSOR, 12)
    counts = fr.frames(events, SENSOR, n_time_bins=12).astype(int)
    assert signed.shape == (12, 34, 34) and np.array_equal(signed, counts[:, 1] - counts[:, 0])


def test_every_picture_of_a_sample_is_written(tmp_path):
    events = sample(1)
    written = pictures.save_all(events, SENSOR, tmp_path, "s", title="a sample", bins=7, fps=5)
    assert [p.name for p in written] == ["s.gif", "s.mp4", "s-raster.png", "s-cloud.png", "s-frames.png"]
    with Image.open(tmp_path / "s.gif") as gif:
        assert gif.n_frames == 7
    assert (tmp_path / "s.mp4").stat().st_size > 1000
    for name in ("s-raster.png", "s-cloud.png", "s-frames.png"):
        with Image.open(tmp_path / name) as png:
            assert png.size[0] > 300
    raster = pictures.raster_figure(events, SENSOR, title="t")
    assert len(raster.axes[0].collections[0].get_offsets()) == len(events)
    with pytest.raises(ValueError, match="the sample has no events"):
        pictures.save_all(events[:0], SENSOR, tmp_path, "e", title="empty")


def write_files(tmp_path) -> dict[str, object]:
    (tmp_path / "digit.bin").write_bytes(atis.encode(sample(2)))
    (tmp_path / "gesture.aedat").write_bytes(aedat3.encode(sample(3, sensor=aedat3.DVS128), aedat3.DVS128))
    rng = np.random.default_rng(4)
    shd.write(tmp_path / "spoken.h5", [(np.sort(rng.uniform(0, 1, 500)).astype(np.float32),
                                        rng.integers(0, 700, 500)) for _ in range(3)], [1, 2, 3])
    return {"digit.bin": (34, 34), "gesture.aedat": (128, 128), "spoken.h5": (700, 1)}


def test_events_show_draws_a_file_of_each_format(tmp_path, capsys):
    for name, (width, height) in write_files(tmp_path).items():
        out = tmp_path / f"out-{name}"
        extra = ["--index", "2"] if name.endswith(".h5") else []
        assert main(["events", "show", str(tmp_path / name), "--out", str(out), "--bins", "6", *extra]) == 0
        printed = capsys.readouterr().out
        assert f"on a {width}x{height} sensor" in printed and len(list(out.glob("*.png"))) == 3
        assert len(list(out.glob("*.gif"))) == 1 == len(list(out.glob("*.mp4")))
    assert "spoken.h5 sample 2 (label 3)" in printed


@pytest.mark.parametrize("arguments, message", [
    (["x.txt"], "no such file"),
    (["digit.bin", "--dataset", "nmnist-sim"], "give an event FILE or --dataset NAME"),
    (["digit.bin", "--sensor", "34by34"], "--sensor must be WIDTHxHEIGHT"),
    (["digit.bin", "--sensor", "20x20"], "outside 0..19"),
    (["spoken.h5", "--index", "3"], "--index 3 is out of range"),
    (["notes.txt"], "unknown event file suffix '.txt'"),
])
def test_events_show_refuses_bad_input_in_one_line(tmp_path, capsys, arguments, message):
    write_files(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    arguments = [str(tmp_path / arguments[0]), *arguments[1:]]
    assert main(["events", "show", *arguments, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_encode_dvs_shows_digits_through_the_emulated_camera(tmp_path, capsys, mnist_root):
    assert main(["encode", "--coding", "dvs", "--index", "0", "5", "--num-steps", "12", "--root", str(mnist_root),
                 "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "dvs coding (emulated event camera" in printed and "events" in printed
    assert sorted(p.name for p in tmp_path.glob("digit0-*")) == [
        "digit0-label7-dvs-cloud.png", "digit0-label7-dvs-frames.png", "digit0-label7-dvs-raster.png",
        "digit0-label7-dvs.gif", "digit0-label7-dvs.mp4"]
    with Image.open(tmp_path / "digit5-label1-dvs.gif") as gif:
        assert gif.n_frames == 12
    assert main(["encode", "--coding", "dvs", "--gain", "2", "--out", str(tmp_path)]) == 2
