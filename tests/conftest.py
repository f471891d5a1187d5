"""Shared fixtures: the real datasets, fetched once into the default data root and reused by every run.

Also: Triton's interpreter is switched on where there is no GPU (below).

The data root is the usual one (``$SPIKEVISION_DATA``, else ``~/.cache/spikevision``), so the first run
fetches (mirrors, else the offline packages) and later runs only read. Session-scoped Splits are shared
by all tests: treat their tensors as read-only (``.clone()`` before changing them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Without a GPU the Triton kernels run on CPU tensors through Triton's interpreter, so that every CI run
# tests them (tests/test_kernels.py); with one they run compiled on CUDA tensors. Set before triton loads.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# The subprocesses the tests start (`python -m spikevision ...`) use this process's thread count, so that their
# arithmetic matches the in-process references bit for bit whatever the load: a user-set count turns off
# spikevision.runs.threads' load-dependent choice (tests/test_threads.py tests that choice with these unset).
os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))

# The CPU loops have a serial build and a parallel one, bit for bit the same (tests/test_kernels.py runs each on
# both builds); by default a process runs the serial one until a background process has compiled the parallel
# one (spikevision.kernels.numba.runtime.build). The suite keeps to the serial build, so that no background compile runs
# on its own schedule beside the tests; tests/test_warm.py tests that choice.
os.environ.setdefault("SPIKEVISION_CPU_LOOPS", "serial")

from spikevision import data


@pytest.fixture(params=["serial", "parallel"])
def cpu_build(request, monkeypatch) -> str:
    """Runs a test once with each build of the CPU loops (``kernels.numba.runtime.build``)."""
    monkeypatch.setenv("SPIKEVISION_CPU_LOOPS", request.param)
    return request.param


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """Data root holding verified MNIST in ``<root>/mnist/``; pass it as ``root=`` to `data.load`."""
    root = data.data_root()
    data.fetch("mnist", root)
    return root


@pytest.fixture(scope="session")
def mnist_train(mnist_root: Path) -> data.Split:
    """MNIST train split: images uint8 [60000, 28, 28], labels int64 [60000]. Read-only."""
    return data.load("mnist", "train", mnist_root)


@pytest.fixture(scope="session")
def mnist_test(mnist_root: Path) -> data.Split:
    """MNIST test split: images uint8 [10000, 28, 28], labels int64 [10000]. Read-only."""
    return data.load("mnist", "test", mnist_root)


@pytest.fixture(scope="session")
def fashion_root() -> Path:
    """Data root holding verified Fashion-MNIST in ``<root>/fashion-mnist/``."""
    root = data.data_root()
    data.fetch("fashion-mnist", root)
    return root


TINY_RUN_STEPS = 8


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mnist_root) -> Path:
    """A 784-512-10 run trained for seconds on 1,024 images with 8 time steps (about 80 % test accuracy).

    Shared by several test files: treat it as read-only (copy it before writing into it).
    """
    from spikevision.runs import config, train

    run_dir = tmp_path_factory.mktemp("tiny-run")
    cfg = config.resolve("quick", ["train.train_subset=1024", f"train.num_steps={TINY_RUN_STEPS}"])
    train.fit(cfg, run_dir, data_root=mnist_root)
    return run_dir


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright: the report's and the play page's tests share it."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium. "
                    "Run `make test` as root (it installs it) or `apt-get install chromium`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM),
                                      args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()
