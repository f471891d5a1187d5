"""Does the same run give bitwise the same checkpoint every time, in-process and through the command line?

Trains the tests' tiny run (784-32-10, rate coding, shifts, flips, dropout, one-cycle schedule; see
tests/test_train.py) once with ``train.fit`` in this process, then ``--runs`` times as
``python -m spikevision train`` in fresh processes, and prints, per process, the tensors of its
checkpoint that differ from the in-process run's (an empty list: bitwise equal) and the largest difference.

Run:  python benchmarks/check_determinism.py --runs 40 [--threads 1] [--fresh-numba-cache]

``--first-sqrt [--no-warmup]`` checks the cause instead (docs/RELIABILITY.md): each process hashes a
torch.sqrt split over the threads just before its first optimiser step (``first_sqrt_probe/``), after
``train._settle_vector_math`` or, with ``--no-warmup``, as the process's first such call; it prints how many
processes got each hash (one hash: no variation).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_train import cli_args, final_tensors, tensor_differences, tiny_config  # noqa: E402

from spikevision import data  # noqa: E402
from spikevision.runs import train


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="command-line runs to compare (default 10)")
    parser.add_argument("--threads", type=int, default=None, help="torch/numba threads (default: torch's)")
    parser.add_argument("--fresh-numba-cache", action="store_true",
                        help="compile the kernels afresh: an empty NUMBA_CACHE_DIR for this process and the runs")
    parser.add_argument("--first-sqrt", action="store_true",
                        help="count each process's hash of torch.sqrt just before its first optimiser step")
    parser.add_argument("--no-warmup", action="store_true",
                        help="with --first-sqrt: turn train._settle_vector_math off in those processes")
    args = parser.parse_args()
    if args.first_sqrt:
        return first_sqrt(args.runs, args.no_warmup)
    if args.fresh_numba_cache:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()  # before numba is imported by the first step
    if args.threads:
        torch.set_num_threads(args.threads)
    root, base = data.data_root(), Path(tempfile.mkdtemp())
    train.fit(tiny_config(), base / "in-process", data_root=root)
    want = final_tensors(base / "in-process")
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    print(f"torch threads {torch.get_num_threads()}; {args.runs} command-line runs against the in-process one")
    equal = 0
    for i in range(args.runs):
        run_dir = base / f"cli{i}"
        tick = time.perf_counter()
        subprocess.run([sys.executable, "-m", "spikevision", *cli_args(run_dir, root)], env=env, check=True,
                       capture_output=True)
        got = final_tensors(run_dir)
        different = tensor_differences(got, want)
        equal += not different
        print(f"run {i}: {time.perf_counter() - tick:.1f} s, differing tensors {different}", flush=True)
    print(f"{equal} of {args.runs} bitwise equal to the in-process run")
    return 0 if equal == args.runs else 1


def first_sqrt(runs: int, no_warmup: bool) -> int:
    root, base = data.data_root(), Path(tempfile.mkdtemp())
    probe = Path(__file__).resolve().parent / "first_sqrt_probe"
    hashes = collections.Counter()
    for i in range(runs):
        log = base / f"sqrt{i}.txt"
        env = {**os.environ, "PYTHONPATH": str(probe), "FIRST_SQRT_LOG": str(log)}
        if no_warmup:
            env["FIRST_SQRT_NO_WARMUP"] = "1"
        subprocess.run([sys.executable, "-m", "spikevision", *cli_args(base / f"cli{i}", root)], env=env,
                       check=True, capture_output=True)
        hashes[digest := log.read_text()] += 1
        print(f"run {i}: {digest}", flush=True)
    print(f"{runs} processes, {'without' if no_warmup else 'with'} the warm-up; first sqrt hashes: {dict(hashes)}")
    return 0 if len(hashes) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
