"""What a person sees while a run trains, from Python as from the command line."""

from __future__ import annotations

import io
import time

from test_train import tiny_config

from spikevision import data
from spikevision.kernels.numba import cache, warm
from spikevision.pictures import figures
from spikevision.runs import train
from spikevision.runs.progress import ProgressPrinter


def test_fit_from_python_shows_progress_and_writes_the_run_files_and_the_caller_draws(tmp_path, mnist_root, capsys):
    run_dir = tmp_path / "run"
    train.fit(tiny_config("train.epochs=1"), run_dir, data_root=mnist_root)
    err = capsys.readouterr().err
    assert "epoch 1: test accuracy" in err and ("step/s" in err or "s/step" in err)
    assert (run_dir / "summary.json").is_file() and not list(run_dir.glob("*.png"))  # training draws nothing
    assert figures.training_curves(run_dir) == [run_dir / "loss.png", run_dir / "accuracy.png"]  # as the README
    train.fit(tiny_config("train.epochs=1"), tmp_path / "silent", data_root=mnist_root, progress=False)
    assert capsys.readouterr().err == ""


def test_a_first_run_says_that_it_compiles_and_compiles_its_kernel_families_side_by_side(
        tmp_path, mnist_root, monkeypatch):
    monkeypatch.setattr(cache, "cached", lambda family, parallel=False: False)  # as on a fresh install
    order = []
    loading = data.load
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: order.append("data") or loading(*args, **kwargs))

    class Compiling:
        def __init__(self, families, workers):
            order.append(("start", families))
            self.families = families

        def wait(self):
            order.append("wait")
            return []

    monkeypatch.setattr(warm, "Compiling", Compiling)
    events = []
    train.fit(tiny_config("train.epochs=1", "train.encoding=direct"), tmp_path / "run", data_root=mnist_root,
              on_event=lambda kind, info: events.append((kind, info)))
    kinds = [kind for kind, _ in events]
    assert kinds.index("compile") == 1 and kinds[0] == "start" and kinds[2] == "step"
    # The fused first layer with the output layer's Linear, and the output LIF layer: both, started before the
    # data loads and waited for before step 1.
    assert events[1][1]["families"] == ["lif_linear", "lif"]
    assert order == [("start", ["lif_linear", "lif"]), "data", "data", "wait"]


def test_the_bar_starts_after_the_first_step_so_compiling_is_not_in_its_eta():
    stream = io.StringIO()
    printer = ProgressPrinter(stream=stream)
    printer("start", {"total_steps": 10, "steps_per_epoch": 10, "step": 0, "run_dir": "r"})
    printer("compile", {"families": ["lif_linear", "lif"]})
    assert "compiling the lif_linear, lif kernels" in stream.getvalue() and printer.bar is None
    printer("step", {"step": 1, "epoch": 0, "loss": 1.0, "accuracy": 0.5})
    assert printer.bar is not None and printer.bar.n == 1  # the first (compiling) step is its starting point
    printer("step", {"step": 2, "epoch": 0, "loss": 0.9, "accuracy": 0.6})
    assert printer.bar.n == 2
    printer.close()


def test_after_the_last_epoch_line_the_bar_is_gone_not_drawn_again():
    """Seen: the 100 % bar drawn again under the last epoch's line, as if another epoch were running."""
    stream = io.StringIO()
    printer = ProgressPrinter(stream=stream)
    printer("start", {"total_steps": 4, "steps_per_epoch": 2, "step": 0, "run_dir": "r"})
    for step in range(1, 5):
        printer("step", {"step": step, "epoch": (step - 1) // 2, "loss": 1.0, "accuracy": 0.5})
        if step % 2 == 0:
            printer("epoch", {"epoch": step // 2, "test_accuracy": 0.9, "test_loss": 0.3, "train_seconds": 1})
    assert printer.bar is None
    printer.close()
    after = stream.getvalue().split("epoch 2: test accuracy 90.00%")[1]
    assert "it/s" not in after and "step/s" not in after and "%|" not in after, after


def test_a_first_gpu_step_that_takes_seconds_says_triton_is_compiling_once(tmp_path, mnist_root, monkeypatch):
    # On this machine the run is on the CPU; it is told its kernels are Triton's, and its first step is slowed
    # past the notice's threshold, as a first step on a fresh GPU machine is while Triton compiles.
    # Every epoch's first step is slowed: only the process's first says so.
    monkeypatch.setattr(train, "_triton_runs_on", lambda device: True)
    monkeypatch.setattr(train, "TRITON_NOTICE_SECONDS", 0.2)
    monkeypatch.setattr(cache, "missing", lambda families: [])  # no numba notice, whatever this cache holds
    cfg = tiny_config("train.epochs=2")
    per_epoch = cfg.train.train_subset // cfg.train.batch_size
    steps, step = [], train._train_step
    monkeypatch.setattr(train, "_train_step", lambda *a: steps.append(1) or time.sleep(
        0.5 if len(steps) % per_epoch == 1 else 0) or step(*a))
    events = []
    train.fit(cfg, tmp_path / "run", data_root=mnist_root, on_event=lambda kind, info: events.append((kind, info)))
    kinds = [kind for kind, _ in events]
    assert kinds[:3] == ["start", "compile", "step"] and kinds.count("compile") == 1
    assert events[1][1] == {"engine": "triton"} and len(steps) == 2 * per_epoch > 2
    stream = io.StringIO()
    ProgressPrinter(stream=stream)("compile", {"engine": "triton"})
    assert "the first step is compiling the GPU kernels (Triton" in stream.getvalue()


def test_a_quick_first_gpu_step_says_nothing_and_a_slow_body_is_told_once():
    said = []
    with train._said_if_slow(0.3, lambda: said.append("slow")):
        pass
    time.sleep(0.5)  # past the threshold: the timer was cancelled when the body ended
    assert said == []
    with train._said_if_slow(0.05, lambda: said.append("slow")):
        time.sleep(0.4)
    assert said == ["slow"]
