"""`spikevision agreement RUN`: export a run to NIR, run the graph in another simulator, and say how often they
agree."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikevision.cli._options import add_device


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "agreement", help="run a run's NIR export in another simulator and compare it with spikevision on the test set",
        description="Export a trained run to NIR, import the graph with another library's importer (snnTorch, "
                    "SpikingJelly or Norse), run both on the "
                    "test images and print, as JSON, how often the predictions agree and the output spike trains "
                    "are identical (needs the development extras: make install-dev).")
    p.add_argument("run", type=Path, help="run directory (made by spikevision train)")
    p.add_argument("--nir", type=Path, help="compare this exported file instead of exporting the run again")
    p.add_argument("--reader", choices=("snntorch", "spikingjelly", "norse"), default="snntorch",
                   help="the library whose NIR importer runs the graph (default: snntorch)")
    p.add_argument("--limit", type=int, default=0, help="only the first N test images (default: all)")
    p.add_argument("--root", type=Path, default=None, help="data directory (default $SPIKEVISION_DATA or the cache)")
    add_device(p)  # both networks run there
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikevision.interop import agreement
    from spikevision.interop.nir import load_nir

    graph = load_nir(args.nir) if args.nir else None
    print(json.dumps(agreement.compare(args.run, graph=graph, limit=args.limit, data_root=args.root,
                                        reader=args.reader, device=args.device), indent=2))
    return 0
