"""numba's on-disk cache of the CPU kernels, as this package keeps it: which kernel families are compiled
there (``cached``, ``missing``), and whether a family's parallel build can run yet (``parallel_ready``), which
starts its compile in the background the first time a layer is big enough for threads (``cpu.build``).

Each loop has two builds (``common.Loop``): a serial one that compiles in a few seconds, and a parallel
one that takes 10-20 s. The parallel build compiles in ``python -m spikevision.kernels.numba.warm FAMILY
--parallel`` (``_ParallelCompile``: lowest priority first); the run uses the serial build until it is done and
the parallel one from then on, as does every later process. If that worker fails, the run keeps to the serial
build. The workers themselves are ``warm``'s; this module starts them as processes and never imports
them, so that the engine (``runtime``) can ask it without a circle.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The compiled families, each a module ``numba/<family>.py`` whose loops are ``forward`` and ``backward``: what
# ``warm.compile_family`` leaves in the cache (``lif_linear`` first: it is the slowest to compile).
FAMILIES = ("lif_linear", "lif", "alif", "cuba")
LOOPS = ("forward", "backward")
_PARALLEL = "_parallel"  # the parallel build's name suffix (``Loop.parallel``)
IDLE_GRACE_SECONDS = 10.0  # how long the parallel build's compile runs at the lowest priority
RECHECK_SECONDS = 2.0  # how often a process waiting for another's compile looks at the cache
_background: dict[str, _ParallelCompile] = {}  # family -> its parallel build's compile, as seen here
_parallel_state: dict[str, bool] = {}  # family -> whether its parallel build can run (once known)


def cached(family: str, parallel: bool = False) -> bool:
    """Whether numba's on-disk cache holds every function of ``family`` (of some signature), in the serial
    build or the parallel one."""
    suffix = _PARALLEL if parallel else ""
    found = [path.name for folder in _cache_folders() if folder.is_dir() for path in folder.glob(f"{family}.*.nbi")]
    return all(any(name.startswith(f"{family}.{fn}{suffix}-") for name in found) for fn in LOOPS)


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
    command = [sys.executable, "-m", "spikevision.kernels.numba.warm", family, "--parallel"]
    command += ["--idle"] if idle else []
    # A process group of its own, so that a Ctrl-C for the run leaves it to finish; the same session, since
    # Linux weighs sessions against each other (autogroups) and a low priority counts only inside one.
    own_group = os.name == "posix" and sys.version_info >= (3, 11)  # Popen's process_group: new in 3.11
    group: dict[str, Any] = {"process_group": 0} if own_group else {}
    return subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **group)


def marker_file(family: str) -> Path | None:
    """The file that names the process compiling ``family``'s parallel build, in the first writable cache
    folder (None without one)."""
    folder = next((folder for folder in _cache_folders() if _writable(folder)), None)
    return None if folder is None else folder / f"spikevision-{family}-parallel.pid"


def _compiling_elsewhere(family: str) -> bool:
    """Whether a live process other than this one compiles ``family``'s parallel build now."""
    marker = marker_file(family)
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


def _cache_folders() -> list[Path]:
    """Where numba keeps the loops' cache: in $NUMBA_CACHE_DIR alone where set; else beside the source, or in the
    user's cache folder where the source's is not writable (numba's own order). Outside the source folder numba
    names the loops' folder after the source folder's path (``_CacheLocator.get_suitable_cache_subpath``)."""
    here = Path(os.path.abspath(__file__)).parent  # as numba spells it: absolute, links kept
    subfolder = f"{here.name}_{hashlib.sha1(str(here).encode()).hexdigest()}"
    if os.environ.get("NUMBA_CACHE_DIR"):
        return [Path(os.environ["NUMBA_CACHE_DIR"]) / subfolder]
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"
    return [here / "__pycache__", user / subfolder]


def missing(families) -> list[str]:
    """Those of ``families`` (a network's ``kernel_families``) not compiled yet, in ``FAMILIES`` order; none
    where no cache folder is writable."""
    if not any(_writable(folder) for folder in _cache_folders()):
        return []  # no cache to leave the loops in: the run compiles them itself, as without this module
    wanted = set(families)
    return [family for family in FAMILIES if family in wanted and not cached(family)]


def _writable(folder: Path) -> bool:
    """Whether numba could write its cache in ``folder`` (or make it in the nearest folder that exists)."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return os.access(folder, os.W_OK)
