"""`spikevision predict RUN IMAGE...`: classify picture files with a trained run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikevision.cli._options import add_device, add_threads


def register(subparsers) -> None:
    p = subparsers.add_parser("predict", help="classify image files with a trained run",
                              description="Classify PNG/JPEG pictures of digits with a trained run. Each picture "
                              "is made MNIST-like: grey, inverted when dark-on-light, cropped, scaled to 20x20 "
                              "and centred by mass in 28x28.")
    p.add_argument("run", type=Path, help="run directory (made by spikevision train)")
    p.add_argument("images", type=Path, nargs="+", help="image files")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_device(p)
    add_threads(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikevision.analysis import inference
    from spikevision.data import preprocess
    from spikevision.runs import rundir

    config, model = rundir.load_run(args.run, args.device)
    images = [preprocess.image_file_to_mnist(path) for path in args.images]  # every file checked before any work
    # One picture at a time through inference.trace, the code path of `spikevision play` too: each answer
    # (rate coding draws random spikes) never depends on which other files are named with it, or in what order.
    traces = [inference.trace(model, config.train, image, record=False) for image in images]
    results = [{"image": str(path), "prediction": t.prediction, "spike_counts": t.spike_counts}
               for path, t in zip(args.images, traces)]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(f"{r['image']}: {r['prediction']}   spike counts {r['spike_counts']}")
    return 0
