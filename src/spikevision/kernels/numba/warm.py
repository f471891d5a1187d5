"""Compile a run's CPU kernels before its first step, several at once, each in a process of its own; and the
worker that compiles a parallel build in the background (started by ``cache``).

numba compiles one function at a time under a process-wide lock. Before its first step a run compiles the
serial builds it lacks (``Compiling``, started before its data loads): each kernel family in its own ``python
-m spikevision.kernels.numba.warm FAMILY`` process, which runs a tiny forward and backward through the kernels' own
entry points with the argument types a run gives them (so the same signatures: tests/test_warm.py loads each
family from the cache through the neurons' calls) and leaves the result in numba's on-disk cache, from which
the run then loads them; families run side by side on the free cores. Which families a network runs is the
network's to say (``model.kernel_families``); what the cache holds is ``cache``'s. This module knows
kernels only, never neurons or models. If a worker fails, nothing is lost: the run compiles what is missing
itself (serial), or keeps to the serial build (parallel).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import torch

from spikevision.kernels.numba.cache import FAMILIES, marker_file

_SHAPE = (3, 2, 8)  # T, B, N of the tiny inputs: the types, not the sizes, make the signature


def _compile_in_background(family: str, idle: bool) -> None:
    """The ``--parallel`` worker: the parallel build, with a marker file naming this process meanwhile."""
    if idle:
        _lowest_priority()
    marker = marker_file(family)
    if marker is not None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()))
    try:
        compile_family(family, parallel=True)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def _lowest_priority() -> None:
    """Run only on what other processes leave idle (Linux's SCHED_IDLE; the highest niceness elsewhere)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


class Compiling:
    """The serial builds of ``families`` being compiled, up to ``workers`` processes at once, while the caller
    goes on (a run loads its data meanwhile); ``wait`` returns the families whose worker failed."""

    def __init__(self, families: list[str], workers: int):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny inputs: no thread pool worth starting

        def run(family: str) -> bool:
            command = [sys.executable, "-m", "spikevision.kernels.numba.warm", family]
            return subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  check=False).returncode == 0

        self.families = list(families)
        pool = ThreadPoolExecutor(max(1, min(workers, len(families))))
        self._done = [pool.submit(run, family) for family in families]
        pool.shutdown(wait=False)

    def wait(self) -> list[str]:
        return [family for family, done in zip(self.families, self._done) if not done.result()]


def compile_in_parallel(families: list[str], workers: int) -> list[str]:
    """Compile the serial builds of ``families`` in up to ``workers`` processes at once; returns those whose
    worker failed."""
    return Compiling(families, workers).wait()


def compile_family(family: str, parallel: bool = False) -> None:
    """One forward and backward through ``family``'s kernels on tiny float32 inputs, in the chosen build."""
    from spikevision.kernels.numba import runtime as cpu

    if family not in FAMILIES:
        raise ValueError(f"unknown kernel family {family!r}; valid: {', '.join(FAMILIES)}")
    before = os.environ.get(cpu.LOOPS_ENV)
    os.environ[cpu.LOOPS_ENV] = "parallel" if parallel else "serial"
    try:
        _forward_and_backward(family)
    finally:
        if before is None:
            del os.environ[cpu.LOOPS_ENV]
        else:
            os.environ[cpu.LOOPS_ENV] = before
# What the kernels read of a surrogate (its name and parameters): the same kinds of values a run's neurons pass
# (floats, a reset's name), which is what decides numba's signatures, never the values.
_SURROGATE = SimpleNamespace(name="atan", params=(("alpha", 2.0),))


def _forward_and_backward(family: str) -> None:
    from spikevision import kernels

    steps, batch, size = _SHAPE
    current = torch.rand(_SHAPE, requires_grad=True)
    if family == "lif_linear":
        weight = torch.rand(10, size, requires_grad=True)
        out, _ = kernels.lif_linear(current[0], steps, 0.9, 1.0, "subtract", _SURROGATE, weight, torch.zeros(10))
    else:
        record = kernels.FAMILIES[family]
        states = [torch.zeros(batch, size) for _ in record.states]
        out = kernels.sequence("numba", family, current, states, (0.9,) * len(record.coefficients),
                               (0.5,) * len(record.fixed), "subtract", _SURROGATE)[0]
    out.sum().backward()


if __name__ == "__main__":
    if "--parallel" in sys.argv[2:]:
        _compile_in_background(sys.argv[1], idle="--idle" in sys.argv[2:])
    else:
        compile_family(sys.argv[1])
