"""Compile a run's CPU kernels before its first step, several at once, each in a process of its own.

numba compiles one function at a time under a process-wide lock, and a fresh install has four to compile for
the quick network (the fused first layer's forward and backward, the output layer's forward and backward:
most of half a minute on one core). Each kernel family below is compiled by its own ``python -m
spikevision.kernels.warm FAMILY`` process, which runs a tiny forward and backward through the same public
calls a run makes (so the same signatures) and leaves the result in numba's on-disk cache; the run then loads
them from there. Families run side by side on the free cores. If a worker fails, nothing is lost: the run
compiles what is missing itself, as it would have without this module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

# family -> (the loops module, its compiled functions): what ``compile_family`` leaves in the cache.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lif_linear": ("_numba_loops", ("lif_linear_forward", "lif_linear_backward")),
    "lif": ("_numba_loops", ("forward", "backward")),
    "alif": ("_alif_loops", ("forward", "backward")),
    "cuba": ("_cuba_loops", ("forward", "backward")),
}
_SHAPE = (3, 2, 8)  # T, B, N of the tiny inputs: the types, not the sizes, make the signature


def families_used(model: torch.nn.Module, encoding: str) -> list[str]:
    """The kernel families ``model`` runs on the CPU when fed with ``encoding``, in ``FAMILIES`` order."""
    from spikevision.alif import ALIF
    from spikevision.cuba import CubaLIF
    from spikevision.neuron import LIF

    kinds = {type(module) for module in model.modules()}
    used = {"lif"} if LIF in kinds else set()
    used |= {"alif"} if ALIF in kinds else set()
    used |= {"cuba"} if CubaLIF in kinds else set()
    stages = getattr(model, "stages", ())
    if (encoding == "direct" and len(stages) > 1 and type(stages[0].lif) is LIF
            and isinstance(stages[1].synapse, torch.nn.Linear)):
        used.add("lif_linear")  # the fused pair of _SpikingNet._fused_pair
    return [name for name in FAMILIES if name in used]


def cached(family: str) -> bool:
    """Whether numba's on-disk cache holds every function of ``family`` (of some signature)."""
    module, functions = FAMILIES[family]
    found = [path.name for folder in _cache_folders() if folder.is_dir() for path in folder.rglob(f"{module}.*.nbi")]
    return all(any(name.startswith(f"{module}.{fn}-") for name in found) for fn in functions)


def _cache_folders() -> list[Path]:
    """Where numba keeps this package's cache: $NUMBA_CACHE_DIR alone where set; else beside the source, or in
    the user's cache folder where the source's is not writable (numba's own order)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return [Path(os.environ["NUMBA_CACHE_DIR"])]
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"
    return [Path(__file__).parent / "__pycache__", user]


def missing(model: torch.nn.Module, encoding: str) -> list[str]:
    """The families ``model`` uses that are not compiled yet (none where numba is absent)."""
    from spikevision.kernels import cpu

    if not cpu.available() or not any(_writable(folder) for folder in _cache_folders()):
        return []  # no cache to leave the loops in: the run compiles them itself, as without this module
    return [family for family in families_used(model, encoding) if not cached(family)]


def _writable(folder: Path) -> bool:
    """Whether numba could write its cache in ``folder`` (or make it in the nearest folder that exists)."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def compile_in_parallel(families: list[str], workers: int) -> list[str]:
    """Compile ``families`` in up to ``workers`` processes at once; returns those whose worker failed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny inputs: no thread pool worth starting

    def run(family: str) -> bool:
        command = [sys.executable, "-m", "spikevision.kernels.warm", family]
        return subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    with ThreadPoolExecutor(max(1, min(workers, len(families)))) as pool:
        done = list(pool.map(run, families))
    return [family for family, ok in zip(families, done) if not ok]


def compile_family(family: str) -> None:
    """One forward and backward through ``family``'s kernels on tiny float32 inputs."""
    from spikevision import surrogate
    from spikevision.alif import ALIFParams, alif_sequence
    from spikevision.cuba import CubaParams, cuba_sequence
    from spikevision.kernels import lif_linear
    from spikevision.neuron import LIFParams, lif_sequence

    steps, batch, size = _SHAPE
    current = torch.rand(_SHAPE, requires_grad=True)
    if family == "lif_linear":
        weight = torch.rand(10, size, requires_grad=True)
        out, _ = lif_linear(current[0], steps, 0.9, 1.0, "subtract", surrogate.get("atan"), weight, torch.zeros(10))
    elif family == "lif":
        out = lif_sequence(current, None, LIFParams(0.9, 1.0), backend="numba")[0]
    elif family == "alif":
        out = alif_sequence(current, None, ALIFParams(0.9, 1.0), backend="numba")[0]
    elif family == "cuba":
        out = cuba_sequence(current, None, CubaParams(0.9, 0.9, 1.0), backend="numba")[0]
    else:
        raise ValueError(f"unknown kernel family {family!r}; valid: {', '.join(FAMILIES)}")
    out.sum().backward()


if __name__ == "__main__":
    compile_family(sys.argv[1])
