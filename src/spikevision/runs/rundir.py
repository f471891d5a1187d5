"""The run directory: the one module that knows its file names and how each file is read and written.

A run directory holds (``spikevision train``) ``config.json``, ``checkpoint.safetensors``, ``metrics.jsonl``,
``summary.json``, ``loss.png`` and ``accuracy.png``; (``evaluate``) ``evaluation.json``, ``confusion.png`` and
``confusion.json``; (``report``) ``report.html``. Every file is written atomically (a temporary name, then a
rename), so a kill leaves the last good version; ``remove_stale_temporaries`` clears what a kill left half
written. Inference (``predict``, ``inspect``, ``report``, interop) loads runs from here, never from ``train``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from spikevision.errors import InvalidValue, NotFound
from spikevision.model import build_model
from spikevision.runs import devices
from spikevision.runs.checkpoint import (
    CHECKPOINT_NAME,
    load_model_weights,
    read_checkpoint,
    read_metadata,
    stale_temporaries,
    write_atomic,
)
from spikevision.runs.config import RunConfig

CONFIG = "config.json"
CHECKPOINT = CHECKPOINT_NAME
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
LOSS_PLOT = "loss.png"
ACCURACY_PLOT = "accuracy.png"
EVALUATION = "evaluation.json"
CONFUSION_PLOT = "confusion.png"
CONFUSION_TABLE = "confusion.json"
REPORT = "report.html"
# What a training run writes: train.fit the first four, the training curves after it.
TRAINING_FILES = (CHECKPOINT, CONFIG, METRICS, SUMMARY, LOSS_PLOT, ACCURACY_PLOT)
# What is made from the trained weights afterwards, and is stale once training goes on.
DERIVED_FILES = (EVALUATION, CONFUSION_PLOT, CONFUSION_TABLE, REPORT)


@dataclass(frozen=True)
class TrainingState:
    """How far a run's training got: ``epochs_done`` of ``epochs`` after ``step`` optimiser steps."""

    step: int
    epochs_done: int
    epochs: int

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.epochs

    def describe(self, run_dir: Path) -> str:
        """One line for a person; for an unfinished run, how to continue it."""
        if self.finished:
            return f"finished: {self.epochs} epoch{'s' * (self.epochs != 1)}, {self.step:,} steps"
        return (f"unfinished: stopped after {self.step:,} steps with {self.epochs_done} of {self.epochs} epochs "
                f"done, so its weights are partial; continue it with spikevision train --out {run_dir} --resume")


def write_json(path: Path, value) -> None:
    """``value`` as indented JSON in ``path``, written atomically."""
    write_atomic(Path(path), (json.dumps(value, indent=2) + "\n").encode())


def read_json(path: Path, default=None):
    """The JSON value in ``path``; ``default`` when it is missing or unreadable (a file to be made again)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return default


def load_config(run_dir: Path) -> RunConfig:
    """The run's saved ``config.json``, checked as any config is."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    if not run_dir.exists():
        raise NotFound(f"the run directory {run_dir} does not exist; train one with spikevision train --out {run_dir}")
    if not run_dir.is_dir():
        raise InvalidValue(f"{run_dir} is a file, not a run directory")
    if not path.is_file():
        raise NotFound(f"{run_dir} is not a run directory: no {CONFIG}")
    try:
        return RunConfig.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise InvalidValue(f"{path} is not valid JSON: {exc}") from None


def load_run(run_dir: Path, device: str | torch.device = "cpu") -> tuple[RunConfig, torch.nn.Module]:
    """The config and trained model of a run directory, ready for evaluation on ``device``.

    A checkpoint holds CPU tensors, whatever device trained it, so any run loads on any device.
    """
    config = load_config(run_dir)
    model = build_model(config.model)
    path = Path(run_dir) / CHECKPOINT
    tensors, _ = read_checkpoint(path)
    load_model_weights(model, tensors, path)
    model.eval()
    return config, model.to(devices.resolve(device))


def training_state(run_dir: Path, config: RunConfig | None = None) -> TrainingState:
    """How far the run's training got, from its checkpoint (``config``: the run's, when already loaded)."""
    config = config or load_config(run_dir)
    progress = read_metadata(Path(run_dir) / CHECKPOINT).get("progress", {})
    return TrainingState(int(progress.get("step", 0)), int(progress.get("epochs_done", 0)), config.train.epochs)


def remove_derived(run_dir: Path) -> None:
    """Delete what was made from the weights (evaluation, confusion matrix, report): training changes them."""
    for name in DERIVED_FILES:
        (Path(run_dir) / name).unlink(missing_ok=True)


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete the temporary files of atomic writes cut short by a crash (never read, only in the way)."""
    for name in TRAINING_FILES:
        for tmp in stale_temporaries(Path(run_dir) / name):
            tmp.unlink(missing_ok=True)


def saved_evaluation(run_dir: Path) -> dict | None:
    """``evaluation.json`` where it is whole and newer than the checkpoint (what ``evaluate`` wrote of this
    checkpoint), else None: a stale or damaged one is for the caller to make again."""
    path, checkpoint = Path(run_dir) / EVALUATION, Path(run_dir) / CHECKPOINT
    if not path.is_file() or not checkpoint.is_file() or path.stat().st_mtime < checkpoint.stat().st_mtime:
        return None
    result = read_json(path, {})  # a damaged file reads as {}
    return result if isinstance(result, dict) and "confusion" in result and "classes" in result else None


def read_metrics(run_dir: Path) -> list[dict]:
    """``metrics.jsonl``'s records in order (a step, an epoch, ...): what ``train`` appended, read back."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        raise NotFound(f"{run_dir} has no {METRICS}; is it a run directory?")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rewrite_metrics(run_dir: Path, history: list) -> None:
    """``metrics.jsonl`` as of the checkpoint: steps after it (lost with a crash) are dropped, then replayed."""
    write_atomic(Path(run_dir) / METRICS, "".join(json.dumps(r) + "\n" for r in history).encode())
