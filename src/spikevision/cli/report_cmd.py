"""`spikevision report RUN`: one self-contained HTML page about a trained run (``RUN/report.html``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikevision.cli._options import add_device, add_threads


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="write RUN/report.html: one self-contained page with the run's figures and numbers",
        description="Write report.html into a run directory: configuration, loss and accuracy curves, confusion "
        "matrix and per-class accuracy, right and wrong predictions with their output rasters, one image seen "
        "inside the network, spikes per layer, an energy estimate and spike encodings. Every picture is inline; "
        "the page opens offline and fetches nothing. Evaluates the run first unless evaluation.json is current.",
    )
    p.add_argument("run", type=Path, help="run directory (made by spikevision train)")
    p.add_argument("--examples", type=int, default=3, help="right and wrong predictions to show, each (default 3)")
    p.add_argument("--root", type=Path, default=None, help="data directory (default $SPIKEVISION_DATA or the cache)")
    add_device(p)
    add_threads(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from spikevision import report
    from spikevision.runs import rundir

    start = time.perf_counter()
    path = report.build_report(args.run, root=args.root, examples=args.examples, device=args.device)
    size = path.stat().st_size
    print(f"Wrote {path} ({size / 1e6:.1f} MB, every image inline) in {time.perf_counter() - start:.0f} s; "
          f"open it in a browser: {path.resolve().as_uri()}")
    state = rundir.training_state(args.run)
    if not state.finished:  # as evaluate says, and as the report's own banner does
        print(f"note: {args.run} is {state.describe(args.run)}", file=sys.stderr)
    return 0
