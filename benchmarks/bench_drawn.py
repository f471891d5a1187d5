"""How runs read digits that are not MNIST's: the strokes of ``spikevision.data.drawn``, and the UCI digits.

Two sets, neither from MNIST's writers, each picture made MNIST-like by ``preprocess.to_mnist`` and run
through ``inference.trace`` exactly as ``spikevision play`` and ``predict`` run it:
- ``drawn``: 500 digits drawn by ``spikevision.data.drawn``'s stroke paths (the figure the drawn network records);
- ``uci``: the 1,797 8x8 digits of 43 other writers that scikit-learn ships (``sklearn.datasets.load_digits``;
  UCI "Optical Recognition of Handwritten Digits"), scaled up to 64x64 first. Needs scikit-learn installed
  (``pip install scikit-learn``), or ``--uci-csv`` naming its ``digits.csv.gz``; otherwise it is left out.

Run:  python benchmarks/bench_drawn.py runs/demo/quick ~/.cache/spikevision/networks/drawn-*
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def uci_digits(csv: Path | None) -> tuple[list[Image.Image], np.ndarray] | None:
    """The UCI digits as 64x64 greyscale pictures and their labels, or None without scikit-learn or ``csv``."""
    if csv is not None:
        table = np.loadtxt(gzip.open(csv), delimiter=",")
        pixels, labels = table[:, :64], table[:, 64].astype(np.int64)
    else:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            return None
        found = load_digits()
        pixels, labels = found.data, found.target.astype(np.int64)
    pictures = [Image.fromarray((p.reshape(8, 8) / 16 * 255).astype(np.uint8)).resize((64, 64),
                                                                                    Image.Resampling.BICUBIC)
                for p in pixels]
    return pictures, labels


def accuracy(model, cfg, pictures, labels) -> float:
    from spikevision.analysis import inference
    from spikevision.data import preprocess

    right = sum(inference.trace(model, cfg, preprocess.to_mnist(p), record=False).prediction == label
                for p, label in zip(pictures, labels.tolist()))
    return right / len(labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run directories")
    parser.add_argument("--uci-csv", type=Path, default=None, help="scikit-learn's digits.csv.gz (else sklearn)")
    args = parser.parse_args(argv)
    from spikevision.data import drawn
    from spikevision.play import drawn_network
    from spikevision.runs import rundir

    strokes, stroke_labels = drawn.digit_set(drawn_network.DRAWN_PER_CLASS, drawn_network.DRAWN_SEED)
    strokes = [Image.fromarray(p) for p in strokes]
    uci = uci_digits(args.uci_csv)
    if uci is None:
        print("note: scikit-learn is not installed: the UCI digits are left out (pip install scikit-learn)",
              file=sys.stderr)
    print("| run | preset | MNIST test | drawn strokes (500) | UCI digits (1,797) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for run in args.runs:
        config, model = rundir.load_run(run)
        summary = rundir.read_json(run / rundir.SUMMARY, {})
        mnist = f"{summary['test_accuracy'] * 100:.2f} %" if "test_accuracy" in summary else "-"
        drawn_text = f"{accuracy(model, config.train, strokes, stroke_labels) * 100:.1f} %"
        uci_text = f"{accuracy(model, config.train, *uci) * 100:.1f} %" if uci else "-"
        print(f"| {run} | {config.preset} | {mnist} | {drawn_text} | {uci_text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
