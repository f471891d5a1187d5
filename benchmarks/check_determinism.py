"""Does the same run give bitwise the same checkpoint every time, in-process and through the command line?

Trains the tests' tiny run (784-32-10, rate coding, shifts, flips, dropout, one-cycle schedule; see
tests/test_train.py) once with ``train.fit`` in this process, then ``--runs`` times as
``python -m spikevision train`` in fresh processes, and prints, per process, the tensors of its
checkpoint that differ from the in-process run's (an empty list: bitwise equal) and the largest difference.

Run:  python benchmarks/check_determinism.py --runs 40 [--threads 1] [--fresh-numba-cache]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_train import cli_args, final_tensors, tiny_config  # noqa: E402

from spikevision import data, train  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="command-line runs to compare (default 10)")
    parser.add_argument("--threads", type=int, default=None, help="torch/numba threads (default: torch's)")
    parser.add_argument("--fresh-numba-cache", action="store_true",
                        help="compile the kernels afresh: an empty NUMBA_CACHE_DIR for this process and the runs")
    args = parser.parse_args()
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
        different = {k: (got[k].double() - want[k].double()).abs().max().item()
                     for k in want if not torch.equal(got[k], want[k])}
        equal += not different
        print(f"run {i}: {time.perf_counter() - tick:.1f} s, differing tensors {different}", flush=True)
    print(f"{equal} of {args.runs} bitwise equal to the in-process run")
    return 0 if equal == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
