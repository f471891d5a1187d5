"""The runs a play server was given: one run directory, or every run found in a directory of runs.

Runs are named by their path below the given directory and loaded on first use (then kept), so a server
given a folder of many runs starts at once. Only these runs are ever read: a request names a run by its
name from this list, never by a path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from spikevision.analysis import inference
from spikevision.errors import InvalidValue, NotFound
from spikevision.runs import rundir

SEARCH_DEPTH = 3  # levels of folders below a directory of runs searched for run directories


@dataclass(frozen=True)
class RunEntry:
    """A run the server offers: its name on the page and its directory."""

    name: str
    path: Path


def is_run(path: Path) -> bool:
    """Whether ``path`` is a run directory with a trained model (its config and checkpoint)."""
    return (path / rundir.CONFIG).is_file() and (path / rundir.CHECKPOINT).is_file()


def find_runs(path: Path) -> list[RunEntry]:
    """``path`` itself when it is a run, else the runs below it (up to ``SEARCH_DEPTH`` levels), sorted by name."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"{path}: no such run directory")
    if not path.is_dir():
        raise InvalidValue(f"{path} is a file; give a run directory (made by spikevision train) or a folder of runs")
    if is_run(path):
        return [RunEntry(path.resolve().name or "run", path)]
    found = []
    frontier = [path]
    for _ in range(SEARCH_DEPTH):
        below = sorted(p for d in frontier for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
        found += [p for p in below if is_run(p)]
        frontier = [p for p in below if not is_run(p)]
    if not found:
        raise InvalidValue(f"{path} holds no trained run (a folder with {rundir.CONFIG} and {rundir.CHECKPOINT}); "
                           "train one with: spikevision train --preset quick")
    return sorted((RunEntry(p.relative_to(path).as_posix(), p) for p in found), key=lambda e: e.name)


class RunLibrary:
    """The runs by name, each loaded on first use on ``device`` and kept; safe to use from several threads."""

    def __init__(self, entries: list[RunEntry], device: str = "cpu") -> None:
        if not entries:
            raise InvalidValue("a play server needs at least one run")
        self.entries = {e.name: e for e in entries}
        self.device = device
        self._loaded: dict[str, tuple] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    def get(self, name: str):
        """``(RunConfig, model, lock)`` of run ``name``: the lock is held while the model runs."""
        if name not in self.entries:
            raise NotFound(f"no run named {name!r}; this server has: {', '.join(self.entries)}", reason="unknown_run",
                           name=name)
        with self._lock:
            if name not in self._loaded:
                config, model = rundir.load_run(self.entries[name].path, self.device)
                # One blank picture first: the kernels' first call compiles or warms up, not the user's first.
                inference.trace(model, config.train, torch.zeros(1, 28, 28))
                self._loaded[name] = (config, model, threading.Lock())
            return self._loaded[name]

    def summary(self, name: str) -> dict:
        """The run's summary.json (its test accuracy and more), or {} when it has none."""
        summary = rundir.read_json(self.entries[name].path / rundir.SUMMARY, {})
        return summary if isinstance(summary, dict) else {}
