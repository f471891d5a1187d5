"""Multi-process training: shards, the single-process fallback, and real 2-process CPU runs under torchrun.

The torchrun runs are tiny (784-32-10, 6 steps, 500 training images, batches of 49 so the last batch and the
two shards are uneven, 2 epochs) but use rate coding and random shifts, so "equal to one process" covers
every random draw being shared out correctly. Stated tolerance, checked below: each step's loss within
1e-4 relative of the single-process run (float sums in another order; measured ~2e-7), the same number
of correct training predictions every step, and the same test accuracy within 0.3 points (measured equal).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_train import assert_same_run
from torch.utils.data import DistributedSampler

from spikevision.model import build_model
from spikevision.runs import config, distributed, train
from spikevision.runs.checkpoint import CHECKPOINT_NAME, read_checkpoint

OVERRIDES = [
    "model.hidden=[32]", "train.num_steps=6", "train.batch_size=49", "train.drop_last=false",
    "train.train_subset=500", "train.epochs=2", "train.encoding=rate", "train.augment_shift=1",
    "train.eval_batch_size=2000", "train.checkpoint_every=1",
]
STEPS = 2 * 11  # ceil(500 / 49) steps per epoch
TIMINGS = {"train_seconds", "eval_seconds"}


def torchrun(*args: str, nproc: int = 2) -> list[str]:
    """The command line of torchrun with ``nproc`` local processes and a free rendezvous port."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]


def train_args(run_dir: Path, root: Path, *extra: str) -> list[str]:
    args = ["-m", "spikevision", "train", "--preset", "quick", "--out", str(run_dir), "--root", str(root), "--quiet"]
    for item in (*OVERRIDES, *extra):
        args += ["--set", item]
    return args


def records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory, mnist_root) -> Path:
    run_dir = tmp_path_factory.mktemp("one") / "run"
    # On the CPU, as torchrun's two processes are even on a one-GPU machine (--device auto: no GPU each).
    train.fit(config.resolve("quick", OVERRIDES), run_dir, data_root=mnist_root, device="cpu")
    return run_dir


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, mnist_root) -> Path:
    run_dir = tmp_path_factory.mktemp("two") / "run"
    done = subprocess.run(torchrun(*train_args(run_dir, mnist_root)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test accuracy") == 1, done.stdout  # only rank 0 prints its summary
    return run_dir


# --------------------------------------------------------------------------- in one process


@pytest.mark.parametrize("world", [2, 3, 4])
def test_shards_interleave_like_distributed_sampler_and_cover_the_batch_once(world):
    for n in (12, 48, 60):  # divisible: DistributedSampler neither pads nor drops
        for rank in range(world):
            sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=False)
            assert list(range(n))[distributed.Context(rank, world).shard(n)] == list(sampler)
    for n in (5, 49, 50):  # uneven: every sample exactly once, shard sizes differ by at most one
        shards = [list(range(n))[distributed.Context(rank, world).shard(n)] for rank in range(world)]
        assert sorted(sum(shards, [])) == list(range(n))
        sizes = [distributed.Context(rank, world).shard_size(n) for rank in range(world)]
        assert sizes == [len(s) for s in shards] and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("loss", ["membrane_ce", "mean_membrane_ce", "count_ce", "rate_mse"])
def test_share_weighted_shard_losses_average_to_the_global_batch_gradient(loss):
    """DDP averages gradients over processes; weighting each mean loss by world * n_local / n makes that average
    the gradient of the mean over the global batch, also for uneven shards (7 = 3 + 2 + 2)."""
    cfg = config.resolve("quick", ["model.hidden=[16]", "train.num_steps=8", f"train.loss={loss}"])
    # The claim is one of maths, so it is checked in float64: in float32 the shards' sums in another order
    # differ by ~1e-6 of the largest gradient, and by how much depends on the processor's vector width.
    model = build_model(cfg.model, seed=0).double()
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(7, 1, 28, 28, generator=generator, dtype=torch.float64) * 3
    target = torch.randint(0, 10, (7,), generator=generator)

    def gradients(x, y, weight=1.0):
        model.zero_grad()
        out = model(x, num_steps=8)
        (train.loss_fn(out.spk, out.mem, y, cfg.train) * weight).backward()
        return [p.grad.clone() for p in model.parameters()]

    want = gradients(images, target)
    world = 3
    shards = [distributed.Context(rank, world).shard(7) for rank in range(world)]
    per_rank = [gradients(images[s], target[s], world * len(target[s]) / 7) for s in shards]
    for got, expected in zip(zip(*per_rank), want):
        # float64 sums of a few thousand terms in another order: n * eps * sum|terms| is ~1e-12 of the largest
        # gradient; a wrong weight (world * n_local / n) would be off by a tenth or more
        assert torch.allclose(sum(got) / world, expected, rtol=1e-10, atol=1e-10 * float(expected.abs().max()))


def test_without_torchrun_training_is_the_single_process_run(monkeypatch):
    for key in distributed.ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    ctx = distributed.setup("cpu")
    assert ctx == distributed.Context() and not ctx.distributed and ctx.is_main and distributed.is_main_process()
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, ctx) is model
    values = torch.tensor([1.5, 2.0])
    assert distributed.sum_over_processes(values, ctx) is values


@pytest.mark.parametrize(("env", "message"), [
    ({"RANK": "one"}, "RANK='one' is not a whole number"),
    ({"RANK": "2", "WORLD_SIZE": "2"}, r"RANK=2 is not in \[0, WORLD_SIZE=2\)"),
])
def test_a_broken_torchrun_environment_is_a_clear_error(monkeypatch, env, message):
    base = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29999"}
    for key, value in {**base, **env}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=message):
        distributed.setup()


def test_only_rank_0_of_a_torchrun_group_is_the_main_process(monkeypatch):
    for key, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": "29999"}.items():
        monkeypatch.setenv(key, value)
    assert not distributed.is_main_process()
    monkeypatch.setenv("RANK", "0")
    assert distributed.is_main_process()


# --------------------------------------------------------------------------- two processes under torchrun


@pytest.mark.slow
def test_two_processes_train_what_one_process_trains(one_process_run, two_process_run):
    one, two = records(one_process_run), records(two_process_run)
    assert [r["kind"] for r in two] == [r["kind"] for r in one] and len(one) == STEPS + 2  # written once
    for a, b in zip(one, two):
        assert a["step"] == b["step"]
        if a["kind"] == "step":
            assert abs(a["loss"] - b["loss"]) <= 1e-4 * abs(a["loss"]), (a, b)
            assert abs(a["accuracy"] - b["accuracy"]) < 1e-6  # the same count: one sample is 1/49 (or 1/10)
            assert a["lr"] == b["lr"]
        else:
            assert abs(a["test_accuracy"] - b["test_accuracy"]) <= 0.003
    summary = json.loads((two_process_run / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["test_samples"] == 10_000 and summary["steps"] == STEPS
    assert json.loads((one_process_run / "summary.json").read_text())["processes"] == 1


@pytest.mark.slow
def test_only_rank_0_writes_even_when_each_process_has_its_own_disk(tmp_path, mnist_root):
    """Each process gets its own run directory (as on machines that share no disk): rank 1's stays absent."""
    script = tmp_path / "fit.py"
    script.write_text(
        "import os, sys\nfrom pathlib import Path\nfrom spikevision.runs import config, train\n"
        f"cfg = config.resolve('quick', {OVERRIDES + ['train.epochs=1']!r})\n"
        "summary = train.fit(cfg, Path(sys.argv[1]) / ('rank' + os.environ['RANK']), data_root=Path(sys.argv[2]))\n"
        "print('rank', os.environ['RANK'], 'accuracy', summary['test_accuracy'])\n")
    done = subprocess.run(torchrun(str(script), str(tmp_path), str(mnist_root)), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "rank0").iterdir()) == [
        CHECKPOINT_NAME, "config.json", "metrics.jsonl", "summary.json"]  # pictures: the command's (train_cmd)
    assert not (tmp_path / "rank1").exists()
    accuracies = {line.split()[-1] for line in done.stdout.splitlines() if line.startswith("rank")}
    assert len(accuracies) == 1  # both processes return the same full-test-set evaluation


@pytest.mark.slow
def test_two_processes_asked_for_cuda_share_one_gpu_over_gloo_or_are_refused_without_one(tmp_path, mnist_root):
    """More processes than GPUs with ``--device cuda``: they share the GPUs over gloo (NCCL cannot put two ranks
    on one GPU). Here, without a GPU, the command is refused before anything is written; under
    benchmarks/gpu_check.sh, on a one-GPU machine, both processes train on cuda:0."""
    run_dir = tmp_path / "run"
    done = subprocess.run(torchrun(*train_args(run_dir, mnist_root, "train.epochs=1"), "--device", "cuda"),
                          capture_output=True, text=True, timeout=300)
    if not torch.cuda.is_available():
        assert done.returncode != 0
        assert "--device cuda: no CUDA device is available here; use --device cpu or auto" in done.stderr
        assert not (run_dir / CHECKPOINT_NAME).exists() and not (run_dir / "summary.json").exists()
        return
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())  # rank 0's: cuda:0, shared or its own
    assert summary["processes"] == 2 and summary["device"] == "cuda:0" and summary["steps"] == STEPS // 2
    assert summary["test_samples"] == 10_000


@pytest.mark.slow
def test_resume_after_killing_both_processes_replays_the_two_process_run(tmp_path, mnist_root, two_process_run):
    run_dir = tmp_path / "run"
    crashed = subprocess.Popen(torchrun(*train_args(run_dir, mnist_root)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        step = 0
        deadline = time.monotonic() + 240
        while step < 5 and crashed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
            try:
                step = read_checkpoint(run_dir / CHECKPOINT_NAME)[1]["progress"]["step"]
            except (FileNotFoundError, ValueError):
                pass
    finally:
        os.killpg(crashed.pid, signal.SIGKILL)  # torchrun and both workers, as a lost machine would
        crashed.wait()
    assert crashed.returncode == -signal.SIGKILL and not (run_dir / "summary.json").exists()
    killed_at = read_checkpoint(run_dir / CHECKPOINT_NAME)[1]["progress"]["step"]
    assert 5 <= killed_at < STEPS
    resume = ["-m", "spikevision", "train", "--out", str(run_dir), "--root", str(mnist_root), "--quiet", "--resume"]
    done = subprocess.run(torchrun(*resume), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Bitwise equal, with the tolerance kept as a safety net for runs that ended in different processes
    # (docs/RELIABILITY.md, "The process-level variation").
    assert_same_run(run_dir, two_process_run, across_processes=True)
