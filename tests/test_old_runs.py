"""Run directories saved before the modules moved into packages (tests/fixtures/runs-2026-12-07, made by
``spikevision train`` at commit 2ca9868, the flat layout) load unchanged: the same tensors under the same
names, and the network they hold is the trained one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from spikevision import cli, data
from spikevision.runs import evaluation, rundir
from spikevision.runs.inputs import TensorData

OLD_RUNS = Path(__file__).parent / "fixtures" / "runs-2026-12-07"


@pytest.mark.parametrize("name", ["mlp-alif-plif-li", "cnn-cuba"])
def test_a_run_saved_by_the_flat_layout_loads_unchanged_and_evaluates_as_trained(name, mnist_root):
    run = OLD_RUNS / name
    config, model = rundir.load_run(run)
    saved = {key.removeprefix("model."): value for key, value in load_file(run / rundir.CHECKPOINT).items()
             if key.startswith("model.")}
    state = model.state_dict()
    assert saved and set(saved) == set(state)  # every tensor under the name it was saved with, none new
    assert all(torch.equal(state[key], value) for key, value in saved.items())
    summary = json.loads((run / rundir.SUMMARY).read_text())
    result = evaluation.evaluate(model, TensorData.from_split(data.load("mnist", "test", mnist_root)), config.train)
    # The trained network (10 % would be an untrained one); another processor's rounding may move an image or two.
    assert abs(result["accuracy"] - summary["test_accuracy"]) <= 0.01


def test_an_old_run_is_resumed_and_reported_by_todays_commands(tmp_path, mnist_root, capsys):
    run = tmp_path / "run"
    shutil.copytree(OLD_RUNS / "mlp-alif-plif-li", run)
    assert cli.main(["train", "--out", str(run), "--root", str(mnist_root), "--resume", "--quiet"]) == 0
    assert "is already finished" in capsys.readouterr().out
    assert (run / "loss.png").is_file() and (run / "accuracy.png").is_file()  # drawn again from its metrics
