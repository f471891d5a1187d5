"""Where a conv step's time goes: the ``conv`` preset's training step (T=4, batch 128, 32C5-BN-MP2-64C5-BN-MP2,
10 LIF outputs, Adam; the step ``bench_lif.py``'s ``conv`` case times) split by torch's profiler into its
operations, against its floor: the same two convolutions alone, forward and backward, on the same shapes (the
first on the image once, as direct encoding computes it; the second on all T x B of the first layer's spikes),
timed the same way. Prints both and the share of the step each group of operations takes.

Run:  python benchmarks/profile_conv.py [--iters 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from spikevision.model import build_model  # noqa: E402
from spikevision.runs.config import resolve  # noqa: E402
from spikevision.runs.losses import loss_fn  # noqa: E402

GROUPS = {  # the profiler's operation names, by what they are part of
    "convolutions": ("convolution", "conv2d", "mkldnn_convolution", "_convolution"),
    "batch norm": ("batch_norm",),
    "pooling": ("max_pool2d",),
    "LIF kernels": ("_Fused",),
    "Adam": ("Adam", "_foreach", "addcdiv", "sqrt", "lerp"),
}


def best_of(run, iters: int) -> float:
    run()
    best = float("inf")
    for _ in range(iters):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def conv_step():
    """One training step of the conv preset as ``bench_lif.make_runner("spikevision", "conv")`` runs it (the
    same seed, data shapes, loss and optimiser)."""
    config = resolve("conv", [])
    model = build_model(config.model, seed=0).train()
    torch.manual_seed(0)
    images, target = torch.rand(config.train.batch_size, 1, 28, 28), torch.randint(0, 10, (config.train.batch_size,))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, betas=config.train.betas)

    def run():
        out = model(images, num_steps=config.train.num_steps)
        loss = loss_fn(out.spk, out.mem, target, config.train)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def convolutions_alone(steps: int = 4, batch: int = 128):
    """The conv preset's two convolutions, forward and backward, on its shapes (spikes at about 10 %): the
    weights' gradients, and the second one's input gradient (training sends it back to the first layer's
    neurons); the image needs none."""
    torch.manual_seed(0)
    first, second = torch.nn.Conv2d(1, 32, 5), torch.nn.Conv2d(32, 64, 5)
    image = torch.rand(batch, 1, 28, 28)
    spikes = (torch.rand(steps * batch, 32, 12, 12) < 0.1).float().requires_grad_()  # its gradient reaches layer 1

    def run():
        out = first(image).sum() + second(spikes).sum()
        out.backward()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()
    step = conv_step()
    step_s = best_of(step, args.iters)
    floor_s = best_of(convolutions_alone(), args.iters)
    with torch.profiler.profile() as prof:
        for _ in range(args.iters):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    print(f"conv step: {step_s * 1000:.1f} ms; the two convolutions alone: {floor_s * 1000:.1f} ms "
          f"({step_s / floor_s:.2f}x the floor); torch {torch.__version__}, {torch.get_num_threads()} threads")
    shares = dict.fromkeys(GROUPS, 0.0)
    for event in events:
        for group, names in GROUPS.items():
            if any(name in event.key for name in names):
                shares[group] += event.self_cpu_time_total
                break
    for group, share in shares.items():
        print(f"  {group:14s} {share / total * 100:5.1f} % of the step's self CPU time")
    print(f"  {'the rest':14s} {(total - sum(shares.values())) / total * 100:5.1f} %")
    print(events.table(sort_by="self_cpu_time_total", row_limit=14))


if __name__ == "__main__":
    main()
