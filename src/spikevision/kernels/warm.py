"""Compile a run's CPU kernels before its first step, several at once, each in a process of its own; and the
parallel builds later, in the background.

numba compiles one function at a time under a process-wide lock. Each loop has two builds
(``_numba_loops.Loop``): a serial one that compiles in a few seconds, and a parallel one that takes 10-20 s.
Before its first step a run compiles the serial builds it lacks (``Compiling``, started before its data
loads): each kernel family in its own ``python -m spikevision.kernels.warm FAMILY`` process, which runs a
tiny forward and backward through the same public calls a run makes (so the same signatures) and leaves the
result in numba's on-disk cache, from which the run then loads them; families run side by side on the free
cores. The first call on a layer big enough for threads (``cpu.build``) starts ``python -m
spikevision.kernels.warm FAMILY --parallel`` in the background (``_ParallelCompile``: lowest priority first);
the run uses the serial build until it is done and the parallel one from then on, as does every later
process. If a worker fails, nothing is lost: the run compiles what is missing itself (serial), or keeps to the
serial build (parallel).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
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
_PARALLEL = "_parallel"  # the parallel build's name suffix (``Loop.parallel``)
IDLE_GRACE_SECONDS = 10.0  # how long the parallel build's compile runs at the lowest priority
RECHECK_SECONDS = 2.0  # how often a process waiting for another's compile looks at the cache
_background: dict[str, "_ParallelCompile"] = {}  # family -> its parallel build's compile, as seen here
_parallel_state: dict[str, bool] = {}  # family -> whether its parallel build can run (once known)


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


def cached(family: str, parallel: bool = False) -> bool:
    """Whether numba's on-disk cache holds every function of ``family`` (of some signature), in the serial
    build or the parallel one."""
    module, functions = FAMILIES[family]
    suffix = _PARALLEL if parallel else ""
    found = [path.name for folder in _cache_folders() if folder.is_dir() for path in folder.rglob(f"{module}.*.nbi")]
    return all(any(name.startswith(f"{module}.{fn}{suffix}-") for name in found) for fn in functions)


def parallel_ready(family: str) -> bool:
    """Whether ``family``'s parallel build can run now: cached, or compiled by now in the background (see
    ``_ParallelCompile``). Never where no cache folder is writable: the build would be lost."""
    if family not in _parallel_state:
        if family not in _background:
            found = cached(family, parallel=True)
            if found or not any(_writable(folder) for folder in _cache_folders()):
                _parallel_state[family] = found
                return found
            _background[family] = _ParallelCompile(family)
        ready = _background[family].ready()
        if ready is not None:
            _parallel_state[family] = ready
    return _parallel_state.get(family, False)


class _ParallelCompile:
    """One family's parallel build compiled in the background, as one process sees it.

    The compile first runs at the lowest priority, on what the run leaves idle, so that a short run loses
    nothing to it (the next run finds the build); a run still going ``IDLE_GRACE_SECONDS`` later restarts it
    at normal priority, since the rest of a long run gains more than the compile takes. Where another process
    compiles it already (its marker file names a live process: the training before an ``evaluate``), this one
    waits for that, up to the same grace.
    """

    def __init__(self, family: str):
        self.family = family
        self.job: subprocess.Popen | None = None
        self.first_look = time.monotonic()
        self.idle_since: float | None = None  # when our own job started at the lowest priority
        self.looked = -RECHECK_SECONDS  # when another process's compile was last looked at

    def ready(self) -> bool | None:
        """Whether the build can run, once known; None while it compiles."""
        if self.job is None:
            return self._watch_another()
        if self.job.poll() is None:
            if self.idle_since is not None and time.monotonic() - self.idle_since > IDLE_GRACE_SECONDS:
                self.job.kill()  # numba writes its cache files whole (a temporary file renamed): no half file
                self.job.wait()
                self.job, self.idle_since = _start_background(self.family, idle=False), None
            return None
        return self.job.returncode == 0 and cached(self.family, parallel=True)

    def _watch_another(self) -> bool | None:
        now = time.monotonic()
        if now - self.looked < RECHECK_SECONDS:
            return None
        self.looked = now
        if cached(self.family, parallel=True):
            return True
        if not _compiling_elsewhere(self.family):
            self.job, self.idle_since = _start_background(self.family, idle=True), now
        elif now - self.first_look > IDLE_GRACE_SECONDS:  # theirs starves beside this run: compile it here
            self.job = _start_background(self.family, idle=False)
        return None


def _start_background(family: str, idle: bool) -> subprocess.Popen:
    command = [sys.executable, "-m", "spikevision.kernels.warm", family, "--parallel"] + (["--idle"] if idle else [])
    # A process group of its own, so that a Ctrl-C for the run leaves it to finish; the same session, since
    # Linux weighs sessions against each other (autogroups) and a low priority counts only inside one.
    group = {"process_group": 0} if os.name == "posix" and sys.version_info >= (3, 11) else {}  # 3.11's option
    return subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **group)


def _marker(family: str) -> Path | None:
    """The file that names the process compiling ``family``'s parallel build, in the first writable cache
    folder (None without one)."""
    folder = next((folder for folder in _cache_folders() if _writable(folder)), None)
    return None if folder is None else folder / f"spikevision-{family}-parallel.pid"


def _compiling_elsewhere(family: str) -> bool:
    """Whether a live process other than this one compiles ``family``'s parallel build now."""
    marker = _marker(family)
    try:
        pid = int(marker.read_text()) if marker is not None else 0
    except (OSError, ValueError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # no signal: only whether it exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's, alive
    return True


def _compile_in_background(family: str, idle: bool) -> None:
    """The ``--parallel`` worker: the parallel build, with a marker file naming this process meanwhile."""
    if idle:
        _lowest_priority()
    marker = _marker(family)
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


def missing_for(config, encoding: str) -> list[str]:
    """``missing`` for the network a ``ModelConfig`` describes (built here for its layers only)."""
    from spikevision.model import build_model

    return missing(build_model(config, seed=0), encoding)


def _writable(folder: Path) -> bool:
    """Whether numba could write its cache in ``folder`` (or make it in the nearest folder that exists)."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return os.access(folder, os.W_OK)


class Compiling:
    """The serial builds of ``families`` being compiled, up to ``workers`` processes at once, while the caller
    goes on (a run loads its data meanwhile); ``wait`` returns the families whose worker failed."""

    def __init__(self, families: list[str], workers: int):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny inputs: no thread pool worth starting

        def run(family: str) -> bool:
            command = [sys.executable, "-m", "spikevision.kernels.warm", family]
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
    from spikevision.kernels import cpu

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


def _forward_and_backward(family: str) -> None:
    from spikevision import surrogate
    from spikevision.alif import ALIFParams, alif_sequence
    from spikevision.cuba import CubaParams, cuba_sequence
    from spikevision.kernels import lif_linear
    from spikevision.neuron import LIFParams, lif_sequence

    steps, _, size = _SHAPE
    current = torch.rand(_SHAPE, requires_grad=True)
    if family == "lif_linear":
        weight = torch.rand(10, size, requires_grad=True)
        out, _ = lif_linear(current[0], steps, 0.9, 1.0, "subtract", surrogate.get("atan"), weight, torch.zeros(10))
    elif family == "lif":
        out = lif_sequence(current, None, LIFParams(0.9, 1.0), backend="numba")[0]
    elif family == "alif":
        out = alif_sequence(current, None, ALIFParams(0.9, 1.0), backend="numba")[0]
    else:
        out = cuba_sequence(current, None, CubaParams(0.9, 0.9, 1.0), backend="numba")[0]
    out.sum().backward()


if __name__ == "__main__":
    if "--parallel" in sys.argv[2:]:
        _compile_in_background(sys.argv[1], idle="--idle" in sys.argv[2:])
    else:
        compile_family(sys.argv[1])
