"""The fused pair (``kernels.neuron_linear``) alone, family against family at one firing rate: a layer of 512
LIF, CUBA or ALIF neurons on a constant current and a Linear to 10 outputs, T=200, batch 512, forward and
forward + backward (the sum of the outputs), each family's current scaled so that its neurons fire about 1 %
of the steps (the pair's work grows with the spikes, so families are compared at one rate). Prints the best of
``--repeats`` after one warm-up, in milliseconds, and each family's firing rate.

Run:  python benchmarks/bench_pair.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import torch

from spikevision.kernels.lif_linear import neuron_linear
from spikevision.neurons import surrogate

# Each family's coefficients (and ALIF's fixed numbers), and the gain that brings its firing to about 1 %.
FAMILIES = {"lif": ((0.88, 1.0), (), 1.0), "cuba": ((0.9, 0.88, 1.0), (), 0.1),
            "alif": ((0.88,), (1.0, 0.95, 0.2), 1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    batch, size, classes, steps = 512, 512, 10, 200
    drive = torch.rand(batch, size) * 0.15
    weight = (torch.randn(classes, size) * 0.1).requires_grad_()
    atan = surrogate.get("atan")
    for family, (coefficients, fixed, gain) in FAMILIES.items():
        current = (drive * gain).requires_grad_()

        def run(backward: bool, family=family, current=current, coefficients=coefficients, fixed=fixed):
            out, _ = neuron_linear(family, current, steps, coefficients, "subtract", atan, weight, None, fixed=fixed)
            if backward:
                out.sum().backward()

        with torch.no_grad():
            _, spk = neuron_linear(family, current, steps, coefficients, "subtract", atan, weight, None, fixed=fixed,
                                   record=True)
        times = {}
        for backward in (False, True):
            run(backward)
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                run(backward)
                best = min(best, time.perf_counter() - start)
            times[backward] = best * 1000
        print(f"{family:5s} firing {float(spk.mean()) * 100:4.1f} %   forward {times[False]:6.1f} ms   "
              f"forward + backward {times[True]:6.1f} ms")


if __name__ == "__main__":
    main()
