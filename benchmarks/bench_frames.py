"""Events into frames: spikevision's ``data.frames`` against tonic 1.7.0's ``to_frame_numpy`` (what its ``ToFrame``
transform calls), on the same random samples of N-MNIST's and DVS128 Gesture's sizes, in one process.

- ``nmnist``: 34 x 34 x 2, 4,500 events over 300 ms, 10 time bins (the PLIF N-MNIST recipe's T);
- ``dvsgesture``: 128 x 128 x 2, 300,000 events over 6 s, 20 time bins;
- each also by time windows of a tenth of the sample.

The two are checked equal on every sample first; then each is timed over the samples (median of ``--repeats``),
interleaved. tonic is loaded with its package stubbed, as tests/test_frames.py does (its datasets need scipy).

Run:  python benchmarks/bench_frames.py [--samples 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_frames import _tonic_to_frame  # noqa: E402  (tonic's function, loaded without its package)

from spikevision.data import events as ev  # noqa: E402
from spikevision.data import frames as fr  # noqa: E402

CASES = {"nmnist": (ev.Sensor(34, 34), 4_500, 300_000), "dvsgesture": (ev.Sensor(128, 128), 300_000, 6_000_000)}


def samples(sensor: ev.Sensor, count: int, duration: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [ev.make(rng.integers(0, sensor.width, count), rng.integers(0, sensor.height, count),
                    np.sort(rng.integers(0, duration, count)), rng.integers(0, 2, count)) for _ in range(n)]


def timed(run, batch) -> float:
    start = time.perf_counter()
    for events in batch:
        run(events)
    return (time.perf_counter() - start) / len(batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="samples per case (a tenth for dvsgesture)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    to_frame = _tonic_to_frame()
    print("| case | slicing | tonic ms/sample | spikevision ms/sample | speed-up |\n|---|---|---|---|---|")
    for case, (sensor, count, duration) in CASES.items():
        batch = samples(sensor, count, duration, max(2, args.samples // (10 if case == "dvsgesture" else 1)))
        for rule in ({"n_time_bins": 10 if case == "nmnist" else 20}, {"time_window": duration // 10}):
            ours = lambda e, rule=rule, sensor=sensor: fr.frames(e, sensor, **rule)  # noqa: E731
            theirs = lambda e, rule=rule, sensor=sensor: to_frame(e, sensor_size=tuple(sensor), **rule)  # noqa: E731
            assert all(np.array_equal(ours(e), theirs(e)) for e in batch[:3])
            times = {"tonic": [], "spikevision": []}
            for _ in range(args.repeats):
                times["tonic"].append(timed(theirs, batch))
                times["spikevision"].append(timed(ours, batch))
            t_tonic, t_ours = (statistics.median(times[k]) for k in ("tonic", "spikevision"))
            slicing = ", ".join(f"{k} {v}" for k, v in rule.items())
            print(f"| {case} | {slicing} | {1e3 * t_tonic:.3f} | {1e3 * t_ours:.3f} | {t_tonic / t_ours:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
