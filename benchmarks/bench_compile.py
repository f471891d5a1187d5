"""The first run's compile cost: a fresh install's numba kernels (their serial builds, which a run compiles
before its first step) one after another in one process, or each family in a worker process of its own side
by side (``kernels.numba.warm``, what a run does); the parallel builds, which a run compiles in the background
(``kernels.numba.runtime.build``), one after another in one process; and a whole first ``spikevision train`` with an
empty cache, then a second one with that cache.

Every measurement starts from an empty ``NUMBA_CACHE_DIR`` of its own, so nothing is loaded from an earlier
compile, and waits for the background compiles a training leaves before the next one. Run it on a quiet
machine: compiling is CPU-bound, and the side-by-side figure needs free cores.

Run:  python benchmarks/bench_compile.py                  (the quick preset's families, 3 repeats)
      python benchmarks/bench_compile.py --preset conv --repeats 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _fresh_env(cache: str) -> dict:
    return {**os.environ, "NUMBA_CACHE_DIR": cache}


def in_process(families: list[str], parallel: bool = False) -> float:
    """Seconds to compile ``families`` (their serial or parallel builds) one after another in one fresh process."""
    with tempfile.TemporaryDirectory() as cache:
        code = ("import sys, time; from spikevision.kernels.numba import warm; t = time.perf_counter(); "
                f"[warm.compile_family(f, parallel={parallel}) for f in sys.argv[1:]]; "
                "print(time.perf_counter() - t)")
        out = subprocess.run([sys.executable, "-c", code, *families], env=_fresh_env(cache), check=True,
                             capture_output=True, text=True).stdout
        return float(out.split()[-1])


def side_by_side(families: list[str], workers: int) -> float:
    """Seconds for ``kernels.numba.warm.compile_in_parallel`` with ``workers`` processes (each starts python and
    torch)."""
    with tempfile.TemporaryDirectory() as cache:
        code = ("import sys, time; from spikevision.kernels.numba import warm; t = time.perf_counter(); "
                "failed = warm.compile_in_parallel(sys.argv[2:], int(sys.argv[1])); "
                "assert not failed, failed; print(time.perf_counter() - t)")
        out = subprocess.run([sys.executable, "-c", code, str(workers), *families], env=_fresh_env(cache),
                             check=True, capture_output=True, text=True).stdout
        return float(out.split()[-1])


def first_training(preset: str, overrides: list[str]) -> dict:
    """A whole ``spikevision train`` from an empty cache, then a second one with what the first left there
    (and its background compiles, waited for): each command's wall time and its summary's train time."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        result = {}
        for name in ("first", "second"):
            args = [sys.executable, "-m", "spikevision", "train", "--preset", preset, "--out", f"{out}/{name}",
                    "--quiet", *[a for o in overrides for a in ("--set", o)]]
            start = time.perf_counter()
            subprocess.run(args, env=_fresh_env(cache), check=True, capture_output=True)
            wall = time.perf_counter() - start
            summary = json.loads(Path(out, name, "summary.json").read_text())
            result[name] = {"wall_seconds": wall, "train_seconds": summary["train_seconds"],
                            "test_accuracy": summary["test_accuracy"]}
            _wait_for_background(cache)
        return result


def _wait_for_background(cache: str, limit: float = 300.0) -> None:
    """Until no ``kernels.numba.warm`` worker on ``cache`` runs (a training leaves its parallel builds compiling)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(cache in environ for environ in _warm_workers()):
        time.sleep(0.5)


def _warm_workers() -> list[str]:
    """The environments of the running ``spikevision.kernels.numba.warm`` processes (Linux /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"spikevision.kernels.numba.warm" in (proc / "cmdline").read_bytes():
                found.append((proc / "environ").read_bytes().decode(errors="replace"))
        except OSError:
            continue
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-training", action="store_true", help="leave out the whole first training")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    from spikevision import model
    from spikevision.kernels.numba import cache
    from spikevision.runs import config

    cfg = config.resolve(args.preset)
    used = model.build_model(cfg.model).kernel_families(cfg.train.encoding)
    families = [family for family in cache.FAMILIES if family in used]  # the order the workers start them
    print(f"{args.preset}: kernel families {', '.join(families)}; {os.cpu_count()} cores")
    rows = {"serial builds, one process, one after another": lambda: in_process(families),
            f"serial builds, {args.workers} workers side by side": lambda: side_by_side(families, args.workers),
            "parallel builds, one process, one after another": lambda: in_process(families, parallel=True)}
    result = {"preset": args.preset, "families": families, "cores": os.cpu_count()}
    for name, measure in rows.items():
        times = [measure() for _ in range(args.repeats)]
        result[name] = times
        print(f"  {name:<48} {statistics.median(times):6.1f} s  (runs: {', '.join(f'{t:.1f}' for t in times)})")
    if not args.no_training:
        runs = [first_training(args.preset, []) for _ in range(args.repeats)]
        result["trainings"] = runs
        for name in ("first", "second"):
            print(f"  {name} `spikevision train --preset {args.preset}`: wall "
                  + ", ".join(f"{r[name]['wall_seconds']:.1f}" for r in runs) + " s; train_seconds "
                  + ", ".join(f"{r[name]['train_seconds']:.1f}" for r in runs) + " s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
