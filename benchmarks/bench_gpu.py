"""spikevision against snnTorch on one GPU, and the presets end to end there: the figures of the GPU issue.

Cases, each measured in this one process on the same device, snnTorch and spikevision interleaved:

- ``handout``: the lab's training step (784-512-10, beta 0.95, T=200, batch 512, direct input, Adam),
  the same weights and data for both (``bench_lif.SnnTorchNet`` around spikevision's own layers); again
  with spikevision's first pair unfused (the Triton LIF kernel, then cuBLAS, instead of the Triton
  ``lif_linear``), that step split by the profiler into its LIF kernels, its matmuls and the rest; and
  with current-based neurons;
- ``open-neuromorphic``: the Open Neuromorphic benchmark's case, one Linear + LIF layer of 16,384 neurons,
  batch 16, T=500, forward and backward (loss: the sum of the spikes), time and peak GPU memory, and the
  profiler's split of spikevision's call;
- the ``conv`` and ``fc`` presets' training steps, as the CPU speed table in the README has them;

then, each as its own ``python -m spikevision train`` process, most wanted first: the ``seed`` preset
(3 epochs), ``quick`` in float32 and bf16 on the GPU, one epoch of ``conv``, and ``quick`` in float32 on the
CPU (the accuracies to compare). ``--budget`` bounds the whole: runs it leaves no time for are recorded as
not run. Both files are rewritten after every case and run, so a check cut off from outside keeps what it
measured.

Run:   python benchmarks/bench_gpu.py --out DIR             (on a GPU: what benchmarks/gpu_check.sh runs)
       python benchmarks/bench_gpu.py --device cpu --smoke --out DIR   (tiny sizes: checks the script itself)
Writes DIR/gpu_check.json and DIR/gpu_check.md.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_lif import SnnTorchNet, case_config  # noqa: E402  (the CPU benchmark's snnTorch loop, reused)

from spikevision import kernels  # noqa: E402
from spikevision.model import build_model  # noqa: E402
from spikevision.neurons import lif
from spikevision.runs import devices
from spikevision.runs.train import loss_fn  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(runners: dict, device: torch.device, warmup: int, iters: int) -> dict:
    """Median seconds per call of each runner, interleaved; the first call's seconds (with whatever compiles on
    first use: Triton's kernels, cuBLAS's setup); on a GPU, the peak memory (MiB) of each call, and its rise:
    the peak less what was allocated before the call (weights, inputs, gradients kept between calls)."""
    first = {}
    for index in range(warmup):
        for name, run in runners.items():
            synchronize(device)
            tick = time.perf_counter()
            run()
            synchronize(device)
            if index == 0:
                first[name] = round(time.perf_counter() - tick, 3)
    seconds = {name: [] for name in runners}
    peak, rise = {}, {}
    for _ in range(iters):
        for name, run in runners.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
                before = torch.cuda.memory_allocated(device)
            synchronize(device)
            tick = time.perf_counter()
            run()
            synchronize(device)
            seconds[name].append(time.perf_counter() - tick)
            if device.type == "cuda":
                top = torch.cuda.max_memory_allocated(device)
                peak[name] = max(peak.get(name, 0.0), top / 2**20)
                rise[name] = max(rise.get(name, 0.0), (top - before) / 2**20)
    return {"seconds": {n: statistics.median(s) for n, s in seconds.items()}, "first_call_seconds": first,
            "peak_mib": peak or None, "rise_mib": rise or None}


def handout_runners(device: torch.device, smoke: bool, case: str = "handout", fused: bool = True) -> dict:
    """One training step of the lab's network for snnTorch and for spikevision, the same weights and data
    (``case`` "handout-cuba": with current-based neurons, snnTorch's Synaptic and our Triton CubaLIF kernel;
    ``fused=False``: spikevision's first LIF layer and the Linear after it unfused, not ``kernels.lif_linear``)."""
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
                with contextlib.nullcontext() if fused else mock.patch.object(kernels, "pair_supported",
                                                                              lambda *args: False):
                    out = model(images, num_steps=steps)
                spk, mem = out.spk, out.mem
            loss = loss_fn(spk, mem, target, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        runners[impl] = run
    return runners


def open_neuromorphic_sizes(smoke: bool) -> tuple[int, int, int]:
    """``(T, batch, neurons)`` of the Open Neuromorphic case (tiny ones with ``--smoke``)."""
    return (10, 4, 256) if smoke else (500, 16, 16_384)


def open_neuromorphic_runners(device: torch.device, smoke: bool, sizes: tuple | None = None) -> dict:
    """The Open Neuromorphic benchmark's layer: Linear(N, N) + LIF, batch 16, T steps, forward + backward.

    Each call is written the way that benchmark writes it: a forward that returns the spikes ``[T, B, N]``,
    then ``output.sum().backward()`` with only the output held, so each library keeps what its own autograd
    saves and nothing more (``sizes``: ``(T, B, N)`` instead of the benchmark's, for ``bench_memory.py``)."""
    import snntorch as snn

    steps, batch, neurons = sizes or open_neuromorphic_sizes(smoke)
    # its input (``torch.randn``) and its snnTorch model's beta (0.95), as its run_benchmark.py has them
    x = torch.randn(steps, batch, neurons, generator=torch.Generator().manual_seed(0)).to(device)
    linear = torch.nn.Linear(neurons, neurons).to(device)
    leaky = snn.Leaky(beta=0.95)
    params = lif.LIFParams(beta=0.95)

    def spikevision_forward():
        current = linear(x.flatten(0, 1)).view(steps, batch, neurons)  # all steps in one matmul
        return lif.lif_sequence(current, None, params, need_mem=False)[0]

    def snntorch_forward():
        mem, out = leaky.init_leaky(), []
        for t in range(steps):
            spk, mem = leaky(linear(x[t]), mem)
            out.append(spk)
        return torch.stack(out)

    def step(forward):
        output = forward()
        output.sum().backward()

    return {"snntorch": functools.partial(step, snntorch_forward),
            "spikevision": functools.partial(step, spikevision_forward)}


MATMUL = re.compile(r"gemm|gemv|cutlass|xmma|splitK|aten::(add)?mm$|aten::bmm$", re.IGNORECASE)
LIF = re.compile(r"^(forward|backward)_kernel")  # the Triton LIF kernels, by their function names


def step_breakdown(run, device: torch.device, steps: int = 3) -> dict:
    """Milliseconds per call of ``run`` in the LIF kernels, in the matmuls and in everything else.

    On a GPU: the kernels' own device time (torch.profiler). Of the unfused handout step, it shows what fusing
    the first pair (``kernels.lif_linear``) goes after: the LIF kernels' spike writes and the pair's matmuls.
    Of the Open Neuromorphic case, how much is its Linear layer's matmuls, which no LIF engine speeds up.
    On the CPU (``--smoke``): the operators' own CPU time, which checks this function, not a GPU.
    """
    from torch.profiler import ProfilerActivity, profile

    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    run()
    synchronize(device)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            run()
        synchronize(device)
    parts = {"lif_kernels_ms": 0.0, "matmul_ms": 0.0, "other_ms": 0.0}
    for event in prof.key_averages():
        on_device = getattr(event, "device_type", None) == torch.autograd.DeviceType.CUDA
        if cuda != on_device:
            continue
        us = getattr(event, "self_device_time_total", 0) if cuda else event.self_cpu_time_total
        part = "lif_kernels_ms" if LIF.search(event.key) else "matmul_ms" if MATMUL.search(event.key) else "other_ms"
        parts[part] += us / 1000 / steps
    return {k: round(v, 3) for k, v in parts.items()}


def train_preset(name: str, device: str, out: Path, overrides: list[str], seconds_left: float,
                 env: dict | None = None) -> dict:
    """``python -m spikevision train`` of a preset in its own process (``env``: variables to set there); its
    summary and wall-clock seconds."""
    run_dir = out / f"{name}-{device.replace(':', '')}-{'-'.join(o.split('=')[1] for o in overrides) or 'default'}"
    run_dir = run_dir.with_name(run_dir.name + ("-cold" if env else ""))
    command = [sys.executable, "-m", "spikevision", "train", "--preset", name, "--out", str(run_dir),
               "--device", device, "--quiet"] + [a for o in overrides for a in ("--set", o)]
    shown = " ".join(["spikevision train --preset", name, "--device", device] + [f"--set {o}" for o in overrides])
    if seconds_left < 5:
        return {"command": shown, "error": ["not run: the check's time budget (--budget) was spent"]}
    tick = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=max(seconds_left, 1),
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return {"command": shown, "error": [f"stopped after {seconds_left:.0f} s: the check's time ran out"]}
    if done.returncode != 0:
        return {"command": shown, "error": done.stderr.strip().splitlines()[-1:]}
    summary = json.loads((run_dir / "summary.json").read_text())
    keep = ("test_accuracy", "train_seconds", "eval_seconds", "steps", "device", "device_name", "precision")
    return {"command": shown, "run_dir": str(run_dir), "wall_seconds": round(time.perf_counter() - tick, 1),
            **{k: summary.get(k) for k in keep}}


def same_seed_same_run(device: str, out: Path, smoke: bool, seconds_left: float) -> dict:
    """Two runs of one ``conv`` epoch on 2,048 images with the same seed (cuDNN's convolutions, the Triton
    kernels, rate coding on the device's generator): are their checkpoints bitwise equal?"""
    from safetensors.torch import load_file

    from spikevision.runs.rundir import CHECKPOINT

    overrides = ["train.epochs=1", "train.train_subset=2048"] + (["train.num_steps=2"] if smoke else [])
    runs = [train_preset("conv", device, out / f"same-seed-{i}", overrides, seconds_left / 2) for i in (0, 1)]
    if any("error" in run for run in runs):
        return {"command": runs[0]["command"], "error": next(r["error"] for r in runs if "error" in r)}
    first, second = (load_file(str(Path(run["run_dir"]) / CHECKPOINT)) for run in runs)
    differing = sorted(k for k in first if not torch.equal(first[k], second[k]))
    return {"command": runs[0]["command"] + " (twice)", "tensors": len(first), "differing": differing,
            "bitwise_equal": not differing and first.keys() == second.keys()}


def preset_plan(device: str, smoke: bool) -> dict:
    """The preset runs, most wanted first: each is ``(preset, device, overrides, env)``. The GPU runs find
    Triton's on-disk cache filled by the cases measured before them, as any run after a user's first does."""
    small = ["train.train_subset=1024", "train.num_steps=5"] if smoke else []
    plan = {
        "seed": ("seed", device, small, None),
        "quick fp32": ("quick", device, small, None),
        "quick bf16": ("quick", device, small + ["train.precision=bf16"], None),
        "conv (1 epoch)": ("conv", device, ["train.epochs=1"] + small, None),
    }
    if device != "cpu":
        plan["quick fp32 on the CPU"] = ("quick", "cpu", small, None)
    return plan


def first_run_plan(device: str, smoke: bool, scratch: Path) -> dict:
    """On a GPU, ``seed`` again with Triton's cache empty (a new folder in ``scratch``): what a user's very
    first run pays in compiles. Least wanted: it runs after the same-seed check."""
    if device == "cpu":
        return {}
    preset, on, overrides, _ = preset_plan(device, smoke)["seed"]
    return {SEED_COLD: (preset, on, overrides, {"TRITON_CACHE_DIR": str(scratch / "empty-triton-cache")})}


def run_presets(result: dict, device: str, smoke: bool, out: Path, deadline: float) -> None:
    """The preset runs, the same-seed check, then the first-run plan, into ``result`` (saved after each)."""
    with tempfile.TemporaryDirectory() as runs:
        def run_all(plan):
            for name, (preset, on, overrides, env) in plan.items():
                result["runs"][name] = train_preset(preset, on, Path(runs), overrides,
                                                    deadline - time.perf_counter(), env)
                save(result, out)

        run_all(preset_plan(device, smoke))
        result["same_seed"] = same_seed_same_run(device, Path(runs), smoke, deadline - time.perf_counter())
        run_all(first_run_plan(device, smoke, Path(runs)))


def markdown(result: dict) -> str:
    lines = [f"GPU check: {result['device_name']} ({result['device']}), torch {result['torch']}, "
             f"triton {result['triton']}, {result['date']}", "",
             "| case | snnTorch | spikevision | speed-up | peak memory vs snnTorch | its rise vs snnTorch's "
             "| spikevision's first call |", "|---|---|---|---|---|---|---|"]
    for case, row in result["cases"].items():
        s = row["seconds"]
        lines.append(f"| {case} | {s['snntorch']:.4f} s | {s['spikevision']:.4f} s | "
                     f"{s['snntorch'] / s['spikevision']:.1f}x | {_ratio(row['peak_mib'])} | "
                     f"{_ratio(row.get('rise_mib'))} | {row.get('first_call_seconds', {}).get('spikevision', '-')} s |")
    for case, error in result.get("errors", {}).items():
        lines.append(f"| {case} | no result: {error} | | | | | |")
    for case, b in result.get("breakdown", {}).items():
        lines += ["", f"spikevision's {case}, its kernels' own time per call: LIF kernels {b['lif_kernels_ms']} ms, "
                      f"matmuls {b['matmul_ms']} ms, everything else {b['other_ms']} ms"]
    lines += ["", "| run | test accuracy | train seconds | device | command |", "|---|---|---|---|---|"]
    for name, run in result.get("runs", {}).items():
        if "error" in run:
            lines.append(f"| {name} | no result: {' '.join(run['error'])} | | | `{run['command']}` |")
        else:
            lines.append(f"| {name} | {run['test_accuracy'] * 100:.2f} % | {run['train_seconds']} | "
                         f"{run['device_name']} | `{run['command']}` |")
    same = result.get("same_seed")
    if same:
        verdict = (f"no result: {' '.join(same['error'])}" if "error" in same else "bitwise equal checkpoints"
                   if same["bitwise_equal"] else f"{len(same['differing'])} of {same['tensors']} tensors differ")
        lines += ["", f"Same seed, same device: `{same['command']}`: {verdict}"]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for row in targets(result):
        met = {True: "yes", False: "**no**", None: "not measured"}[row["met"]]
        lines.append(f"| {row['target']} | {row['measured'] or '-'} | {met} |")
    return "\n".join(lines) + "\n"


HANDOUT = "handout step (784-512-10, T=200, batch 512)"
UNFUSED = "handout step, first pair unfused (LIF kernel, then cuBLAS)"
SEED_COLD = "seed, Triton's cache empty (a first run's compiles included)"
OPEN_NEUROMORPHIC = "Open Neuromorphic (Linear + LIF, 16,384 neurons, batch 16, T=500)"


def targets(result: dict) -> list[dict]:
    """The GPU issue's targets against what this check measured: each ``{"target", "measured", "met"}``, with
    ``met`` None where a figure is missing (a failed case, a run the budget cut, no memory figures on a CPU)."""
    cases, runs = result.get("cases", {}), result.get("runs", {})

    def speedup(case):
        seconds = cases.get(case, {}).get("seconds")
        return seconds and seconds["snntorch"] / seconds["spikevision"]

    def memory(case):
        peak = cases.get(case, {}).get("peak_mib")
        return peak and peak["spikevision"] / peak["snntorch"]

    def memory_floor(case):
        """The least peak any LIF engine beside torch's Linear can have here, over snnTorch's: what was allocated
        before spikevision's call (weight, its gradient, input), plus the weight gradient the Linear computes."""
        row = cases.get(case, {})
        peak, rise, weight = row.get("peak_mib"), row.get("rise_mib"), row.get("weight_mib")
        if peak and rise and weight:
            return (peak["spikevision"] - rise["spikevision"] + weight) / peak["snntorch"]
        return None

    def accuracy(name):
        run = runs.get(name, {})
        return None if "error" in run else run.get("test_accuracy")

    def gap(a, b):
        return None if accuracy(a) is None or accuracy(b) is None else abs(accuracy(a) - accuracy(b)) * 100

    seed, seed_seconds = accuracy("seed"), runs.get("seed", {}).get("train_seconds")
    cold = runs.get(SEED_COLD, {}).get("train_seconds")  # the same run paying a first run's Triton compiles
    fused, unfused = speedup(HANDOUT), speedup(UNFUSED)
    floor = memory_floor(OPEN_NEUROMORPHIC)
    rows = [("the handout step >= 10x snnTorch", speedup(HANDOUT), lambda v: v >= 10, "{:.1f}x"),
            ("Open Neuromorphic >= 5x snnTorch's speed", speedup(OPEN_NEUROMORPHIC), lambda v: v >= 5, "{:.1f}x"),
            ("Open Neuromorphic <= 0.5x snnTorch's peak memory", memory(OPEN_NEUROMORPHIC), lambda v: v <= 0.5,
             "{:.2f}x" + (f" (the floor beside torch's Linear: {floor:.2f}x)" if floor else "")),
            ("seed: 3 epochs in < 10 s of training", seed_seconds, lambda v: v < 10,
             "{:.1f} s" + (f" ({cold:.1f} s with Triton's cache empty)" if cold is not None else "")),
            ("seed: >= 95 % test accuracy", None if seed is None else seed * 100, lambda v: v >= 95, "{:.2f} %"),
            ("quick on the GPU within 0.3 points of the CPU's", gap("quick fp32", "quick fp32 on the CPU"),
             lambda v: v <= 0.3, "{:.2f} points"),
            ("quick in bf16 within 0.2 points of fp32", gap("quick bf16", "quick fp32"), lambda v: v <= 0.2,
             "{:.2f} points"),
            ("the fused first pair no slower than the unfused one (else flip model._fused_pair on CUDA)",
             fused and unfused and fused / unfused, lambda v: v >= 1, "{:.2f}x the unfused speed-up")]
    return [{"target": name, "measured": None if value is None else fmt.format(value),
             "met": None if value is None else bool(check(value))} for name, value, check, fmt in rows]


def _ratio(mib: dict | None) -> str:
    if not mib:
        return "-"
    return f"{mib['spikevision']:.0f} / {mib['snntorch']:.0f} MiB = {mib['spikevision'] / mib['snntorch']:.2f}x"


def save(result: dict, out: Path) -> str:
    """Write gpu_check.json and gpu_check.md as they stand: after each case, so a cut-off check keeps its figures."""
    (out / "gpu_check.json").write_text(json.dumps({**result, "targets": targets(result)}, indent=2) + "\n")
    table = markdown(result)
    (out / "gpu_check.md").write_text(table)
    return table


def case_plan(device: torch.device, smoke: bool) -> dict:
    """The speed cases against snnTorch: name -> a function making their runners (made only when measured)."""
    return {HANDOUT: lambda: handout_runners(device, smoke),
            UNFUSED: lambda: handout_runners(device, smoke, fused=False),
            "handout step, current-based neurons (CubaLIF / Synaptic)":
                lambda: handout_runners(device, smoke, "handout-cuba"),
            OPEN_NEUROMORPHIC: lambda: open_neuromorphic_runners(device, smoke),
            "the conv preset's step (T=4, batch 128)": lambda: handout_runners(device, smoke, "conv"),
            "the fc preset's step (T=20, batch 128, dropout)": lambda: handout_runners(device, smoke, "fc")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where gpu_check.json and gpu_check.md go")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu with --smoke")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script itself")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--budget", type=float, default=3600.0,
                        help="seconds for everything: the preset runs still to come when it is spent are "
                             "recorded as not run, and the files hold what was measured")
    args = parser.parse_args(argv)
    deadline = time.perf_counter() + args.budget
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
              "cases": {}, "runs": {}}
    for case, make in case_plan(device, args.smoke).items():
        try:  # one GPU session for all of it: a case that breaks is recorded, and the others still run
            runners = make()
            result["cases"][case] = timed(runners, device, warmup, iters)
            if case == OPEN_NEUROMORPHIC:  # for the memory target's floor (see ``targets``)
                result["cases"][case]["weight_mib"] = open_neuromorphic_sizes(args.smoke)[2] ** 2 * 4 / 2**20
            if case in (UNFUSED, OPEN_NEUROMORPHIC):  # where the time goes
                result.setdefault("breakdown", {})[case] = step_breakdown(runners["spikevision"], device)
        except Exception as error:  # noqa: BLE001
            result.setdefault("errors", {})[case] = f"{type(error).__name__}: {error}"[:500]
        save(result, args.out)
    run_presets(result, args.device, args.smoke, args.out, deadline)
    print(save(result, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
