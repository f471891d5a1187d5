"""The run directory has one owner (``rundir``), and inference loads runs without the training loop."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from spikevision.runs import rundir


def test_load_run_gives_the_trained_model_on_the_asked_device(tiny_run):
    config, model = rundir.load_run(tiny_run, "cpu")
    assert config == rundir.load_config(tiny_run)
    assert not model.training and all(p.device == torch.device("cpu") for p in model.parameters())
    saved = json.loads((tiny_run / rundir.SUMMARY).read_text())
    assert saved["parameters"] == sum(p.numel() for p in model.parameters())


def test_a_missing_or_empty_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"is not a run directory: no config.json"):
        rundir.load_config(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"run directory .*nope does not exist; train one with"):
        rundir.load_config(tmp_path / "nope")


def test_json_files_are_written_whole_and_read_back_or_defaulted(tmp_path):
    rundir.write_json(tmp_path / "x.json", {"a": [1, 2.5, None]})
    assert rundir.read_json(tmp_path / "x.json") == {"a": [1, 2.5, None]}
    assert list(tmp_path.iterdir()) == [tmp_path / "x.json"]  # no temporary left beside it
    (tmp_path / "bad.json").write_text("{not json")
    assert rundir.read_json(tmp_path / "bad.json", {}) == {} and rundir.read_json(tmp_path / "none.json") is None


@pytest.mark.parametrize("module", [
    "spikevision.analysis.inspection", "spikevision.report", "spikevision.interop.nir",
    "spikevision.interop.agreement", "spikevision.cli.predict_cmd", "spikevision.cli.evaluate_cmd",
    "spikevision.cli.inspect_cmd", "spikevision.analysis.inference", "spikevision.play.server",
    "spikevision.play.drawn_network", "spikevision.cli.play_cmd",
])
def test_inference_never_imports_the_training_loop(module):
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            "from spikevision.runs import rundir, evaluation, inputs; "
            "print('spikevision.runs.train' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_run_records_its_prediction_rule_and_its_accuracy_by_every_rule(tiny_run, tmp_path, mnist_root, capsys):
    import shutil

    from spikevision import cli
    from spikevision.interop import export_run
    from spikevision.runs import config, train

    summary = json.loads((tiny_run / rundir.SUMMARY).read_text())
    assert summary["prediction"] == "spikes_then_membrane"
    assert set(summary["test_accuracy_by_rule"]) == {"spikes_then_membrane", "spikes"}
    assert summary["test_accuracy_by_rule"]["spikes_then_membrane"] == summary["test_accuracy"]
    graph = export_run(tiny_run, tmp_path / "tiny.nir")
    assert graph.metadata["prediction"] == "spikes_then_membrane"
    assert "the output neuron with the most spikes" in graph.metadata["how_to_read"]
    handout_rule = ["train.train_subset=512", "train.num_steps=8", "train.prediction=spikes"]
    other = train.fit(config.resolve("quick", handout_rule),
                      tmp_path / "handout-rule", data_root=mnist_root, progress=False)
    assert other["prediction"] == "spikes" and other["test_accuracy"] == other["test_accuracy_by_rule"]["spikes"]
    shutil.copytree(tiny_run, tmp_path / "copy")  # the shared run stays as it is
    assert cli.main(["evaluate", str(tmp_path / "copy"), "--root", str(mnist_root)]) == 0
    by_rule = summary["test_accuracy_by_rule"]["spikes"] * 100
    assert f"  by the rule 'spikes' (the output neuron with the most spikes, ties to the lowest class index as in " \
           f"the handout): {by_rule:.2f}%" in capsys.readouterr().out


def test_a_saved_evaluation_is_reused_only_when_whole_and_newer_than_the_checkpoint(tmp_path):
    import os

    (tmp_path / rundir.CHECKPOINT).write_bytes(b"weights")
    assert rundir.saved_evaluation(tmp_path) is None  # none yet
    whole = {"accuracy": 0.9, "confusion": [[1]], "classes": ["0"]}
    rundir.write_json(tmp_path / rundir.EVALUATION, whole)
    assert rundir.saved_evaluation(tmp_path) == whole
    later = (tmp_path / rundir.EVALUATION).stat().st_mtime + 10
    os.utime(tmp_path / rundir.CHECKPOINT, (later, later))  # more training since: stale
    assert rundir.saved_evaluation(tmp_path) is None
    (tmp_path / rundir.EVALUATION).write_text("{half")
    os.utime(tmp_path / rundir.EVALUATION, (later + 10, later + 10))
    assert rundir.saved_evaluation(tmp_path) is None  # damaged: made again
