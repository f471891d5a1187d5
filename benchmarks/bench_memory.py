"""Where the Open Neuromorphic case's memory goes, snnTorch against spikevision, counted on the CPU.

The GPU issue's memory target is the peak of one forward + backward call of that case (Linear(N, N) + LIF,
batch 16, T=500, N=16,384, loss: the spikes' sum), as ``torch.cuda.max_memory_allocated`` counts it. The
same call on CPU tensors allocates the same tensors in the same order: both libraries' autograd graphs are
the same on either device, and the one difference is spikevision's backward, whose Triton kernel keeps
about 2 sqrt(T) rows of recomputed membranes in torch tensors (46 MiB here) where the numba engine keeps its
few per thread outside them. So torch.profiler's allocation events give the GPU's counts before any GPU
run: what was allocated when the call began (the weight, its gradient, the input), the peak during the
call, and the operator running at that peak. ``gpu_check.sh`` measures the same case on a GPU.

Both libraries share one ``torch.nn.Linear``, as in ``bench_gpu.py``; a first, unmeasured spikevision call
leaves its gradient, as the warm-up calls there do.

``--neuron cuba`` measures the same call with current-based neurons three ways, to decide whether CUBA needs
a kernel family of its own: snnTorch's ``Synaptic``; spikevision's fused ``cuba`` family; and the shape that
would drop that family, a leaky-integrator filter (``syn_t = alpha syn_{t-1} + I_t``, op for op as ``cuba``)
feeding the LIF kernel, which is bit-equal but makes the synaptic currents a ``[T, B, N]`` tensor. ``--constant``
feeds every step the same current (direct encoding, a stride-0 view), where the fused family reads it once.

Run:  python benchmarks/bench_memory.py                      (the case as it is: about 5 minutes, 7 GiB)
      python benchmarks/bench_memory.py --sizes 500 16 4096   (T, batch, neurons)
      python benchmarks/bench_memory.py --neuron cuba --sizes 500 16 4096 [--constant]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).parent))
from bench_gpu import open_neuromorphic_runners  # noqa: E402  (the case itself, written once)

MIB = 2**20
CALL = "measured call: "
NODE = "autograd::engine::evaluate_function: "


def traced(runners: dict) -> list[dict]:
    """The chrome-trace events of one call of each runner, each inside a ``CALL + name`` range, with the
    profiler's allocation events; a first spikevision call, outside any range, leaves the weight's gradient."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        made = runners()  # inside the profile, so the weight and input count as allocated before each call
        made["spikevision"]()
        for name, run in made.items():
            with record_function(CALL + name):
                run()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "trace.json"
        prof.export_chrome_trace(str(path))
        return json.loads(path.read_text())["traceEvents"]


def call_memory(events: list[dict], name: str) -> dict:
    """MiB allocated when the ``name`` call began and at its peak; the innermost operator running then, and the
    autograd node it ran in (or "forward")."""
    call = next(e for e in events if e.get("name") == CALL + name and e.get("ph") == "X")
    start, end = call["ts"], call["ts"] + call["dur"]
    memory = sorted((e for e in events if e.get("name") == "[memory]"), key=lambda e: e["ts"])
    earlier = [e["args"]["Total Allocated"] for e in memory if e["ts"] < start]
    during = [e for e in memory if start <= e["ts"] <= end]
    top = max(during, key=lambda e: e["args"]["Total Allocated"])
    around = sorted((e for e in events if e.get("ph") == "X" and e["ts"] <= top["ts"] <= e["ts"] + e["dur"]
                     and start <= e["ts"] and e is not call), key=lambda e: e["dur"])
    nodes = [e["name"].split(": ")[-1] for e in around if e["name"].startswith(NODE)]  # the autograd node, if any
    before, peak = (earlier[-1] if earlier else 0), top["args"]["Total Allocated"]
    return {"before_mib": round(before / MIB, 3), "peak_mib": round(peak / MIB, 3),
            "rise_mib": round((peak - before) / MIB, 3), "at": around[0]["name"],
            "in": nodes[0] if nodes else "forward"}


def cuba_runners(sizes: tuple, constant: bool) -> dict:
    """The Open Neuromorphic call with current-based neurons (alpha 0.9, beta 0.95): snnTorch's Synaptic, the
    fused cuba family, and a leaky-integrator filter feeding the LIF kernel (``--neuron cuba``)."""
    import snntorch as snn

    from spikevision.neurons import cuba, lif

    steps, batch, neurons = sizes
    x = torch.randn(1 if constant else steps, batch, neurons, generator=torch.Generator().manual_seed(0))
    linear = torch.nn.Linear(neurons, neurons)

    def current():
        out = linear(x.flatten(0, 1)).view(x.shape)
        return out.expand(steps, batch, neurons) if constant else out  # direct encoding: one current, T steps

    def fused():
        return cuba.cuba_sequence(current(), None, cuba.CubaParams(0.9, 0.95), need_mem=False)[0]

    def filtered():
        syn, rows = torch.zeros(batch, neurons), []
        for step in current().unbind(0):
            syn = 0.9 * syn + step
            rows.append(syn)
        return lif.lif_sequence(torch.stack(rows), None, lif.LIFParams(0.95), need_mem=False)[0]

    def synaptic():
        model, out = snn.Synaptic(alpha=0.9, beta=0.95), []
        syn, mem = model.init_synaptic()
        for step in current().unbind(0):
            spk, syn, mem = model(step, syn, mem)
            out.append(spk)
        return torch.stack(out)

    def step(forward):
        forward().sum().backward()

    return {"snntorch": lambda: step(synaptic), "spikevision": lambda: step(fused),
            "li filter + lif kernel": lambda: step(filtered)}


def measure(sizes: tuple, neuron: str = "lif", constant: bool = False) -> dict:
    made = (lambda: cuba_runners(sizes, constant)) if neuron == "cuba" else (
        lambda: open_neuromorphic_runners(torch.device("cpu"), False, sizes))
    events = traced(made)
    result = {"sizes": {"T": sizes[0], "batch": sizes[1], "neurons": sizes[2]}, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "neuron": neuron, "constant": constant}
    names = ("snntorch", "spikevision", "li filter + lif kernel") if neuron == "cuba" else ("snntorch", "spikevision")
    result.update({name: call_memory(events, name) for name in names})
    ours, theirs = result["spikevision"], result["snntorch"]
    result["peak_ratio"] = round(ours["peak_mib"] / theirs["peak_mib"], 3)
    result["rise_ratio"] = round(ours["rise_mib"] / theirs["rise_mib"], 3)
    return result


def table(result: dict) -> str:
    rows = ["| library | allocated before the call | peak in the call | rise | at the peak | in |",
            "|---|---|---|---|---|---|"]
    for name in [key for key in result if isinstance(result[key], dict) and "peak_mib" in result[key]]:
        row = result[name]
        rows.append(f"| {name} | {row['before_mib']:.0f} MiB | {row['peak_mib']:.0f} MiB | {row['rise_mib']:.0f} MiB"
                    f" | {row['at']} | {row['in']} |")
    rows.append(f"\nspikevision / snnTorch: peak {result['peak_ratio']:.2f}x, rise {result['rise_ratio']:.2f}x "
                f"(T={result['sizes']['T']}, batch {result['sizes']['batch']}, {result['sizes']['neurons']} neurons)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs=3, default=(500, 16, 16_384), metavar=("T", "BATCH", "N"))
    parser.add_argument("--neuron", choices=("lif", "cuba"), default="lif",
                        help="cuba: the fused family against a leaky-integrator filter feeding the LIF kernel")
    parser.add_argument("--constant", action="store_true", help="the same current at every step (direct encoding)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = measure(tuple(args.sizes), args.neuron, args.constant)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
