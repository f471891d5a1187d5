"""`spikevision export RUN --format nir --out FILE.nir`: a trained run as a NIR graph other simulators can read."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikevision.cli._options import add_device
from spikevision.errors import InvalidValue

FORMATS = ("nir",)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a trained run to NIR (Neuromorphic Intermediate Representation)",
        description="Export a trained run's network as a NIR graph (HDF5), readable by spikevision "
                    "(spikevision.interop.from_nir) and by other simulators that import NIR (see docs/INTEROP.md).")
    p.add_argument("run", type=Path, help="run directory (made by spikevision train)")
    p.add_argument("--format", choices=FORMATS, default="nir", help="output format (default: nir)")
    p.add_argument("--out", type=Path, default=None, help="output file (default: RUN/model.nir)")
    p.add_argument("--dt", type=float, default=None,
                   help="seconds per time step that tau is written against (default: 1e-4, snnTorch's convention)")
    p.add_argument("--pool", choices=("avg", "sum"), default="avg",
                   help="average pooling as NIR AvgPool2d (read by snnTorch, SpikingJelly; the default) or as "
                        "SumPool2d with 1/k^2 folded into the weights (read by Norse): the same network")
    p.add_argument("--no-check", action="store_true",
                   help="skip measuring, on the test set, how often a NIR reader gets spikevision's predictions")
    p.add_argument("--root", type=Path, default=None, help="data directory (default $SPIKEVISION_DATA or the cache)")
    add_device(p)  # where that measurement runs the network
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikevision.interop import nir as nir_interop  # nir and h5py load only when the command runs
    from spikevision.runs import devices

    out = args.out or args.run / "model.nir"
    if out.suffix != ".nir":
        raise InvalidValue(f"--out {out} should end in .nir, the extension NIR readers expect")
    device = devices.resolve(args.device)  # refused before anything is written
    graph = nir_interop.export_run(args.run, out, dt=nir_interop.DT if args.dt is None else args.dt,
                                 pool=args.pool)
    layers = [name for name in graph.nodes if name not in ("input", "output")]
    print(f"Wrote {out}: {' -> '.join(layers)}; dt = {graph.metadata['dt']:g} s, "
          f"{graph.metadata.get('num_steps', '?')} steps per sample, {graph.metadata.get('encoding', '?')} input")
    resets = {node.metadata.get(nir_interop.RESET_KEY) for node in graph.nodes.values()} - {None, "zero"}
    if resets:
        print(f"note: the network resets by {'/'.join(sorted(resets))}, which NIR cannot express: spikevision "
              "reads it back exactly, other simulators reset to zero (docs/INTEROP.md); train with "
              "--set model.reset=zero for an export every NIR simulator runs exactly", file=sys.stderr)
    if any(type(node).__name__ == "LI" for node in graph.nodes.values()):
        print("note: the readout is NIR's LI node (a leaky integrator; the class is the highest mean membrane): "
              "spikevision reads it (interop.from_nir, spikevision evaluate FILE.nir); snnTorch 1.0.0, SpikingJelly "
              "2.0.0 and Norse 1.1.0 import no LI nodes (docs/INTEROP.md)", file=sys.stderr)
    elif not args.no_check and graph.metadata.get("encoding") == "direct":
        _say_what_readers_get(args, device)
    return 0


def _say_what_readers_get(args: argparse.Namespace, device) -> None:
    """How often a NIR reader (reset to zero, class by spike count) gets spikevision's answer, on the test set."""
    from spikevision.interop.agreement import nir_reader_view

    view = nir_reader_view(args.run, data_root=args.root, device=device)
    print(f"A NIR reader that resets to zero and counts spikes agrees with spikevision on "
          f"{view['prediction_agreement'] * 100:.2f}% of the {view['images']:,} test images "
          f"(its accuracy {view['reader_accuracy'] * 100:.2f}%, "
          f"spikevision's {view['spikevision_accuracy'] * 100:.2f}%)"
          + ("" if view["prediction_agreement"] >= 0.995 else
             "; for an export that readers agree with, train with --set model.reset=zero --set train.loss=count_ce "
             "--set train.prediction=spikes, as the quick-nir and conv-nir presets do (docs/INTEROP.md)"),
          file=sys.stderr)
