"""The leaky-integrator readout (model.readout = "li"): its equation, the networks that use it, their rule and
loss, and its NIR node."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch

from spikevision import cli, metrics
from spikevision.interop import from_nir, to_nir
from spikevision.model import ModelConfig, build_model
from spikevision.neurons.readout import LI
from spikevision.runs import config, train


def test_the_readout_integrates_its_current_with_a_leak_and_never_spikes():
    torch.manual_seed(0)
    current = torch.randn(30, 4, 10) * 3
    spk, mem, state = LI(0.8)(current)
    want, m = [], torch.zeros(4, 10)
    for cur in current:
        m = 0.8 * m + cur
        want.append(m)
    assert torch.equal(mem, torch.stack(want)) and torch.equal(state.mem, mem[-1])
    assert not spk.any()  # however large the membrane
    step_spk, step_state = LI(0.8).step(current[0])
    assert torch.equal(step_state.mem, current[0]) and not step_spk.any()


def test_a_learnable_readout_decay_gets_a_gradient():
    layer = LI(0.9, learn_beta="layer")
    _, mem, _ = layer(torch.rand(12, 3, 10))
    mem.mean(0).logsumexp(1).sum().backward()
    assert layer.beta.grad is not None and layer.beta.grad != 0


def test_a_network_with_the_readout_reads_its_class_from_membranes():
    model = build_model(ModelConfig(hidden=(32,), readout="li"), seed=0).eval()
    assert isinstance(model.stages[-1].lif, LI) and not isinstance(model.stages[0].lif, LI)
    with torch.no_grad():
        out = model(torch.rand(6, 1, 28, 28), num_steps=8)
    assert out.spk.shape == out.mem.shape == (8, 6, 10) and not out.spk.any()
    assert torch.equal(metrics.predict(out.spk, out.mem, "membrane"), out.mem.mean(0).argmax(1))
    from spikevision.analysis.inspection import output_threshold

    assert output_threshold(model) is None  # pictures draw no firing threshold for a readout that never fires


@pytest.mark.parametrize("overrides, message", [
    (["model.readout=li"], "needs train.loss = membrane_ce or mean_membrane_ce and train.prediction = membrane"),
    (["model.readout=li", "train.prediction=membrane", "train.loss=count_ce"], "has no output spikes"),
    (["model.readout=rate"], "readout must be one of spikes, li"),
])
def test_a_readout_without_spikes_refuses_what_counts_spikes(overrides, message):
    with pytest.raises(ValueError, match=message):
        config.resolve("quick", overrides)


def test_the_readout_is_nir_li_and_comes_back_as_itself():
    model = build_model(ModelConfig(hidden=(24,), readout="li", reset="zero", threshold=1.5), seed=1).eval()
    graph = to_nir(model)
    node = graph.nodes["fc2_lif"]
    assert isinstance(node, nir.LI) and np.allclose(1 - 1e-4 / node.tau, 0.95) and np.allclose(node.r, node.tau / 1e-4)
    back = from_nir(graph)
    assert graph.metadata["readout"] == "li"
    assert (back.config.readout, back.config.threshold, back.config.reset) == ("li", 1.5, "zero")
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(back(x, num_steps=9).mem, model(x, num_steps=9).mem)
    graph.nodes["fc1_lif"] = nir.LI(tau=np.full(24, 1e-3), r=np.full(24, 10.0), v_leak=np.zeros(24))
    with pytest.raises(ValueError, match="reads LI as the readout, the last layer, only"):
        from_nir(graph)


def test_a_trained_readout_network_is_evaluated_and_exported_by_its_own_rule(tmp_path, mnist_root, capsys):
    run = tmp_path / "li"
    overrides = ["model.readout=li", "train.prediction=membrane", "train.train_subset=2048",
                 "model.hidden=[64]", "train.num_steps=10"]
    train.fit(config.resolve("quick", overrides), run, data_root=mnist_root)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["prediction"] == "membrane" and set(summary["test_accuracy_by_rule"]) == {"membrane"}
    assert summary["test_accuracy"] > 0.75  # trained, not chance
    assert cli.main(["export", str(run), "--out", str(tmp_path / "li.nir"), "--root", str(mnist_root)]) == 0
    assert "the readout is NIR's LI node" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "li.nir"), "--root", str(mnist_root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-4)
