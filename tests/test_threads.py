"""The thread policy of spikevision's processes (spikevision.runs.threads): what it chooses, and that the user's
choices win. Timings are benchmarks/bench_contention.py's job; these tests check behaviour only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from spikevision import cli
from spikevision.runs import threads


def test_a_quiet_machine_keeps_the_thread_pools_defaults():
    assert threads.choose(2, 0.0) == {} and threads.choose(16, 0.4) == {}
    assert threads.choose(2, None) == {}  # no /proc/stat to read: change nothing


@pytest.mark.parametrize("cores, busy, count", [(2, 1.0, "1"), (2, 0.6, "1"), (16, 4.2, "12"),
                                                (2, 2.0, "2"), (2, 1.7, "2"), (16, 15.8, "16")])  # none free: all
def test_free_cores_are_used_and_waiting_threads_sleep_when_others_keep_cores_busy(cores, busy, count):
    assert threads.choose(cores, busy) == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": count}


@pytest.mark.parametrize("knob", threads.KNOBS)
def test_whatever_the_user_set_wins(knob, monkeypatch):
    monkeypatch.delitem(sys.modules, "torch")  # as before the command loads it
    monkeypatch.setattr(threads, "busy_cores", lambda interval=0.1: 2.0)
    environ = {knob: "3"}
    assert threads.apply(environ=environ) == {} and environ == {knob: "3"}


def test_threads_asked_for_are_used_and_the_wait_still_follows_the_load(monkeypatch):
    import torch

    monkeypatch.setattr(threads, "busy_cores", lambda interval=0.1: 1.0)
    with monkeypatch.context() as before_torch:
        before_torch.delitem(sys.modules, "torch")
        environ = {}
        assert threads.apply(2, environ=environ) == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "2"} == environ
        environ = {"OMP_WAIT_POLICY": "ACTIVE"}  # the user's wait policy stays; the count is the one asked for
        assert threads.apply(2, environ=environ) == {"OMP_NUM_THREADS": "2"}
        assert environ == {"OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": "2"}
    before = torch.get_num_threads()
    try:
        assert threads.apply(1, environ={}) == {"OMP_NUM_THREADS": "1"}
        assert torch.get_num_threads() == 1  # torch was loaded already: its pool takes the count at once
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="--threads must be at least 1"):
        threads.apply(0, environ={})


def test_once_torch_is_loaded_nothing_is_changed_behind_its_back(monkeypatch):
    monkeypatch.setattr(threads, "busy_cores", lambda interval=0.1: 2.0)
    environ = {}
    assert "torch" in sys.modules and threads.apply(environ=environ) == {} and environ == {}


def test_the_busy_cores_are_read_from_the_kernel():
    busy = threads.busy_cores(0.05)
    assert busy is None or 0.0 <= busy <= os.cpu_count() + 1e-9


def test_a_process_beside_cpu_bound_work_chooses_sleeping_threads():
    """A busy loop per core: a fresh process that imports spikevision before torch (as a script or a command
    does) sees them and its threads sleep when idle."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        code = ("import json, os; from spikevision.runs import threads; import torch; "
                "print(json.dumps({**threads.AT_IMPORT, 'torch_threads': torch.get_num_threads()}))")
        env = {k: v for k, v in os.environ.items() if k not in threads.KNOBS}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert done.returncode == 0, done.stderr
    chosen = json.loads(done.stdout)
    assert chosen["OMP_WAIT_POLICY"] == "PASSIVE" and 1 <= int(chosen["OMP_NUM_THREADS"]) <= (os.cpu_count() or 1)
    assert chosen["torch_threads"] == int(chosen["OMP_NUM_THREADS"])  # torch's pool took it when it loaded


def test_a_bad_thread_count_is_one_line(capsys, tmp_path):
    assert cli.main(["evaluate", str(tmp_path), "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "spikevision evaluate: error: --threads must be at least 1, got 0\n"
