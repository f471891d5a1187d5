"""The cost of a training batch's changes to events: each of ``event_batch``'s and ``event_augment``'s batch
forms on one batch of 128 N-MNIST-sized samples (34 x 34 x 2, 5,000 random events over 300 ms each: 640,000
events), against the frames the batch is then cut into. Prints the range (min-max) over ``--repeats`` runs
after one warm-up, in milliseconds.

Run:  python benchmarks/bench_event_batch.py [--samples 128] [--repeats 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spikevision.data import event_augment as aug
from spikevision.data import event_batch as eb
from spikevision.data import events as ev

SENSOR = ev.Sensor(34, 34)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batch = eb.from_samples([ev.make(rng.integers(0, 34, 5000), rng.integers(0, 34, 5000),
                                     np.sort(rng.integers(0, 300_000, 5000)), rng.integers(0, 2, 5000))
                             for _ in range(args.samples)])
    cases = {
        "frames, 10 equal bins": lambda: eb.frames(batch, SENSOR, 10),
        "frames, 300 windows of 1 ms": lambda: eb.frames(batch, SENSOR, 300, time_window=1000),
        "drop 10 %": lambda: aug.drop_batch(batch, SENSOR, 0.1, rng),
        "time jitter, sd 1 ms": lambda: aug.time_jitter_batch(batch, SENSOR, 1000.0, rng),
        "shift, up to 2 px": lambda: aug.shift_batch(batch, SENSOR, 2, rng),
        "time reversal, half": lambda: aug.reverse_time_batch(batch, SENSOR, rng.random(len(batch)) < 0.5),
        "polarity flip, half": lambda: aug.flip_batch(batch, SENSOR, "p", rng.random(len(batch)) < 0.5),
        "denoise, 5 ms": lambda: eb.denoise(batch, SENSOR, 5000),
    }
    print(f"{len(batch)} samples, {len(batch.events):,} events")
    for name, run in cases.items():
        run()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1000)
        print(f"  {name:30s} {min(times):7.1f}-{max(times):.1f} ms")


if __name__ == "__main__":
    main()
