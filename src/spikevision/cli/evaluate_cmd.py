"""`spikevision evaluate RUN`: accuracy, confusion matrix, spikes, synaptic operations and energy on the test set."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from spikevision.catalog import TRAIN_DATASETS
from spikevision.cli._options import add_device, add_threads


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate a trained run (or a NIR graph) on the full test set",
                              description="Evaluate a trained run on every image of its test set, or run a NIR "
                                          "graph (FILE.nir: spikevision's, snnTorch's or Norse's export) on one.")
    p.add_argument("run", type=Path, help="run directory (made by spikevision train), or a .nir file")
    p.add_argument("--steps", type=int, default=None,
                   help="a .nir file: time steps per image (default: the num_steps its metadata records)")
    p.add_argument("--dt", type=float, default=None,
                   help="a .nir file: seconds per step its tau is read against (default: its metadata's, else 1e-4)")
    p.add_argument("--dataset", choices=TRAIN_DATASETS, default=None,
                   help="a .nir file: the test set to run it on (default: the dataset its metadata records, else "
                        "mnist)")
    p.add_argument("--limit", type=int, default=0,
                   help="only the first N test samples (default: all; a run trained with train.test_subset: that)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--root", type=Path, default=None, help="data directory")
    add_device(p)
    add_threads(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikevision import report
    from spikevision.runs import rundir
    from spikevision.runs.inputs import load_data

    if args.run.suffix == ".nir":
        return _evaluate_graph(args)
    config, model = rundir.load_run(args.run, args.device)
    test = load_data(config.train, "test", args.root, _limit(args) or config.train.test_subset)
    result = report.evaluation(args.run, model, config, test, reuse=False, save=False)
    state = rundir.training_state(args.run, config)
    if not state.finished:
        print(f"note: {args.run} is {state.describe(args.run)}", file=sys.stderr)
    try:
        report.save_evaluation(args.run, result)
    except OSError:  # an unwritable run directory still gets the numbers it took a minute to compute
        print(json.dumps(result, indent=2) if args.json else format_report(result, args.run, saved=False))
        raise
    print(json.dumps(result, indent=2) if args.json else format_report(result, args.run))
    return 0


def _evaluate_graph(args: argparse.Namespace) -> int:
    """Run a NIR file in spikevision (``interop.from_nir``) on a test set and print its accuracy; nothing is written."""
    from spikevision import data
    from spikevision.errors import InvalidValue
    from spikevision.interop import nir as nir_interop
    from spikevision.runs.inputs import TensorData

    graph = nir_interop.load_nir(args.run)
    model = nir_interop.from_nir(graph, dt=args.dt)
    cfg = nir_interop.reading_config(graph, steps=args.steps, dataset=args.dataset)
    shape = tuple(model.config.input_shape)
    if cfg.encoding == "frames":  # an event network: the dataset's frames, [2, H, W] a step
        return _report_graph(args, model, cfg, _event_test(args, cfg, shape))
    test = TensorData.from_split(data.load(cfg.dataset, "test", args.root), _limit(args))
    per_image = math.prod(shape) * (cfg.num_steps if cfg.encoding == "rows" else 1)  # rows: one row a step
    if test.images[0].numel() != per_image:
        raise InvalidValue(f"{args.run} takes inputs of shape {list(shape)}"
                           + (f" for each of {cfg.num_steps} rows" if cfg.encoding == "rows" else "")
                           + f", but {cfg.dataset}'s images are {list(test.images.shape[1:])}; pass the --dataset "
                           "it was made for")
    if cfg.encoding != "rows":  # flat-input graphs: the image as one row
        test = TensorData(test.images.reshape(-1, *shape), test.labels, test.classes)
    return _report_graph(args, model, cfg, test)


def _event_test(args: argparse.Namespace, cfg, shape: tuple):
    """The event dataset's test split as frames, when the graph takes them."""
    from spikevision.errors import InvalidValue
    from spikevision.runs.inputs import load_data

    test = load_data(cfg, "test", args.root, _limit(args))
    if tuple(test.images.shape[2:]) != shape:
        raise InvalidValue(f"{args.run} takes inputs of shape {list(shape)}, but {cfg.dataset}'s frames are "
                           f"{list(test.images.shape[2:])}; pass the --dataset it was made for")
    return test


def _limit(args: argparse.Namespace) -> int:
    from spikevision.errors import InvalidValue

    if args.limit < 0:
        raise InvalidValue(f"--limit must be >= 0 (0: every test sample); got {args.limit}")
    return args.limit


def _report_graph(args: argparse.Namespace, model, cfg, test) -> int:
    from spikevision.runs import devices, evaluation

    result = evaluation.evaluate(model.to(devices.resolve(args.device)), test, cfg)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        from spikevision.metrics import RULE_TEXT

        what = "samples" if cfg.encoding == "frames" else "images"
        print(f"{args.run}: test accuracy {result['accuracy'] * 100:.2f}% on {result['num_samples']:,} {cfg.dataset} "
              f"{what}, {cfg.num_steps} steps of {cfg.encoding} input; prediction: {RULE_TEXT[cfg.prediction]}")
    return 0


def format_report(result: dict, run_dir: Path, saved: bool = True) -> str:
    from spikevision.runs.rundir import CONFUSION_PLOT, CONFUSION_TABLE, EVALUATION

    spikes = result["spikes_per_sample"]
    energy = result["energy"]
    from spikevision.metrics import RULE_TEXT

    lines = [
        f"Test accuracy: {result['accuracy'] * 100:.2f}% on {result['num_samples']:,} images "
        f"(loss {result['loss']:.4f})",
        f"  prediction: {RULE_TEXT[result['prediction']]}",
        *(f"  by the rule '{rule}' ({RULE_TEXT[rule]}): {acc * 100:.2f}%"
          for rule, acc in result["accuracy_by_rule"].items() if rule != result["prediction"]),
        "",
        "class  accuracy",
    ]
    for name, acc in zip(result["classes"], result["per_class_accuracy"]):
        lines.append(f"{name:>5}  {acc * 100:7.2f}%")
    lines += [
        "",
        "Spikes per sample: " + ", ".join(f"layer {i + 1}: {s:,.1f}" for i, s in enumerate(spikes["layers"]))
        + f" (total {spikes['total']:,.1f})",
        f"Synaptic operations per sample: {result['synops_per_sample']:,.0f}",
        f"Energy estimate per sample: SNN {energy['snn_nj_per_sample']:.1f} nJ vs equal ANN "
        f"{energy['ann_nj_per_sample']:.1f} nJ ({energy['note']})",
        "  (an estimate, not a measurement: the spiking network's synaptic operations against the same layers "
        "run as dense multiply-accumulates; memory traffic and hardware left out)",
    ]
    if saved:
        lines.append(f"Wrote {run_dir / EVALUATION}, {run_dir / CONFUSION_PLOT}, {run_dir / CONFUSION_TABLE}")
    return "\n".join(lines)
