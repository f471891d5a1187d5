"""The main job end to end on real MNIST: train the quick preset, evaluate, predict (what `make demo` runs)."""

import json
import subprocess
import sys

import pytest
from PIL import Image

pytestmark = pytest.mark.slow


def spikevision(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "spikevision", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, mnist_root):
    run_dir = tmp_path_factory.mktemp("runs") / "quick"
    result = spikevision("train", "--preset", "quick", "--out", str(run_dir), "--quiet", "--root", str(mnist_root))
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_quick_preset_passes_95_percent_on_all_10000_test_images(quick_run):
    run_dir, result = quick_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["test_samples"] == 10_000
    assert summary["test_accuracy"] >= 0.95, summary
    assert summary["spikes_per_sample"] > 0 and summary["synops_per_sample"] > 0
    assert f"{summary['test_accuracy'] * 100:.2f}%" in result.stdout
    for name in ("config.json", "checkpoint.safetensors", "metrics.jsonl", "loss.png", "accuracy.png"):
        assert (run_dir / name).is_file(), name
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in epochs if r["kind"] == "epoch"] == [1]


def test_evaluate_reports_the_same_accuracy_and_a_consistent_confusion_matrix(quick_run, mnist_root):
    run_dir, _ = quick_run
    result = spikevision("evaluate", str(run_dir), "--json", "--root", str(mnist_root))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert report["accuracy"] == summary["test_accuracy"]  # deterministic direct input: same numbers
    confusion = report["confusion"]
    assert sum(map(sum, confusion)) == 10_000
    assert [sum(row) for row in confusion] == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert sum(confusion[i][i] for i in range(10)) / 10_000 == report["accuracy"]
    assert report["energy"]["snn_nj_per_sample"] > 0 and "estimate" in report["energy"]["note"]
    with Image.open(run_dir / "confusion.png") as img:
        assert img.width > 300 and img.height > 300


def test_predict_reads_a_picture_of_a_test_digit(quick_run, mnist_test, tmp_path):
    run_dir, _ = quick_run
    paths = []
    for i in range(5):
        # Dark ink on white, 4x larger than MNIST: what a user's own drawing looks like.
        picture = Image.fromarray((255 - mnist_test.images[i]).numpy(), "L").resize((112, 112))
        paths.append(tmp_path / f"digit{i}.png")
        picture.save(paths[-1])
    result = spikevision("predict", str(run_dir), *map(str, paths), "--json")
    assert result.returncode == 0, result.stderr
    predictions = json.loads(result.stdout)
    assert [p["image"] for p in predictions] == list(map(str, paths))
    assert all(len(p["spike_counts"]) == 10 for p in predictions)
    correct = sum(p["prediction"] == int(mnist_test.labels[i]) for i, p in enumerate(predictions))
    assert correct >= 4, predictions


def test_bf16_autocast_trains_the_quick_preset_to_the_float32_accuracy(quick_run, tmp_path, mnist_root):
    # On the CPU here (autocast works there too); benchmarks/gpu_check.sh repeats it on a GPU. Two runs of one
    # seed part ways at the first rounding that differs, so their accuracies differ by chance: over seeds 0-5
    # (`spikevision train --preset quick --set train.seed=S --set train.precision=P`, 2026-12-07, an AMD EPYC)
    # bf16 minus float32 was -0.08 points on average with a spread (sd) of 0.30 points, from -0.54 to +0.24,
    # and another processor's rounding moves a float32 run alone by 0.2. One point is about 3 sd: a broken
    # bf16 path (gradients lost, a wrong cast) costs far more; the preset's own bar of 95 % holds as well.
    run_dir = tmp_path / "bf16"
    result = spikevision("train", "--preset", "quick", "--out", str(run_dir), "--quiet", "--root", str(mnist_root),
                         "--set", "train.precision=bf16")
    assert result.returncode == 0, result.stderr
    half = json.loads((run_dir / "summary.json").read_text())
    full = json.loads((quick_run[0] / "summary.json").read_text())
    assert half["precision"] == "bf16" and full["precision"] == "fp32"
    assert half["test_accuracy"] >= 0.95, half["test_accuracy"]
    assert abs(half["test_accuracy"] - full["test_accuracy"]) <= 0.01, (half["test_accuracy"], full["test_accuracy"])
