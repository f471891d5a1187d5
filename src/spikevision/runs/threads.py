"""How spikevision's own processes use the CPU's threads: decided once, before torch and numba load.

torch's and numba's thread pools are GNU OpenMP's, which read ``OMP_NUM_THREADS``, ``OMP_WAIT_POLICY`` and
``GOMP_SPINCOUNT`` when they load. On a quiet machine their defaults are the fastest. When other processes
keep the cores busy, a pool thread that waits at a barrier spins (libgomp spins 300,000 times before it
sleeps) while the peer it waits for has been descheduled, and a step can take several times as long
(docs/PERFORMANCE.md, "On a busy machine"; ``benchmarks/bench_contention.py`` measures it). So a command
looks, for a tenth of a second, at how busy the cores are before it loads torch: when other work keeps them
busy, the pools sleep at once when idle (``OMP_WAIT_POLICY=PASSIVE``) and use the cores that are free (all
of them when none is); otherwise nothing changes. What the user set wins: any of those variables,
``NUMBA_NUM_THREADS``, or a command's ``--threads N``. ``torchrun``'s ``OMP_NUM_THREADS=1`` per process is
the user's setting too.

From Python the same choice is made when ``import spikevision`` comes before ``import torch`` (the package
calls ``apply()``; ``AT_IMPORT`` holds what it set), or by calling ``apply()`` before torch loads.
"""

from __future__ import annotations

import os
import sys
import time

# The variables the policy sets; a process that already has any of them keeps all of its own choices.
KNOBS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "NUMBA_NUM_THREADS")
BUSY_CORES = 0.5  # others using at least half a core count as sharing the machine
SAMPLE_SECONDS = 0.1
AT_IMPORT: dict[str, str] = {}  # what the package's import set (spikevision/__init__.py)


def busy_cores(interval: float = SAMPLE_SECONDS) -> float | None:
    """How many cores other processes kept busy over ``interval`` seconds (Linux ``/proc/stat``), None elsewhere."""
    first = _cpu_times()
    if first is None:
        return None
    time.sleep(interval)
    second = _cpu_times()
    if second is None:
        return None
    busy, total = second[0] - first[0], second[1] - first[1]  # summed over every CPU of the machine
    return (os.cpu_count() or 1) * busy / total if total > 0 else 0.0


def choose(cores: int, busy: float | None) -> dict[str, str]:
    """The environment for a process on ``cores`` cores while others keep ``busy`` of them busy."""
    if busy is None or busy < BUSY_CORES:
        return {}  # a quiet machine (or one we cannot read): the pools' own defaults are the fastest
    free = cores - busy
    # The free cores; with none free, every core: the scheduler shares each core among the threads on it, so
    # one thread beside two busy processes on two cores gets less of the machine than two (measured).
    count = round(free) if free >= 0.5 else cores
    return {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(max(1, min(cores, count)))}


def apply(threads: int | None = None, environ: dict | None = None) -> dict[str, str]:
    """Set this process's thread policy in ``environ`` (``os.environ``) and return what was set.

    ``threads`` (a command's ``--threads``) fixes the count; the wait still follows the load. Where the user
    set a variable of ``KNOBS`` it is left alone, and once torch is loaded (its pools have read their settings)
    only an asked-for count is applied, through ``torch.set_num_threads``.
    """
    environ = os.environ if environ is None else environ
    if threads is not None and threads < 1:
        from spikevision.errors import InvalidValue

        raise InvalidValue(f"--threads must be at least 1, got {threads}")
    if "torch" in sys.modules:
        if threads is not None:  # a caller in Python: its pool takes the count now
            sys.modules["torch"].set_num_threads(threads)
            environ["OMP_NUM_THREADS"] = str(threads)
            return {"OMP_NUM_THREADS": str(threads)}
        return {}
    chosen = {}
    if not any(knob in environ for knob in KNOBS):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        chosen = choose(cores, busy_cores())
    if threads is not None:
        chosen["OMP_NUM_THREADS"] = str(threads)
    environ.update(chosen)
    return chosen


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from the first line of ``/proc/stat``."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 4:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])
