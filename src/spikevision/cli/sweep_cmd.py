"""`spikevision sweep`: one network trained with each input encoding over several numbers of time steps.

Writes one run directory per point (``<out>/<encoding>-<T>steps``), then ``sweep.csv``, ``sweep.json`` and
``sweep.png`` (test accuracy against time steps and against spikes per test image), and prints the table.
Points already finished are reused, so re-running the same command after Ctrl-C continues the sweep.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikevision import catalog
from spikevision.cli._options import add_device, add_threads
from spikevision.errors import InvalidValue


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="train with direct / rate / latency input over several time steps; table and plot of accuracy",
        description="Train one network (a preset) with each input encoding for each number of time steps, "
        "evaluate every run on all test images, and write a table (sweep.csv, sweep.json) and a plot "
        "(sweep.png) of test accuracy against time steps and against spikes per test image. Rate input uses gain 1; "
        "latency input the linear code stretched over the window with below-threshold pixels dropped (so any "
        "number of steps holds every spike); the preset's own encoding keeps the preset's options. Finished "
        "points are reused: run the same command again to continue an interrupted sweep. The defaults take a "
        "few minutes on 2 CPU cores.",
    )
    p.add_argument("--encodings", type=_names, default=catalog.SWEEP_ENCODINGS, metavar="LIST",
                   help="comma-separated input encodings from " + ", ".join(catalog.IMAGE_ENCODINGS)
                   + f" (default {','.join(catalog.SWEEP_ENCODINGS)})")
    p.add_argument("--steps", type=_whole_numbers, default=catalog.SWEEP_STEPS, metavar="LIST",
                   help=f"comma-separated numbers of time steps (default {','.join(map(str, catalog.SWEEP_STEPS))})")
    p.add_argument("--epochs", type=int, default=catalog.SWEEP_EPOCHS,
                   help=f"training epochs per point (default {catalog.SWEEP_EPOCHS})")
    p.add_argument("--train-subset", type=int, default=catalog.SWEEP_TRAIN_SUBSET, metavar="N",
                   help=f"train on the first N training images, 0 for all 60,000 "
                        f"(default {catalog.SWEEP_TRAIN_SUBSET})")
    p.add_argument("--preset", default="quick", help="preset name or .toml path of the network (default quick)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key of every point, e.g. --set model.beta=0.9 (repeatable)")
    p.add_argument("--root", type=Path, default=None, help="data directory (default $SPIKEVISION_DATA or the cache)")
    p.add_argument("--quiet", action="store_true", help="no progress lines or bars")
    p.add_argument("--out", type=Path, required=True, help="sweep directory (one run directory per point inside)")
    add_device(p)
    add_threads(p)
    p.set_defaults(func=run)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated encodings like direct,rate; got {text!r}")
    return names


def _whole_numbers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers like 5,10,25; got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from spikevision.runs import sweep, train

    if args.epochs < 1:
        raise InvalidValue(f"--epochs must be >= 1; got {args.epochs}")
    if args.train_subset < 0:
        raise InvalidValue(f"--train-subset must be >= 0 (0: all training images); got {args.train_subset}")
    progress = _Progress(args.out, args.quiet)
    try:
        points = sweep.run_sweep(
            args.out, preset=args.preset, overrides=args.overrides, encodings=args.encodings, steps=args.steps,
            epochs=args.epochs, train_subset=args.train_subset, data_root=args.root, on_event=progress,
            device=args.device,
        )
    except train.TrainingInterrupted:
        progress.close()
        print(f"\nInterrupted; finished points and a checkpoint of the current one are kept in {args.out}. "
              "Run the same command again to continue.", file=sys.stderr)
        return 130
    finally:
        progress.close()
    print(f"sweep of {len(points)} runs -> {args.out}  ({sweep.CSV_NAME}, {sweep.JSON_NAME}, {sweep.PLOT_NAME})")
    print(sweep.format_table(points))
    return 0


class _Progress:
    """Event handler for sweep.run_sweep: a line per point and the training progress bar of each."""

    def __init__(self, out: Path, quiet: bool):
        from spikevision.runs.progress import ProgressPrinter

        self.out, self.quiet = out, quiet
        self.trained: str | None = None  # the point being trained now (its run directory)
        self.bar = ProgressPrinter(disable=quiet)

    def __call__(self, kind: str, info: dict) -> None:
        if kind == "point":
            self.bar.close()
            self.trained = None if info["reused"] else info["run_dir"]
            if not self.quiet:
                what = "finished before, reused" if info["reused"] else "training"
                print(f"[{info['index'] + 1}/{info['total']}] {info['encoding']} input, {info['num_steps']} time "
                      f"steps: {what} ({info['run_dir']})", file=sys.stderr)
        elif kind == "point_done":
            self.bar.close()
            from spikevision.pictures import figures  # matplotlib once there is a point to draw

            if self.trained is not None:  # its loss.png and accuracy.png, as spikevision train draws them
                figures.training_curves(self.trained)
            figures.sweep_picture(self.out)  # the points so far: an interrupted sweep keeps its picture
        else:
            self.bar(kind, info)

    def close(self) -> None:
        self.bar.close()
