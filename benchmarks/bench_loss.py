"""The membrane cross-entropy of the handout's step, [T, B, 10] at T=200, B=512: two layouts, forward + backward.

"rows" is ``F.cross_entropy`` on ``[T*B, 10]`` (how ``train.loss_fn`` computed it before); "spikevision" is
``train.loss_fn`` itself, on the ``[T, 10, B]`` view. Both are the same mean over T*B samples; this prints
their milliseconds per call (median of 20) and the largest difference in value and gradient.

Run:  python benchmarks/bench_loss.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from spikevision.runs.config import resolve
from spikevision.runs.train import loss_fn

T, B, C = 200, 512, 10


def main() -> None:
    cfg = resolve("seed", []).train
    mem = torch.randn(T, B, C, requires_grad=True, generator=torch.Generator().manual_seed(0))
    target = torch.randint(0, C, (B,), generator=torch.Generator().manual_seed(1))
    layouts = {
        "rows": lambda: F.cross_entropy(mem.flatten(0, 1), target.repeat(T)) * T,
        "spikevision": lambda: loss_fn(None, mem, target, cfg),
    }
    results = {}
    for name, loss in layouts.items():
        times = []
        for i in range(23):
            tick = time.perf_counter()
            value = loss()
            (grad,) = torch.autograd.grad(value, mem)
            if i >= 3:  # warm-up
                times.append(time.perf_counter() - tick)
        results[name] = (statistics.median(times), value.detach(), grad)
        print(f"{name:12s} {results[name][0] * 1000:6.2f} ms per forward + backward")
    (_, rows_value, rows_grad), (_, ours_value, ours_grad) = results["rows"], results["spikevision"]
    print(f"speed-up {results['rows'][0] / results['spikevision'][0]:.1f}x; value differs by "
          f"{float((ours_value - rows_value).abs()):.2e}, gradient by {float((ours_grad - rows_grad).abs().max()):.2e}")


if __name__ == "__main__":
    main()
