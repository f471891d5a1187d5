"""spikevision against snnTorch on one GPU, and the presets end to end there: the figures of the GPU issue.

Cases, each measured in this one process on the same device, snnTorch and spikevision interleaved:

- ``handout``: the lab's training step (784-512-10, beta 0.95, T=200, batch 512, direct input, Adam),
  the same weights and data for both (``bench_lif.SnnTorchNet`` around spikevision's own layers);
- ``open-neuromorphic``: the Open Neuromorphic benchmark's case, one Linear + LIF layer of 16,384 neurons,
  batch 16, T=500, forward and backward (loss: the sum of the spikes), time and peak GPU memory;

then, each as its own ``python -m spikevision train`` process: the ``seed`` preset (3 epochs), one epoch of
``conv``, and ``quick`` in float32 and bf16 on the GPU and in float32 on the CPU (the accuracies to compare).

Run:   python benchmarks/bench_gpu.py --out DIR             (on a GPU: what benchmarks/gpu_check.sh runs)
       python benchmarks/bench_gpu.py --device cpu --smoke --out DIR   (tiny sizes: checks the script itself)
Writes DIR/gpu_check.json and DIR/gpu_check.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_lif import SnnTorchNet, case_config  # noqa: E402  (the CPU benchmark's snnTorch loop, reused)

from spikevision import devices, neuron  # noqa: E402
from spikevision.model import build_model  # noqa: E402
from spikevision.train import loss_fn  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(runners: dict, device: torch.device, warmup: int, iters: int) -> dict:
    """Median seconds per call of each runner, interleaved; peak memory (MiB) of each on a GPU."""
    for _ in range(warmup):
        for run in runners.values():
            run()
    seconds = {name: [] for name in runners}
    peak = {}
    for _ in range(iters):
        for name, run in runners.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            synchronize(device)
            tick = time.perf_counter()
            run()
            synchronize(device)
            seconds[name].append(time.perf_counter() - tick)
            if device.type == "cuda":
                peak[name] = max(peak.get(name, 0.0), torch.cuda.max_memory_allocated(device) / 2**20)
    return {"seconds": {n: statistics.median(s) for n, s in seconds.items()}, "peak_mib": peak or None}


def handout_runners(device: torch.device, smoke: bool, case: str = "handout") -> dict:
    """One training step of the lab's network for snnTorch and for spikevision, the same weights and data
    (``case`` "handout-cuba": with current-based neurons, snnTorch's Synaptic and our Triton CubaLIF kernel)."""
    config, _ = case_config(case)
    cfg = config.train
    steps, batch = (8, 32) if smoke else (cfg.num_steps, cfg.batch_size)
    images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0)).to(device)
    target = torch.arange(batch, device=device) % 10
    runners = {}
    for impl in ("snntorch", "spikevision"):
        model = build_model(config.model, seed=0).to(device)
        net = SnnTorchNet(model).to(device) if impl == "snntorch" else None
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)

        def run(model=model, net=net, optimizer=optimizer):
            if net is not None:
                spk, mem = net(images, steps)
            else:
                out = model(images, num_steps=steps)
                spk, mem = out.spk, out.mem
            loss = loss_fn(spk, mem, target, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        runners[impl] = run
    return runners


def open_neuromorphic_runners(device: torch.device, smoke: bool) -> dict:
    """The Open Neuromorphic benchmark's layer: Linear(N, N) + LIF, batch 16, T steps, forward + backward."""
    import snntorch as snn

    steps, batch, neurons = (10, 4, 256) if smoke else (500, 16, 16_384)
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, batch, neurons, generator=generator) < 0.1).float().to(device)
    linear = torch.nn.Linear(neurons, neurons).to(device)
    leaky = snn.Leaky(beta=0.9)
    params = neuron.LIFParams(beta=0.9)

    def spikevision_step():
        current = linear(x.flatten(0, 1)).view(steps, batch, neurons)  # all steps in one matmul
        spk, _, _ = neuron.lif_sequence(current, None, params, need_mem=False)
        spk.sum().backward()

    def snntorch_step():
        mem, out = leaky.init_leaky(), []
        for t in range(steps):
            spk, mem = leaky(linear(x[t]), mem)
            out.append(spk)
        torch.stack(out).sum().backward()

    return {"snntorch": snntorch_step, "spikevision": spikevision_step}


def train_preset(name: str, device: str, out: Path, overrides: list[str]) -> dict:
    """``python -m spikevision train`` of a preset in its own process; its summary and wall-clock seconds."""
    run_dir = out / f"{name}-{device.replace(':', '')}-{'-'.join(o.split('=')[1] for o in overrides) or 'default'}"
    command = [sys.executable, "-m", "spikevision", "train", "--preset", name, "--out", str(run_dir),
               "--device", device, "--quiet"] + [a for o in overrides for a in ("--set", o)]
    shown = " ".join(["spikevision train --preset", name, "--device", device] + [f"--set {o}" for o in overrides])
    tick = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"command": shown, "error": done.stderr.strip().splitlines()[-1:]}
    summary = json.loads((run_dir / "summary.json").read_text())
    keep = ("test_accuracy", "train_seconds", "eval_seconds", "steps", "device", "device_name", "precision")
    return {"command": shown, "wall_seconds": round(time.perf_counter() - tick, 1),
            **{k: summary.get(k) for k in keep}}


def preset_runs(device: str, out: Path, smoke: bool) -> dict:
    small = ["train.train_subset=1024", "train.num_steps=5"] if smoke else []
    one_epoch = ["train.epochs=1"]
    runs = {
        "seed": train_preset("seed", device, out, small),
        "conv (1 epoch)": train_preset("conv", device, out, one_epoch + small),
        "quick fp32": train_preset("quick", device, out, small),
        "quick bf16": train_preset("quick", device, out, small + ["train.precision=bf16"]),
    }
    if device != "cpu":
        runs["quick fp32 on the CPU"] = train_preset("quick", "cpu", out, small)
    return runs


def markdown(result: dict) -> str:
    lines = [f"GPU check: {result['device_name']} ({result['device']}), torch {result['torch']}, "
             f"triton {result['triton']}, {result['date']}", "",
             "| case | snnTorch | spikevision | speed-up | peak memory vs snnTorch |", "|---|---|---|---|---|"]
    for case, row in result["cases"].items():
        s, peak = row["seconds"], row["peak_mib"]
        memory = f"{peak['spikevision']:.0f} / {peak['snntorch']:.0f} MiB = {peak['spikevision'] / peak['snntorch']:.2f}x" \
            if peak else "-"
        lines.append(f"| {case} | {s['snntorch']:.4f} s | {s['spikevision']:.4f} s | "
                     f"{s['snntorch'] / s['spikevision']:.1f}x | {memory} |")
    lines += ["", "| run | test accuracy | train seconds | device | command |", "|---|---|---|---|---|"]
    for name, run in result["runs"].items():
        if "error" in run:
            lines.append(f"| {name} | failed: {' '.join(run['error'])} | | | `{run['command']}` |")
        else:
            lines.append(f"| {name} | {run['test_accuracy'] * 100:.2f} % | {run['train_seconds']} | "
                         f"{run['device_name']} | `{run['command']}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where gpu_check.json and gpu_check.md go")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu with --smoke")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script itself")
    parser.add_argument("--iters", type=int, default=5)
    args = parser.parse_args(argv)
    device = devices.resolve(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    warmup, iters = (1, 2) if args.smoke else (2, args.iters)
    result = {"device": str(device), "device_name": devices.describe(device), "torch": torch.__version__,
              "triton": triton_version, "date": time.strftime("%Y-%m-%d %H:%M"), "smoke": args.smoke,
              "cases": {"handout step (784-512-10, T=200, batch 512)": timed(handout_runners(device, args.smoke),
                                                                             device, warmup, iters),
                        "handout step, current-based neurons (CubaLIF / Synaptic)":
                            timed(handout_runners(device, args.smoke, "handout-cuba"), device, warmup, iters),
                        "Open Neuromorphic (Linear + LIF, 16,384 neurons, batch 16, T=500)":
                            timed(open_neuromorphic_runners(device, args.smoke), device, warmup, iters)}}
    with tempfile.TemporaryDirectory() as runs:
        result["runs"] = preset_runs(args.device, Path(runs), args.smoke)
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (args.out / "gpu_check.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
