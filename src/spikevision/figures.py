"""Figures of a run directory, composed from ``plotting``: training curves and the confusion matrix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from spikevision import plotting
from spikevision.checkpoint import write_atomic


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no metrics.jsonl; is it a run directory?")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_curves(run_dir: Path) -> list[Path]:
    """Write ``loss.png`` (per step) and ``accuracy.png`` (test accuracy per epoch) into ``run_dir``."""
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    written = []
    if steps:
        fig, ax = plotting.new_figure(figsize=(7, 4))
        plotting.loss_curve(ax, [r["step"] for r in steps], [r["loss"] for r in steps], label="training batch",
                            smooth=max(1, len(steps) // 50))
        written.append(plotting.save_figure(fig, run_dir / "loss.png"))
    if epochs:
        fig, ax = plotting.new_figure(figsize=(7, 4))
        plotting.accuracy_curve(ax, [r["epoch"] for r in epochs], [r["test_accuracy"] for r in epochs],
                                label="test set (all images)", title="Test accuracy after each epoch")
        written.append(plotting.save_figure(fig, run_dir / "accuracy.png"))
    return written


def confusion(run_dir: Path, matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> list[Path]:
    """Write ``confusion.png`` and ``confusion.json`` (rows: true class, columns: predicted) into ``run_dir``."""
    run_dir = Path(run_dir)
    fig, ax = plotting.new_figure(figsize=(6.5, 5.5))
    plotting.confusion_matrix(ax, matrix, classes)
    png = plotting.save_figure(fig, run_dir / "confusion.png")
    payload = {"classes": list(classes), "rows": "true class", "columns": "predicted class", "matrix": matrix}
    write_atomic(run_dir / "confusion.json", (json.dumps(payload, indent=2) + "\n").encode())
    return [png, run_dir / "confusion.json"]
