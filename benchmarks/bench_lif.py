"""spikevision's LIF engine against snnTorch: the same network, weights and data, in one process.

Cases (each a training step: forward over T steps, loss, backward, Adam; or inference):

- ``handout``: the lab's step, 784-512-10, beta 0.95, T=200, batch 512, direct input, loss = sum over
  steps of the output membranes' cross-entropy (the ``seed`` preset);
- ``handout-T25``: the same at T=25;
- ``handout-trained``: the handout's step from weights trained for ``TRAINED_STEPS`` steps first (the same
  weights for every implementation). A trained hidden layer fires about 30 % of the time, against 6 % at
  initialisation, and the fused pair's work grows with the spikes: this is the step a training run spends
  most of its time on (``benchmarks/bench_seed.py`` times the whole run);
- ``inference``: the trained-network pass over all 10,000 test images at T=200 (batches of 1000);
- ``handout-cuba``: the handout's step with current-based neurons (``model.neuron=cuba``; snnTorch runs
  ``snn.Synaptic``);
- ``handout-alif``: the handout's step with adaptive-threshold neurons (``model.neuron=alif``); snnTorch has
  no such neuron, so its speed-ups are against spikevision's own reference loop;
- ``handout-if``: the handout's step with integrate-and-fire neurons (``model.neuron=if``, no leak; snnTorch
  runs ``snn.Leaky`` with beta 1);
- ``handout-plif``: the handout's step with a learnable time constant per layer (``model.learn_tau=layer``,
  PLIF; snnTorch runs ``snn.Leaky(learn_beta=True)``, which learns beta itself rather than through a
  sigmoid: the same work per step, not the same parameter);
- one case per other preset (``fc``, ``conv``, ... when the preset exists), at its own T and batch.

snnTorch runs the tutorial's loop: for each step, every layer's current (the same torch modules as
spikevision's, so the same weights), then ``snn.Leaky``. spikevision runs ``model(images, num_steps)``
(stateless layers over T*B at once, constant input current computed once, fused LIF kernels).
"reference" is spikevision with its plain torch loop (``backend="reference"``: the numbers before
the engine); "unfused" is the engine's LIF kernels without the fused first pair (the first hidden layer
and the linear layer after it in one kernel, ``kernels.lif_linear``, which ``model.py`` uses where it
applies: a constant input into a fully-connected pair, no dropout between them while training).
Times are warm: a few warm-up iterations, then the median of the timed ones, the implementations
interleaved so that a busy machine slows all alike; both wall-clock and CPU seconds are reported (on a
shared machine a loop of many small multithreaded ops, snnTorch's, suffers far more from other load
than a few large ones do, so compare on a quiet machine, and see the load average printed). Peak
memory is measured in a fresh subprocess per implementation and case: the rise of the resident set
during the iterations (VmHWM reset after loading the data and the compiled loops) and the peak.

Run:  python benchmarks/bench_lif.py            (all cases; add --quick for fewer iterations)
      python benchmarks/bench_lif.py --cases handout --iters 5 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from spikevision import data, kernels
from spikevision.kernels import lif_linear
from spikevision.model import build_model
from spikevision.runs.config import available_presets, resolve
from spikevision.runs.train import TensorData, loss_fn

# A run's steady state: the CPU loops' parallel build (a first run starts on the serial one,
# kernels.numba.runtime.build).
os.environ.setdefault("SPIKEVISION_CPU_LOOPS", "parallel")

IMPLS = ("snntorch", "reference", "unfused", "spikevision")
TRAINED_STEPS = 120  # handout-trained: the training steps before the timed ones (the hidden layer at ~30 %)
MEMORY_IMPLS = ("snntorch", "unfused", "spikevision")


def case_config(case: str):
    """(RunConfig, kind) of a case name; kind is "train" or "inference"."""
    if case == "handout":
        return resolve("seed", []), "train"
    if case == "handout-T25":
        return resolve("seed", ["num_steps=25"]), "train"
    if case == "handout-trained":
        return resolve("seed", []), "train"
    if case == "inference":
        return resolve("seed", []), "inference"
    if case == "handout-cuba":  # the same step with current-based neurons (snnTorch's Synaptic)
        return resolve("seed", ["model.neuron=cuba"]), "train"
    if case == "handout-alif":  # adaptive thresholds (no snnTorch equivalent)
        return resolve("seed", ["model.neuron=alif"]), "train"
    if case == "handout-if":  # no leak
        return resolve("seed", ["model.neuron=if"]), "train"
    if case == "handout-plif":  # a learnable time constant per layer
        return resolve("seed", ["model.learn_tau=layer"]), "train"
    return resolve(case, []), "train"


def all_cases() -> list[str]:
    others = [p for p in available_presets() if p in ("fc", "conv")]
    return ["handout", "handout-T25", "handout-trained", "inference", "handout-cuba", "handout-alif", "handout-if",
            "handout-plif", *others]


class SnnTorchNet(torch.nn.Module):
    """The snnTorch tutorial's loop over time around spikevision's own stateless layers (same weights)."""

    def __init__(self, model) -> None:
        import snntorch as snn
        from snntorch import surrogate

        super().__init__()
        cfg = model.config
        grads = {"atan": surrogate.atan, "fast_sigmoid": surrogate.fast_sigmoid,
                 "sigmoid": surrogate.sigmoid, "straight_through": surrogate.straight_through_estimator}
        if cfg.surrogate not in grads or cfg.learn_beta != "none" or cfg.learn_threshold != "none":
            raise ValueError(f"no snnTorch equivalent for surrogate {cfg.surrogate!r} / learnable coefficients")
        if cfg.learn_tau not in ("none", "layer"):
            raise ValueError("snnTorch learns one beta per layer here; no runner for per-neuron time constants")
        self.model = model
        self.cuba = cfg.neuron == "cuba"
        beta = 1.0 if cfg.neuron == "if" else cfg.beta
        if self.cuba:
            self.leaky = torch.nn.ModuleList(
                snn.Synaptic(alpha=cfg.alpha, beta=cfg.beta, threshold=cfg.threshold, reset_mechanism=cfg.reset,
                             spike_grad=grads[cfg.surrogate]()) for _ in model.stages)
        else:
            self.leaky = torch.nn.ModuleList(
                snn.Leaky(beta=beta, threshold=cfg.threshold, reset_mechanism=cfg.reset,
                          spike_grad=grads[cfg.surrogate](), learn_beta=cfg.learn_tau == "layer")
                for _ in model.stages)

    def forward(self, x: torch.Tensor, num_steps: int):
        states = [layer.init_synaptic() if self.cuba else (layer.init_leaky(),) for layer in self.leaky]
        spikes, membranes = [], []
        for _ in range(num_steps):
            inp = x
            for i, (stage, layer) in enumerate(zip(self.model.stages, self.leaky)):
                inp, *states[i] = layer(stage.current(inp), *states[i])
            spikes.append(inp)
            membranes.append(states[-1][-1])
        return torch.stack(spikes), torch.stack(membranes)


@contextlib.contextmanager
def backend(impl: str):
    """spikevision as ``impl`` runs it: "reference", its plain torch loop; "unfused", the LIF kernels
    without the fused first pair (``kernels.lif_linear``); "spikevision", as dispatched."""
    if impl == "reference":
        patches = [(kernels, "select", lambda *args: "reference")]  # the one choice point, for every family
    elif impl == "unfused":
        patches = [(kernels, "pair_supported", lambda *args: False)]
    else:
        yield
        return
    real = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, stand_in in patches:
        setattr(owner, name, stand_in)
    try:
        yield
    finally:
        for owner, name, value in real:
            setattr(owner, name, value)


@functools.cache
def trained_state(seed: int) -> dict:
    """The seed network's weights after ``TRAINED_STEPS`` steps of its recipe on random training batches."""
    config = resolve("seed", [])
    cfg = config.train
    model = build_model(config.model, seed=seed)
    train = TensorData.from_split(data.load(cfg.dataset, "train"))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    pick = torch.Generator().manual_seed(seed)
    for _ in range(TRAINED_STEPS):
        batch = torch.randint(0, len(train.labels), (cfg.batch_size,), generator=pick)
        out = model(train.images[batch], num_steps=cfg.num_steps)
        loss = loss_fn(out.spk, out.mem, train.labels[batch], cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def make_runner(impl: str, case: str, seed: int = 0):
    """A function doing one iteration of ``case`` with ``impl`` (None where ``impl`` does not apply)."""
    config, kind = case_config(case)
    if config.model.neuron == "alif" and impl in ("snntorch", "unfused"):
        return None  # no snnTorch ALIF; and the fused first pair is the LIF's, so "unfused" is "spikevision"
    cfg = config.train
    model = build_model(config.model, seed=seed)
    if case == "handout-trained":
        model.load_state_dict(trained_state(seed))
    net = SnnTorchNet(model) if impl == "snntorch" else None

    def forward(x):
        if net is not None:
            return net(x, cfg.num_steps)
        with backend(impl):
            out = model(x, num_steps=cfg.num_steps)
        return out.spk, out.mem

    if kind == "inference":
        test = TensorData.from_split(data.load(cfg.dataset, "test"))
        model.eval()

        @torch.no_grad()
        def run():
            correct = 0
            for start in range(0, len(test.labels), cfg.eval_batch_size):
                spk, _ = forward(test.images[start:start + cfg.eval_batch_size])
                correct += int((spk.sum(0).argmax(1) == test.labels[start:start + cfg.eval_batch_size]).sum())
            return correct

        return run

    train = TensorData.from_split(data.load(cfg.dataset, "train"), cfg.batch_size)
    images, target = train.images, train.labels
    # snnTorch's net holds the model's layers and its own learnable betas
    optimizer = torch.optim.Adam((model if net is None else net).parameters(), lr=cfg.lr, betas=cfg.betas)
    model.train()

    def run():
        spk, mem = forward(images)
        loss = loss_fn(spk, mem, target, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    return run


def time_case(case: str, warmup: int, iters: int) -> tuple[dict, dict]:
    """Wall-clock and CPU seconds per iteration of each implementation (medians), interleaved in this process.

    CPU seconds (``time.process_time``, all threads) are the steadier measure on a machine that other
    work shares: they count only the time this process ran.
    """
    runners = {impl: make_runner(impl, case) for impl in IMPLS}
    runners = {impl: run for impl, run in runners.items() if run is not None}
    for _ in range(warmup):
        for run in runners.values():
            run()
    wall = {impl: [] for impl in runners}
    cpu = {impl: [] for impl in runners}
    for _ in range(iters):
        for impl, run in runners.items():
            tick, cpu_tick = time.perf_counter(), time.process_time()
            run()
            wall[impl].append(time.perf_counter() - tick)
            cpu[impl].append(time.process_time() - cpu_tick)
    return ({impl: statistics.median(ts) for impl, ts in wall.items()},
            {impl: statistics.median(ts) for impl, ts in cpu.items()})


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} in /proc/self/status")


def _load_kernels() -> None:
    """Call every CPU loop once on tiny float32 inputs, so that numba has loaded them."""
    from spikevision.neurons import surrogate
    from spikevision.neurons.lif import LIFParams, lif_sequence

    base = torch.rand(2, 3, requires_grad=True)
    spk, mem, _ = lif_sequence(base.unsqueeze(0).expand(4, 2, 3), None, LIFParams(), backend="numba")
    out, _ = lif_linear(base, 4, 0.9, 1.0, "subtract", surrogate.get(), torch.rand(2, 3), None)
    (spk.sum() + mem.sum() + out.sum()).backward()


def memory_child(impl: str, case: str, iters: int) -> None:
    """In a fresh process: build, run ``iters`` iterations, print the peak and the rise (MiB) as JSON.

    numba's compiled loops are loaded first on tiny inputs (a fixed cost of the process, not of the
    step), then the peak resident set is reset (Linux: writing 5 to /proc/self/clear_refs resets
    VmHWM), so that the rise is the iterations' own; where that is refused, the lifetime peak
    ``ru_maxrss`` stands in and the result says so. ``peak_mib`` is the process's peak.
    """
    run = make_runner(impl, case)
    if run is None:
        print(json.dumps(None))
        return
    if impl != "snntorch":
        _load_kernels()
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        field = "VmHWM"
    except OSError:
        field = "ru_maxrss"
    before = _status_mib("VmRSS")
    for _ in range(iters):
        run()
    peak = (_status_mib("VmHWM") if field == "VmHWM"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # kilobytes on Linux
    print(json.dumps({"peak_mib": peak, "rise_mib": peak - before, "measured_by": field}))


def measure_memory(impl: str, case: str, iters: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", impl, case, "--iters", str(iters),
                          "--threads", str(torch.get_num_threads())],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table_row(row: dict) -> str:
    seconds, memory = row["seconds"], row.get("memory")
    base, against = _base(seconds)
    cells = [row["case"], str(row["num_steps"]), str(row["batch"]),
             f"{seconds['snntorch']:.3f}" if "snntorch" in seconds else "n/a (no such neuron)"]
    for impl in IMPLS[1:]:
        cells.append(f"{seconds[impl]:.4f} ({base / seconds[impl]:.1f}x{against})" if impl in seconds else "n/a")
    if memory is None or memory.get("snntorch") is None:
        cells += ["-"] * len(MEMORY_IMPLS)
    else:
        ref = memory["snntorch"]
        cells.append(f"{ref['peak_mib']:.0f} ({ref['rise_mib']:.0f})")
        for impl in MEMORY_IMPLS[1:]:
            mem = memory.get(impl)
            cells.append("n/a" if mem is None else
                         f"{mem['peak_mib']:.0f} ({mem['rise_mib']:.0f}, {mem['rise_mib'] / ref['rise_mib']:.2f}x)")
    return "| " + " | ".join(cells) + " |"


def _base(seconds: dict) -> tuple[float, str]:
    """What the speed-ups are against: snnTorch's time, or the reference loop's (marked) where snnTorch has
    no such neuron."""
    return (seconds["snntorch"], "") if "snntorch" in seconds else (seconds["reference"], " vs reference")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(all_cases()), help="comma-separated case names")
    parser.add_argument("--iters", type=int, default=5, help="timed iterations per implementation")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 warm-up and 3 timed iterations")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--threads", type=int, default=0, help="torch (and numba) threads; default: torch's")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--memory-child", nargs=2, metavar=("IMPL", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(*args.memory_child, iters=args.iters)
        return 0
    if args.quick:
        args.warmup, args.iters = 1, 3
    # SpikingJelly 2.0 and Norse 1.1 both require torchvision, which does not install beside the pinned CPU
    # torch on the project's machine, so no runner for them could be written and checked there.
    for peer in ("spikingjelly", "norse"):
        try:
            __import__(peer)
            print(f"# {peer}: installed, not benchmarked (no runner: see docs/PERFORMANCE.md)")
        except ImportError:
            print(f"# {peer}: not installed, not benchmarked")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    results = []
    header = ("| case | T | batch | snnTorch s/it | reference loop s/it (speed-up) | unfused s/it (speed-up) "
              "| spikevision s/it (speed-up) | snnTorch peak MiB (rise) | unfused peak MiB (rise, ratio) "
              "| spikevision peak MiB (rise, ratio) |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for case in args.cases.split(","):
        config, kind = case_config(case)
        iters = 1 if kind == "inference" else args.iters
        warmup = 1 if kind == "inference" else args.warmup
        times, cpu_times = time_case(case, warmup, iters)
        row = {"case": case, "kind": kind, "num_steps": config.train.num_steps,
               "batch": config.train.eval_batch_size if kind == "inference" else config.train.batch_size,
               "seconds": times, "cpu_seconds": cpu_times, "load_average": os.getloadavg()[0]}
        if not args.no_memory:
            row["memory"] = {impl: measure_memory(impl, case, 1 if kind == "inference" else 2)
                             for impl in MEMORY_IMPLS if impl in times}
        results.append(row)
        print(_table_row(row), flush=True)
    print("\nCPU seconds per iteration (all threads), the same runs:")
    print("| case | " + " | ".join(IMPLS) + " | load average |")
    print("|" + "---|" * (len(IMPLS) + 2))
    for row in results:
        cpu = row["cpu_seconds"]
        base, against = _base(cpu)
        cells = [f"{cpu[i]:.3f} ({base / cpu[i]:.1f}x{against})" if i in cpu else "n/a" for i in IMPLS]
        print(f"| {row['case']} | " + " | ".join(cells) + f" | {row['load_average']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
