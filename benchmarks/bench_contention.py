"""Seconds per training step when the cores are shared: each thread count and wait policy, alone and beside
1 and 2 competing CPU-bound processes that this script starts and stops itself.

Every measurement runs in a fresh process (thread counts and OpenMP's wait policy are fixed when a process
starts its thread pools): ``--warmup`` steps, then the median of ``--steps`` timed training steps of the
preset (``bench_lif.make_runner``: forward, loss, backward, Adam; the same network and batch as the preset).

Run:  python benchmarks/bench_contention.py                       (quick and conv, 0/1/2 competitors)
      python benchmarks/bench_contention.py --presets quick --loads 0,1 --steps 10 --json out.json
      python benchmarks/bench_contention.py --presets quick --loads 2 --repeats 5   (beside two competitors a
          step's time moves 2x between identical settings: judge the settings by the median of several rounds)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# A run's steady state: the CPU loops' parallel build (a first run starts on the serial one,
# kernels.numba.runtime.build).
os.environ.setdefault("SPIKEVISION_CPU_LOOPS", "parallel")
# Thread pools' wait policies: what torch's and numba's OpenMP threads do when they run out of work.
POLICIES = {
    "default": {},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},  # sleep at once instead of spinning
    # spin briefly (libgomp's default: 300,000 spins), then sleep
    **{f"spin{n // 1000}k": {"GOMP_SPINCOUNT": str(n)} for n in (1_000, 3_000, 10_000, 30_000, 100_000)},
    # what spikevision's commands do (spikevision.runs.threads.apply: it looks at the load before torch loads)
    "spikevision": {"BENCH_SPIKEVISION_POLICY": "1"},
}


def child(preset: str, threads: int, warmup: int, steps: int) -> None:
    """In a fresh process: time ``steps`` training steps of ``preset`` with ``threads`` threads."""
    chosen = {}
    if os.environ.get("BENCH_SPIKEVISION_POLICY"):
        from spikevision.runs import threads as thread_policy

        chosen = thread_policy.apply(threads or None)
    import torch

    if threads and not os.environ.get("BENCH_SPIKEVISION_POLICY"):
        torch.set_num_threads(threads)
    sys.path.insert(0, str(HERE))
    from bench_lif import make_runner

    run = make_runner("spikevision", preset)
    for _ in range(warmup):
        run()
    times = []
    for _ in range(steps):
        tick = time.perf_counter()
        run()
        times.append(time.perf_counter() - tick)
    print(json.dumps({"seconds_per_step": statistics.median(times), "threads": torch.get_num_threads(),
                      "chosen": chosen}))


def measure(preset: str, threads: int, policy: str, warmup: int, steps: int) -> dict:
    env = {**os.environ, **POLICIES[policy]}
    if threads and policy != "spikevision":  # that policy is given the count as --threads would be
        env["OMP_NUM_THREADS"] = str(threads)
    done = subprocess.run([sys.executable, __file__, "--child", preset, str(threads), str(warmup), str(steps)],
                          capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def competitors(count: int) -> list[subprocess.Popen]:
    """``count`` CPU-bound processes (a busy loop each), as another training or a browser tab would be."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def measure_group(preset: str, load: int, args) -> list[dict]:
    """Every thread count and policy beside ``load`` competitors, ``args.repeats`` rounds over all of them in
    turn; each setting's time is the median of its rounds (and its range is kept)."""
    settings = [(threads, policy) for threads in map(int, args.threads.split(","))
                for policy in args.policies.split(",")]
    rounds: dict[tuple, list[dict]] = {setting: [] for setting in settings}
    busy = competitors(load)
    try:
        for _ in range(args.repeats):
            for threads, policy in settings:
                rounds[threads, policy].append(measure(preset, threads, policy, args.warmup, args.steps))
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    group = []
    for (threads, policy), results in rounds.items():
        seconds = [r["seconds_per_step"] for r in results]
        group.append({"preset": preset, "competitors": load, "threads_asked": threads, "policy": policy,
                      **results[-1], "seconds_per_step": statistics.median(seconds), "rounds": seconds})
    best = min(r["seconds_per_step"] for r in group)
    for r in group:
        r["vs_best"] = r["seconds_per_step"] / best
    return group


def _row(r: dict) -> str:
    asked = r["threads_asked"] or f"default ({r['threads']})"
    policy = r["policy"] + (f" ({' '.join(f'{k}={v}' for k, v in r['chosen'].items())})" if r.get("chosen") else "")
    spread = f" ({min(r['rounds']):.4f}-{max(r['rounds']):.4f})" if len(r["rounds"]) > 1 else ""
    return (f"| {r['preset']} | {r['competitors']} | {asked} | {policy} | {r['seconds_per_step']:.4f}{spread} | "
            f"{r['vs_best']:.2f}x |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="quick,conv")
    parser.add_argument("--loads", default="0,1,2", help="numbers of competing CPU-bound processes")
    parser.add_argument("--threads", default="0,1,2", help="torch threads per measurement (0: the default)")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=1,
                        help="rounds over every setting, in turn; each setting's time is the median of its rounds")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        preset, threads, warmup, steps = args.child
        child(preset, int(threads), int(warmup), int(steps))
        return 0
    rows = []
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; {args.repeats} round(s)")
    print("| preset | competitors | threads | policy | s/step (median of the rounds, their range) "
          "| vs best of this load |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets.split(","):
        for load in map(int, args.loads.split(",")):
            group = measure_group(preset, load, args)
            for r in group:
                print(_row(r), flush=True)
            rows += group
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
