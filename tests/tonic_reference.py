"""tonic 1.7.0, loaded for comparison only: its package ``__init__`` imports datasets that need scipy, h5py and
librosa, so its modules are loaded under a stub package (the transforms need numpy alone). tonic is GPL-3.0:
the tests run it to compare, and nothing of it is copied."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import pytest


def tonic_module(name: str):
    """``tonic.<name>`` (e.g. ``functional.to_frame``, ``transforms``), loaded beside a stub ``tonic`` package;
    ``sys.modules`` is left as it was."""
    spec = importlib.util.find_spec("tonic")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("tonic is not installed: make test installs tonic==1.7.0 with --no-deps (make install-dev)")
    saved = {key: module for key, module in sys.modules.items() if key == "tonic" or key.startswith("tonic.")}
    stub = types.ModuleType("tonic")
    stub.__path__ = list(spec.submodule_search_locations)
    sys.modules["tonic"] = stub
    try:
        return importlib.import_module(f"tonic.{name}")
    finally:
        for key in [k for k in sys.modules if k == "tonic" or k.startswith("tonic.")]:
            del sys.modules[key]
        sys.modules.update(saved)
