"""The network ``spikevision play`` uses when no run is named: the ``drawn`` preset, trained on first use.

It is trained once into the data cache (``<data root>/networks/drawn-<config hash>``, so a changed preset
trains a new one), with a progress bar, and measured there on digits drawn by ``spikevision.data.drawn``'s
strokes (not MNIST's writers) beside its MNIST test accuracy. Training goes into a hidden partial folder
that is renamed into place only when it is finished; one that was stopped is resumed on the next start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from spikevision import data
from spikevision.analysis import inference
from spikevision.data import drawn, preprocess
from spikevision.play.runs import is_run
from spikevision.runs import config as config_mod
from spikevision.runs import rundir

PRESET = "drawn"
NETWORKS = "networks"  # the folder of trained networks in the data root
DRAWN_PER_CLASS = 50  # drawn test digits of each class: 500 in all
DRAWN_SEED = 2026     # the drawn test set's seed (the browser tests draw other hands)


def network_dir(root: Path | None = None, overrides: tuple[str, ...] = ()) -> Path:
    """Where the drawn network of this config lives in the cache below data root ``root`` (trained or not)."""
    cfg = config_mod.resolve(PRESET, list(overrides))
    key = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
    return data.data_root(root) / NETWORKS / f"{PRESET}-{key}"


def cached(root: Path | None = None, overrides: tuple[str, ...] = ()) -> Path | None:
    """The trained drawn network's run directory, or None when the cache has none yet."""
    path = network_dir(root, overrides)
    return path if is_run(path) and "drawn_accuracy" in summary(path) else None


def summary(path: Path) -> dict:
    """A drawn network's summary: ``train.fit``'s, with ``drawn_accuracy`` and ``drawn_samples``."""
    found = rundir.read_json(Path(path) / rundir.SUMMARY, {})
    return found if isinstance(found, dict) else {}


def ensure(root: Path | None = None, *, overrides: tuple[str, ...] = (), on_event=None) -> Path:
    """The drawn network's run directory, trained first if the cache has none (``on_event`` as in ``train.fit``)."""
    final = cached(root, overrides)
    if final is not None:
        return final
    final = network_dir(root, overrides)
    from spikevision.runs import train  # only here: serving a trained network needs nothing of training

    partial = final.with_name(f".{final.name}.partial")
    resume = (partial / rundir.CHECKPOINT).is_file()
    cfg = config_mod.resolve(PRESET, list(overrides))
    result = train.fit(cfg, partial, data_root=root, resume=resume, on_event=on_event, progress=on_event is None)
    config, model = rundir.load_run(partial)
    result["drawn_accuracy"] = drawn_accuracy(model, config.train)
    result["drawn_samples"] = DRAWN_PER_CLASS * 10
    rundir.write_json(partial / rundir.SUMMARY, result)
    try:
        os.replace(partial, final)
    except OSError:  # another process finished first: its network is as good
        shutil.rmtree(partial, ignore_errors=True)
    return final


def drawn_accuracy(model: torch.nn.Module, cfg, *, per_class: int = DRAWN_PER_CLASS, seed: int = DRAWN_SEED) -> float:
    """The fraction of ``spikevision.data.drawn`` digits (``per_class`` of each) that ``model`` classifies right.

    Each picture goes through ``preprocess.to_mnist`` and ``inference.trace``, as the play page's do.
    """
    from PIL import Image

    pictures, labels = drawn.digit_set(per_class, seed)
    right = sum(inference.trace(model, cfg, preprocess.to_mnist(Image.fromarray(p)), record=False).prediction == label
                for p, label in zip(pictures, labels.tolist()))
    return right / len(labels)
