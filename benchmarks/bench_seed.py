"""The `seed` preset end to end against snnTorch's training loop for the same steps, in one run.

spikevision: the real command, ``spikevision train --preset seed`` (3 epochs, 351 steps of 512), in a
subprocess; its ``train_seconds`` (which leave out the test-set evaluations). The kernels are compiled
first (both builds, into numba's cache), so the figure is a steady run's; ``--cold`` times the first run
of a fresh install instead, compile included.

snnTorch: the tutorial's loop (``bench_lif.SnnTorchNet``: ``snn.Leaky`` around the same layers) trained
for the same 351 steps on the same preset: batches of 512 from a shuffled training set, Adam 5e-4, the
handout's loss. ``--snntorch-steps N`` times the first N steps and scales them to 351 (the output says so).

The two alternate, ``--repeats`` times, so that a machine that changes speed during the run slows both;
the ratio of each pair is printed, and their range.

Run:  python benchmarks/bench_seed.py                       (about 9 minutes: snnTorch takes ~1.2 s a step)
      python benchmarks/bench_seed.py --repeats 2 --snntorch-steps 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_lif import SnnTorchNet

from spikevision import data
from spikevision.model import build_model
from spikevision.runs.config import resolve
from spikevision.runs.train import TensorData, loss_fn

STEPS = 351  # 3 epochs of 117 batches of 512: what `spikevision train --preset seed` runs


def spikevision_seconds(cold: bool) -> tuple[float, float]:
    """(train_seconds, test accuracy) of one `spikevision train --preset seed` in a fresh process."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba-cache")
        out = Path(tmp) / "seed"
        run = subprocess.run([sys.executable, "-m", "spikevision", "train", "--preset", "seed", "--out", str(out),
                              "--quiet"], env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise SystemExit(f"spikevision train --preset seed failed:\n{run.stderr}")
        summary = json.loads((out / "summary.json").read_text())
    return summary["train_seconds"], summary["test_accuracy"]


def compile_kernels() -> None:
    """Both builds of the seed network's kernel families into numba's cache (what a second run finds)."""
    for family in ("lif_linear", "lif"):
        for extra in ([], ["--parallel"]):
            subprocess.run([sys.executable, "-m", "spikevision.kernels.numba.warm", family, *extra], check=True)


def snntorch_seconds(steps: int) -> float:
    """Seconds for ``steps`` training steps of snnTorch's loop on the seed preset."""
    config = resolve("seed", [])
    cfg = config.train
    net = SnnTorchNet(build_model(config.model, seed=0))
    train = TensorData.from_split(data.load(cfg.dataset, "train"))
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=cfg.betas)
    order = torch.randperm(len(train.labels), generator=torch.Generator().manual_seed(0))
    per_epoch = len(order) // cfg.batch_size
    tick = time.perf_counter()
    for step in range(steps):
        batch = order[(step % per_epoch) * cfg.batch_size:(step % per_epoch + 1) * cfg.batch_size]
        spk, mem = net(train.images[batch], cfg.num_steps)
        loss = loss_fn(spk, mem, train.labels[batch], cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - tick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="alternating pairs of runs")
    parser.add_argument("--snntorch-steps", type=int, default=STEPS, help=f"steps timed, scaled to {STEPS}")
    parser.add_argument("--cold", action="store_true", help="spikevision from an empty kernel cache each time")
    args = parser.parse_args(argv)
    if not 1 <= args.snntorch_steps <= STEPS:
        parser.error(f"--snntorch-steps must be between 1 and {STEPS}")
    if not args.cold:
        compile_kernels()
    scale = STEPS / args.snntorch_steps
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.2f}; snnTorch: {args.snntorch_steps} steps timed"
          + (f", scaled x{scale:.2f} to {STEPS}" if scale != 1 else ""))
    print("| pair | spikevision train s | accuracy | snnTorch s for 351 steps | speed-up |")
    print("|---|---|---|---|---|")
    ratios = []
    for pair in range(1, args.repeats + 1):
        ours, accuracy = spikevision_seconds(args.cold)
        theirs = snntorch_seconds(args.snntorch_steps) * scale
        ratios.append(theirs / ours)
        print(f"| {pair} | {ours:.1f} | {accuracy:.2%} | {theirs:.1f} | {ratios[-1]:.1f}x |", flush=True)
    print(f"speed-up {min(ratios):.1f}-{max(ratios):.1f}x over {len(ratios)} pair(s); "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
