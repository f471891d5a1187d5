"""`spikevision inspect RUN`: what chosen test images do inside a trained network.

For each image (default: the first ``--count`` test images and the first misclassified one) it writes,
named ``test<index>-label<true>-pred<predicted>-...``:

- ``-layers.png``: the digit, and its input, hidden and output spikes stacked on one time axis;
- ``-membrane.png``: the output neurons' membrane potentials with the firing threshold;
- ``-counts.gif`` and ``-counts.mp4``: the running spike count of each output neuron, one frame per step;

and prints a table of true and predicted labels with the files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spikevision.cli._options import add_device, add_threads
from spikevision.errors import InvalidValue


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="see inside a trained run: layer rasters, output membranes, spike-count animations",
        description="Run chosen test images through a trained network and draw, per image, the input, hidden "
        "and output spikes on one time axis, the output membranes with the threshold, and an animated bar "
        "chart of the output spike counts (GIF and MP4), with the true and predicted labels.",
    )
    p.add_argument("run", type=Path, help="run directory (made by spikevision train)")
    p.add_argument("--index", type=int, nargs="+", default=None, metavar="I",
                   help="test images to inspect (default: the first --count and the first misclassified one)")
    p.add_argument("--count", type=int, default=3, help="how many test images by default (default 3)")
    p.add_argument("--fps", type=float, default=25, help="animation frames per second (default 25)")
    p.add_argument("--root", type=Path, default=None, help="data directory (default $SPIKEVISION_DATA or the cache)")
    p.add_argument("--out", type=Path, required=True, help="directory for the pictures")
    add_device(p)
    add_threads(p)
    p.set_defaults(func=run)


def default_indices(model, cfg, test, count: int) -> tuple[list[int], str]:
    """The first ``count`` test images, plus the first misclassified one if they hold none; and a note."""
    from spikevision.analysis import inspection

    chosen = list(range(min(count, len(test.labels))))
    if not all(inspection.predict(model, cfg, test, chosen) == test.labels[chosen]):
        return chosen, ""
    _, wrong = inspection.find_examples(model, cfg, test, right=0, wrong=1)
    if not wrong:
        return chosen, "every test image is classified correctly; no misclassified one to show"
    return chosen + wrong, ""


def run(args: argparse.Namespace) -> int:
    from spikevision.analysis import inspection
    from spikevision.pictures import animation, figures, plotting
    from spikevision.runs import rundir
    from spikevision.runs.inputs import load_data

    if not 0 < args.fps <= 100:
        raise InvalidValue(f"--fps must be in (0, 100]; got {args.fps:g}")
    if args.index is None and args.count < 1:
        raise InvalidValue(f"--count must be >= 1; got {args.count}")
    config, model = rundir.load_run(args.run, args.device)
    cfg = config.train
    test = load_data(cfg, "test", args.root, cfg.test_subset)
    if args.index is not None:
        indices, note = inspection.check_indices(args.index, len(test.labels)), ""
    else:
        indices, note = default_indices(model, cfg, test, args.count)
    threshold = inspection.output_threshold(model)
    classes = test.classes
    rows = []
    for ins in inspection.inspect_samples(model, cfg, test, indices):
        stem = args.out / f"test{ins.index}-label{ins.label}-pred{ins.prediction}"
        counts_title = f"Output spike count, test image {ins.index}: true {classes[ins.label]}, " \
                       f"predicted {classes[ins.prediction]}"
        written = [
            plotting.save_figure(figures.layer_activity(ins, classes), f"{stem}-layers.png"),
            plotting.save_figure(figures.output_membranes(ins, classes, threshold), f"{stem}-membrane.png"),
            *(animation.spike_count_animation(ins.spk, f"{stem}-counts{suffix}", classes, fps=args.fps,
                                              title=counts_title) for suffix in (".gif", ".mp4")),
        ]
        rows.append((ins, [p.name for p in written]))
    print(f"{args.run}: {config.preset or 'run'}, {cfg.encoding} input, {cfg.num_steps} time steps -> {args.out}")
    print(format_table(rows, classes))
    if note:
        print(note)
    return 0


def format_table(rows: list, classes) -> str:
    """One row per inspected image: index, true and predicted class, output spikes, files."""
    lines = [f"{'image':>6}  {'true':>5}  {'predicted':>9}  {'':5}  {'spikes out':>10}  files"]
    for ins, files in rows:
        verdict = "right" if ins.correct else "WRONG"
        lines.append(f"{ins.index:>6}  {classes[ins.label]:>5}  {classes[ins.prediction]:>9}  {verdict:5}  "
                     f"{int(ins.spike_counts.sum()):>10}  {', '.join(files)}")
    return "\n".join(lines)
