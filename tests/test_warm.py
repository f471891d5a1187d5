"""A run's CPU kernels compiled before its first step, each family in a worker process of its own
(``kernels.numba.warm``): which families a network runs (``model.kernel_families``), that a worker leaves them in
numba's cache so that a later process running the neurons loads instead of compiling, and that a failed worker
is reported (the run then compiles it itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from spikevision import model
from spikevision.kernels.numba import cache, warm
from spikevision.kernels.numba import runtime as cpu
from spikevision.runs import config

pytestmark = pytest.mark.skipif(not cpu.available(), reason="numba is a dependency; absent only in a broken install")


@pytest.mark.parametrize("preset, overrides, families", [
    ("quick", [], ["lif", "lif_linear"]),                # the fused first layer, then the output LIF
    ("quick", ["train.encoding=rate"], ["lif"]),          # spikes in: no constant current to fuse
    ("quick", ["model.neuron=alif"], ["alif", "lif_linear"]),
    ("quick", ["model.neuron=alif", "model.learn_threshold=layer"], []),  # a learned threshold: the reference loop
    ("quick", ["model.neuron=cuba"], ["cuba", "lif_linear"]),  # the pair runs CUBA's first layer too
    ("quick", ["model.neuron=cuba", "model.hidden=[64,32]"], ["cuba", "lif_linear"]),
    ("quick", ["model.recurrent=true", "model.readout=li", "train.prediction=membrane"], []),  # loops, no kernel
    ("quick", ["model.hidden=[]"], ["lif"]),              # one layer: nothing to pair it with
    ("conv", [], ["lif"]),
    ("conv", ["model.conv=8C5-MP2"], ["lif"]),            # conv neurons are not flat: no pair (it once said so)
])
def test_the_families_a_network_runs_are_those_its_forward_pass_calls(preset, overrides, families, monkeypatch):
    cfg = config.resolve(preset, overrides)
    net = model.build_model(cfg.model, seed=0)
    assert list(net.kernel_families(cfg.train.encoding)) == families
    # The statement is checked against what runs: every family named is called by a forward pass (training
    # or evaluation), and no other.
    called = set()
    fused = model.kernels.sequence
    monkeypatch.setattr(model.kernels, "sequence", lambda engine, family, *a, **k: called.add(family)
                        or fused(engine, family, *a, **k))
    pair = model.kernels.neuron_linear
    monkeypatch.setattr(model.kernels, "neuron_linear", lambda *a, **k: called.add("lif_linear") or pair(*a, **k))
    images = torch.rand(2, *cfg.model.input_shape)
    for training in (True, False):
        net.train(training)
        with torch.set_grad_enabled(training):
            net(images, num_steps=3) if cfg.train.encoding == "direct" else net((torch.rand(3, *images.shape) < 0.5)
                                                                               .float())
    assert called == set(families)


def test_a_worker_fills_the_cache_that_a_later_process_running_neurons_loads_without_compiling(tmp_path,
                                                                                              monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not cache.cached("lif")
    assert warm.compile_in_parallel(list(cache.FAMILIES), workers=2) == []
    assert all(cache.cached(family) for family in cache.FAMILIES)
    # Each family through the neurons' own calls, as a run makes them: every compiled function is loaded from
    # the worker's cache, none compiled again (the worker's kernel-level calls give numba the same signatures).
    probe = """if True:
        import json, torch
        from spikevision import model
        from spikevision.neurons.alif import ALIFParams, alif_sequence
        from spikevision.neurons.cuba import CubaParams, cuba_sequence
        from spikevision.neurons.lif import LIFParams, lif_sequence
        from spikevision.kernels.numba import runtime
        x = torch.rand(4, 3, 5, requires_grad=True)
        lif_sequence(x, None, LIFParams(0.8, 1.0), backend='numba')[0].sum().backward()
        alif_sequence(x, None, ALIFParams(0.8, 1.0), backend='numba')[0].sum().backward()
        cuba_sequence(x, None, CubaParams(0.8, 0.7, 1.0), backend='numba')[0].sum().backward()
        net = model.build_model(model.ModelConfig(kind='mlp', hidden=(6,)), seed=0)
        net(torch.rand(3, 1, 28, 28), num_steps=4).spk.sum().backward()
        loops = [getattr(runtime.loops(family), name).serial for family in ('lif', 'alif', 'cuba', 'lif_linear')
                 for name in ('forward', 'backward')]
        print(json.dumps([[sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values())] for f in loops]))
    """
    out = subprocess.run([sys.executable, "-c", probe], env=dict(os.environ), capture_output=True, text=True,
                         check=True).stdout
    for hits, misses in json.loads(out):
        assert hits >= 1 and misses == 0  # loaded from the worker's cache, not compiled


def test_a_failed_worker_is_reported_for_the_run_to_compile_itself():
    assert warm.compile_in_parallel(["no-such-family"], workers=2) == ["no-such-family"]
    with pytest.raises(ValueError, match="unknown kernel family"):
        warm.compile_family("no-such-family")


def test_without_a_writable_cache_nothing_is_compiled_ahead(tmp_path, monkeypatch):
    assert cache._writable(tmp_path / "not" / "made" / "yet")  # numba makes the folders: their parent decides
    monkeypatch.setattr(cache, "_cache_folders", lambda: [tmp_path / "numba"])
    families = model.build_model(config.resolve("quick").model).kernel_families("direct")
    assert cache.missing(families) == ["lif_linear", "lif"]
    monkeypatch.setattr(cache, "_writable", lambda folder: False)  # as a read-only install with no user cache
    assert cache.missing(families) == []  # workers could leave nothing behind: the run compiles itself


# --- the two builds: serial at once, parallel in the background ---------------------------------------------


def test_a_big_layer_runs_serial_until_the_background_compile_is_done_then_parallel(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv(cpu.LOOPS_ENV, "auto")
    monkeypatch.setattr(cache, "_background", {})
    monkeypatch.setattr(cache, "_parallel_state", {})
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    loop = cpu.loops("lif").forward
    assert cpu.build(loop, 10) is loop.serial  # too small for threads: no compile started
    assert cache._background == {}
    assert cpu.build(loop, cpu.PARALLEL_MIN) is loop.serial  # big: the parallel build compiles meanwhile
    job = cache._background["lif"].job
    assert job.args[-2:] == ["--parallel", "--idle"]
    while not cache._compiling_elsewhere("lif") and job.poll() is None:  # its marker names it once it runs
        time.sleep(0.05)
    assert job.poll() is None and cache.marker_file("lif").read_text() == str(job.pid)
    assert job.wait(timeout=600) == 0 and not cache.marker_file("lif").exists()
    assert cpu.build(loop, cpu.PARALLEL_MIN) is loop.parallel
    assert cache.cached("lif", parallel=True) and not cache.cached("lif")  # the two builds are cached apart


class _Job:
    """A stand-in for a background compile that never ends (or ends with ``returncode``)."""

    def __init__(self, family, idle, returncode=None):
        self.idle, self.killed, self.returncode = idle, False, returncode

    def poll(self):
        return self.returncode

    def kill(self):
        self.killed = True

    def wait(self):
        return -9


@pytest.fixture
def no_compile_yet(monkeypatch, tmp_path):
    """An empty writable cache and no background compile known to this process; returns the jobs started."""
    started = []
    monkeypatch.setattr(cache, "_background", {})
    monkeypatch.setattr(cache, "_parallel_state", {})
    monkeypatch.setattr(cache, "_cache_folders", lambda: [tmp_path])
    monkeypatch.setattr(cache, "_start_background", lambda family, idle: started.append(_Job(family, idle))
                        or started[-1])
    return started


def test_a_run_still_going_after_the_grace_gets_the_compile_at_normal_priority(no_compile_yet, monkeypatch):
    started = no_compile_yet
    assert not cache.parallel_ready("lif") and [job.idle for job in started] == [True]
    monkeypatch.setattr(cache, "IDLE_GRACE_SECONDS", 0.0)
    assert not cache.parallel_ready("lif") and [job.idle for job in started] == [True, False]
    assert started[0].killed
    assert not cache.parallel_ready("lif") and len(started) == 2  # once: the urgent one is left to finish


def test_a_compile_another_process_runs_is_waited_for_not_repeated(no_compile_yet, tmp_path, monkeypatch):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "spikevision-lif_linear-parallel.pid").write_text(str(other.pid))
        assert cache._compiling_elsewhere("lif_linear")
        assert not cache.parallel_ready("lif_linear") and no_compile_yet == []  # theirs, not a second one
        monkeypatch.setattr(cache, "RECHECK_SECONDS", 0.0)
        monkeypatch.setattr(cache, "IDLE_GRACE_SECONDS", 0.0)
        assert not cache.parallel_ready("lif_linear")  # theirs starves beside this run: compiled here too
        assert [job.idle for job in no_compile_yet] == [False]
    finally:
        other.kill()
        other.wait()
    assert not cache._compiling_elsewhere("lif_linear")  # a marker of a process that ended counts for nothing


def test_a_failed_background_compile_keeps_the_serial_build(no_compile_yet, monkeypatch):
    monkeypatch.setattr(cache, "_start_background", lambda family, idle: _Job(family, idle, returncode=1))
    assert not cache.parallel_ready("alif") and not cache.parallel_ready("alif")
    assert cache._parallel_state == {"alif": False}


def test_without_a_writable_cache_no_background_compile_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_background", {})
    monkeypatch.setattr(cache, "_parallel_state", {})
    monkeypatch.setattr(cache, "_cache_folders", lambda: [tmp_path / "numba"])
    monkeypatch.setattr(cache, "_writable", lambda folder: False)
    assert not cache.parallel_ready("cuba") and cache._background == {}


def test_the_build_choice_follows_the_setting_and_refuses_a_bad_one(monkeypatch):
    loop = cpu.loops("lif").backward
    monkeypatch.setenv(cpu.LOOPS_ENV, "serial")
    assert cpu.build(loop, 10**9) is loop.serial
    monkeypatch.setenv(cpu.LOOPS_ENV, "parallel")
    assert cpu.build(loop, 1) is loop.parallel
    monkeypatch.setenv(cpu.LOOPS_ENV, "auto")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert cpu.build(loop, 10**9) is loop.serial  # one thread (torchrun's processes): nothing to share out
    monkeypatch.setenv(cpu.LOOPS_ENV, "fast")
    with pytest.raises(ValueError, match="SPIKEVISION_CPU_LOOPS='fast' is not a choice; use auto, serial or"):
        cpu.build(loop, 10)


def test_compiling_starts_at_once_and_is_waited_for(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    compiling = warm.Compiling(["lif", "no-such-family"], workers=2)
    assert not cache.cached("lif")  # the workers are still starting: the caller goes on meanwhile
    assert compiling.wait() == ["no-such-family"] and cache.cached("lif")
