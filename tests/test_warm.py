"""A run's CPU kernels compiled before its first step, each family in a worker process of its own
(``kernels.warm``): which families a network runs, that a worker leaves them in numba's cache so that a later
process loads instead of compiling, and that a failed worker is reported (the run then compiles it itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from spikevision import config, model
from spikevision.kernels import cpu, warm

pytestmark = pytest.mark.skipif(not cpu.available(), reason="numba is a dependency; absent only in a broken install")


@pytest.mark.parametrize("overrides, families", [
    ([], ["lif_linear", "lif"]),                           # quick: the fused first layer, then the output LIF
    (["train.encoding=rate"], ["lif"]),                    # spikes in: no constant current to fuse
    (["model.neuron=alif"], ["alif"]),
    (["model.neuron=cuba"], ["cuba"]),
    (["model.recurrent=true", "model.readout=li", "train.prediction=membrane"], []),  # loops, no kernel
])
def test_the_families_a_network_runs(overrides, families):
    cfg = config.resolve("quick", overrides)
    assert warm.families_used(model.build_model(cfg.model), cfg.train.encoding) == families


def test_a_worker_fills_the_cache_that_a_later_process_loads_without_compiling(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not warm.cached("lif")
    assert warm.compile_in_parallel(["lif"], workers=1) == []
    assert warm.cached("lif") and not warm.cached("alif")
    probe = ("import json, torch; from spikevision.neuron import LIFParams, lif_sequence; "
             "from spikevision.kernels import cpu; x = torch.rand(4, 3, 5, requires_grad=True); "
             "lif_sequence(x, None, LIFParams(0.8, 1.0), backend='numba')[0].sum().backward(); "
             "loops = cpu.loops(); print(json.dumps([[sum(f.stats.cache_hits.values()), "
             "sum(f.stats.cache_misses.values())] for f in (loops.forward, loops.backward)]))")
    out = subprocess.run([sys.executable, "-c", probe], env=dict(os.environ), capture_output=True, text=True,
                         check=True).stdout
    for hits, misses in json.loads(out):
        assert hits == 1 and misses == 0  # loaded from the worker's cache, not compiled


def test_a_failed_worker_is_reported_for_the_run_to_compile_itself():
    assert warm.compile_in_parallel(["no-such-family"], workers=2) == ["no-such-family"]
    with pytest.raises(ValueError, match="unknown kernel family"):
        warm.compile_family("no-such-family")


def test_without_a_writable_cache_nothing_is_compiled_ahead(tmp_path, monkeypatch):
    assert warm._writable(tmp_path / "not" / "made" / "yet")  # numba makes the folders: their parent decides
    monkeypatch.setattr(warm, "_cache_folders", lambda: [tmp_path / "numba"])
    net = model.build_model(config.resolve("quick").model)
    assert warm.missing(net, "direct") == ["lif_linear", "lif"]
    monkeypatch.setattr(warm, "_writable", lambda folder: False)  # as a read-only install with no user cache
    assert warm.missing(net, "direct") == []  # workers could leave nothing behind: the run compiles itself
