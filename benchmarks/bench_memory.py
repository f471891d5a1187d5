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

Run:  python benchmarks/bench_memory.py                      (the case as it is: about 5 minutes, 7 GiB)
      python benchmarks/bench_memory.py --sizes 500 16 4096   (T, batch, neurons)
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


def measure(sizes: tuple) -> dict:
    events = traced(lambda: open_neuromorphic_runners(torch.device("cpu"), False, sizes))
    result = {"sizes": {"T": sizes[0], "batch": sizes[1], "neurons": sizes[2]}, "torch": torch.__version__,
              "threads": torch.get_num_threads()}
    result.update({name: call_memory(events, name) for name in ("snntorch", "spikevision")})
    ours, theirs = result["spikevision"], result["snntorch"]
    result["peak_ratio"] = round(ours["peak_mib"] / theirs["peak_mib"], 3)
    result["rise_ratio"] = round(ours["rise_mib"] / theirs["rise_mib"], 3)
    return result


def table(result: dict) -> str:
    rows = ["| library | allocated before the call | peak in the call | rise | at the peak | in |",
            "|---|---|---|---|---|---|"]
    for name in ("snntorch", "spikevision"):
        row = result[name]
        rows.append(f"| {name} | {row['before_mib']:.0f} MiB | {row['peak_mib']:.0f} MiB | {row['rise_mib']:.0f} MiB"
                    f" | {row['at']} | {row['in']} |")
    rows.append(f"\nspikevision / snnTorch: peak {result['peak_ratio']:.2f}x, rise {result['rise_ratio']:.2f}x "
                f"(T={result['sizes']['T']}, batch {result['sizes']['batch']}, {result['sizes']['neurons']} neurons)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs=3, default=(500, 16, 16_384), metavar=("T", "BATCH", "N"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = measure(tuple(args.sizes))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
