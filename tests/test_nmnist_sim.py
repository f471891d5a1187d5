"""N-MNIST emulated from MNIST (data/nmnist_sim.py): the saccades' path, the digit drawn between pixels, real
MNIST digits turned into events on the 34x34 sensor, and the split built once into the cache."""

from __future__ import annotations

import numpy as np
import pytest

from spikevision.data import emulator, encoding, nmnist_sim
from spikevision.data import events as ev

QUIET = emulator.Camera(threshold_on=0.35, threshold_off=0.35)  # no leak, no shot noise


def test_the_digit_glides_along_the_saccades_triangle_inside_the_canvas():
    corners = np.asarray(encoding.saccade_vertices(nmnist_sim.AMPLITUDE))
    at = nmnist_sim.positions(np.array([0, 100_000, 200_000, 300_000]))
    assert np.allclose(at - at[0], corners)  # the triangle's corners, 100 ms apart
    path = nmnist_sim.positions(np.arange(0, 300_001, 1000))
    assert path.min() >= 0 and path.max(axis=0).tolist() <= [34 - 28, 34 - 28]
    assert np.allclose(np.abs(np.diff(path, axis=0)).max(), nmnist_sim.AMPLITUDE * 2 / 100)  # constant speed


def test_a_digit_between_pixels_is_the_blend_of_its_neighbours(mnist_test):
    digits = mnist_test.images[:3].numpy().astype(np.float32) / 255
    whole = nmnist_sim.render(digits, np.array([2.0, 3.0]))
    assert np.array_equal(whole[:, 2:30, 3:31], digits) and whole.sum() == pytest.approx(digits.sum())
    half = nmnist_sim.render(digits, np.array([2.0, 3.5]))
    right = nmnist_sim.render(digits, np.array([2.0, 4.0]))
    assert np.allclose(half, (whole + right) / 2)
    with pytest.raises(ValueError, match="leaves the 34x34 canvas"):
        nmnist_sim.render(digits, np.array([6.5, 0.0]))


def test_mnist_digits_become_edges_of_events_on_the_34x34_sensor(mnist_test):
    digits = mnist_test.images[:4].numpy()
    events, offsets = nmnist_sim.emulate_digits(digits, camera=QUIET)
    for b in range(4):
        sample = ev.check(events[offsets[b]: offsets[b + 1]], nmnist_sim.SENSOR)
        assert sample["t"].max() <= 300_000 and set(sample["p"]) == {0, 1}
        # Every event lies where the digit's strokes passed: no stroke pixel within reach, no event.
        reach = np.zeros((34, 34), dtype=bool)
        for corner in nmnist_sim.positions(np.arange(0, 300_001, 2000)):
            reach |= nmnist_sim.render(digits[b: b + 1] / 255, corner)[0] > 0
        assert reach[sample["y"], sample["x"]].all()
    again, _ = nmnist_sim.emulate_digits(digits, camera=QUIET)
    assert again.tolist() == events.tolist()


def test_the_split_is_built_once_into_the_cache_and_says_it_is_emulated(tmp_path, mnist_root):
    (tmp_path / "mnist").symlink_to(mnist_root / "mnist")
    split = nmnist_sim.load("test", tmp_path, limit=300)
    assert len(split) == 300 and split.sensor == nmnist_sim.SENSOR
    assert split.about["dataset"] == "nmnist-sim" and split.about["made_by"]["emulated_from"] == "mnist test"
    events = tmp_path / "nmnist-sim" / "test-first300" / "events.bin"
    stamp = events.stat().st_mtime_ns
    again = nmnist_sim.load("test", tmp_path, limit=300)
    assert events.stat().st_mtime_ns == stamp and again.sample(299).tolist() == split.sample(299).tolist()
    # Chunks carry their own seeds: the first 256 samples do not depend on how many follow them.
    shorter = nmnist_sim.load("test", tmp_path, limit=256)
    assert shorter.sample(255).tolist() == split.sample(255).tolist()
    assert np.array_equal(split.labels, np.asarray(mnist_root_labels(mnist_root)[:300]))


def test_a_cache_made_with_other_settings_is_rebuilt(tmp_path, mnist_root, monkeypatch):
    (tmp_path / "mnist").symlink_to(mnist_root / "mnist")
    built = nmnist_sim.load("test", tmp_path, limit=20)
    monkeypatch.setattr(nmnist_sim, "CAMERA", QUIET)
    rebuilt = nmnist_sim.load("test", tmp_path, limit=20)
    assert rebuilt.about["made_by"]["camera"]["shot_noise_hz"] == 0
    assert built.about["made_by"]["camera"]["shot_noise_hz"] > 0
    assert len(rebuilt.events) < len(built.events)  # no noise events


def mnist_root_labels(root):
    from spikevision import data

    return data.load("mnist", "test", root).labels.numpy()
