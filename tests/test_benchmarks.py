"""The GPU check runs where there is no GPU too: it says so and exits 0, and its benchmark works at tiny sizes.

A GPU session has minutes of device time and no network; a script that broke since the last one would waste
them. So the script itself is checked here, on the CPU, on every run.
"""

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_without_a_gpu_says_so_in_one_line_and_exits_0(tmp_path):
    if _has_cuda():
        pytest.skip("a GPU is present: benchmarks/gpu_check.sh would run for minutes (run it by hand)")
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); nothing measured"]


@pytest.mark.slow
def test_the_gpu_benchmark_runs_on_the_cpu_at_tiny_sizes(tmp_path, mnist_root):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py"), "--device", "cpu", "--smoke",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert result["smoke"] and result["device"] == "cpu"
    for row in result["cases"].values():
        assert set(row["seconds"]) == {"snntorch", "spikevision"} and min(row["seconds"].values()) > 0
    assert set(result["runs"]) == {"seed", "conv (1 epoch)", "quick fp32", "quick bf16"}
    assert all("error" not in run and 0 < run["test_accuracy"] <= 1 for run in result["runs"].values())
    assert result["runs"]["quick bf16"]["precision"] == "bf16"
    assert "errors" not in result, result["errors"]
    same = result["same_seed"]  # on the CPU too: the same seed, the same checkpoint
    assert same["bitwise_equal"] and same["tensors"] > 4 and same["differing"] == [], same
    assert len(result["breakdown"]) == 2  # the unfused handout step and the Open Neuromorphic case
    for parts in result["breakdown"].values():  # on the CPU: the operators' own time; matmuls are addmm/mm there
        assert set(parts) == {"lif_kernels_ms", "matmul_ms", "other_ms"} and parts["matmul_ms"] > 0
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| handout step" in table and "| quick bf16 |" in table and "matmuls" in table
    assert "bitwise equal checkpoints" in table


def test_a_spent_budget_records_the_runs_as_not_run_and_the_table_shows_it(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_gpu
    finally:
        sys.path.pop(0)
    run = bench_gpu.train_preset("seed", "cpu", tmp_path, [], seconds_left=0.5)
    assert run["error"] == ["not run: the check's time budget (--budget) was spent"] and not any(tmp_path.iterdir())
    partial = {"device": "cuda", "device_name": "a GPU", "torch": "2", "triton": "3", "date": "today",
               "cases": {}, "errors": {"Open Neuromorphic": "OutOfMemoryError: ..."}, "runs": {"seed": run}}
    table = bench_gpu.markdown(partial)
    assert "| Open Neuromorphic | no result: OutOfMemoryError" in table and "| seed | no result: not run" in table


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.slow
def test_the_play_latency_benchmark_draws_on_the_real_page_and_reports_each_preset(tmp_path, mnist_root):
    out = tmp_path / "play.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_play.py"), "--presets", "quick",
                           "--digits", "2", "--train-subset", "128", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    [row] = json.loads(out.read_text())
    assert row["preset"] == "quick" and row["strokes"] >= 2 and 0 < row["server_median_ms"] <= row["median_ms"]
    assert "| quick |" in done.stdout


def test_the_drawn_digits_benchmark_reports_mnist_and_drawn_accuracy_of_a_run(tiny_run):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_drawn.py"), str(tiny_run)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    row = [line for line in done.stdout.splitlines() if line.startswith(f"| {tiny_run} ")]
    assert len(row) == 1 and re.search(r"\| \d+\.\d\d % \| \d+\.\d % \|", row[0]), done.stdout
