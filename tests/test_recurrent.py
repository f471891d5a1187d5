"""Recurrent LIF (``spikevision.neurons.recurrent``): snnTorch 1.0.0's RLeaky to the bit, gradients through the
recurrence, models with recurrent hidden layers, and the refusals.

Where the two differ: reset to zero. Ours zeroes the old membrane (as our LIF and NIR's reset do); RLeaky's
default (``reset_delay=True``) zeroes the new one, the step's input and recurrent current included; with
``reset_delay=False`` (reset at once, as NIR means) it fires our spikes.
"""

from __future__ import annotations

import pytest
import snntorch as snn
import torch

from spikevision import model
from spikevision.neurons.recurrent import RecurrentLIF
from spikevision.runs import config

T, B, N = 30, 4, 40


def _pair(reset: str, delay: bool = True):
    torch.manual_seed(0)
    ours = RecurrentLIF(N, 0.9, 1.0, reset=reset)
    theirs = snn.RLeaky(beta=0.9, threshold=1.0, linear_features=N, reset_mechanism=reset, reset_delay=delay)
    theirs.recurrent.load_state_dict(ours.recurrent.state_dict())
    return ours, theirs


def _run_theirs(theirs, current):
    spk, mem = theirs.init_rleaky()
    spikes, mems = [], []
    for step in current:
        spk, mem = theirs(step, spk, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_equal_to_snntorch_rleaky_to_the_bit_with_gradients(reset):
    current = (torch.rand(T, B, N, generator=torch.Generator().manual_seed(1)) * 0.5).requires_grad_()
    ours, theirs = _pair(reset)
    spk, mem, _ = ours(current)
    their_spk, their_mem = _run_theirs(theirs, current)
    assert torch.equal(spk, their_spk) and torch.equal(mem, their_mem) and spk.sum() > 100
    ours_grad = torch.autograd.grad((spk.sum() + mem.sum()), [current, ours.recurrent.weight])
    theirs_grad = torch.autograd.grad((their_spk.sum() + their_mem.sum()), [current, theirs.recurrent.weight])
    for a, b in zip(ours_grad, theirs_grad):
        torch.testing.assert_close(a, b)
    assert float(ours_grad[1].abs().sum()) > 0  # the recurrent weight learns: spikes carry their gradient


def test_reset_to_zero_fires_the_spikes_of_rleaky_resetting_at_once():
    current = torch.rand(T, B, N, generator=torch.Generator().manual_seed(2))
    ours, immediate = _pair("zero", delay=False)
    spk, _, _ = ours(current)
    their_spk, _ = _run_theirs(immediate, current)
    assert torch.equal(spk, their_spk) and spk.sum() > 100
    _, delayed = _pair("zero", delay=True)
    assert not torch.equal(spk, _run_theirs(delayed, current)[0])  # RLeaky's default zeroes the new membrane


def test_with_a_zero_recurrent_weight_it_is_the_lif():
    from spikevision.neurons.lif import LIFParams, lif_sequence

    layer = RecurrentLIF(N, 0.9, 1.0)
    with torch.no_grad():
        layer.recurrent.weight.zero_()
        layer.recurrent.bias.zero_()
    current = torch.rand(T, B, N, generator=torch.Generator().manual_seed(3))
    spk, mem, _ = layer(current)
    lif_spk, lif_mem, _ = lif_sequence(current, None, LIFParams(0.9, 1.0))
    assert torch.equal(spk, lif_spk) and torch.allclose(mem, lif_mem, atol=1e-6)


def test_a_recurrent_model_trains_and_its_hidden_layers_only_are_recurrent(tmp_path, mnist_root):
    from spikevision.runs import rundir, train

    cfg = config.resolve("quick", ["model.recurrent=true", "model.hidden=[64, 32]", "train.num_steps=8",
                                   "train.train_subset=2048", "train.eval_batch_size=5000"])
    net = model.build_model(cfg.model)
    kinds = [type(stage.lif).__name__ for stage in net.stages]
    assert kinds == ["RecurrentLIF", "RecurrentLIF", "LIF"]
    summary = train.fit(cfg, tmp_path / "run", data_root=mnist_root, progress=False)
    _, trained = rundir.load_run(tmp_path / "run")
    assert summary["test_accuracy"] > 0.4  # learns (chance is 0.1) in seconds on 2,048 images
    assert not torch.equal(trained.stages[0].lif.recurrent.weight, net.stages[0].lif.recurrent.weight)


def test_recurrent_is_refused_where_it_does_not_apply(tmp_path):
    with pytest.raises(ValueError, match="needs neuron = lif or alif"):
        config.resolve("quick", ["model.recurrent=true", "model.neuron=cuba"])
    with pytest.raises(ValueError, match="at least one hidden width"):
        config.resolve("quick", ["model.recurrent=true", "model.hidden=[]"])
    with pytest.raises(ValueError, match="recurrent must be true or false"):
        model.ModelConfig(recurrent=1)
    layer = RecurrentLIF(N)
    with pytest.raises(ValueError, match="takes currents"):
        layer(torch.zeros(3, 2, N + 1))
    with pytest.raises(ValueError, match="run it over a sequence"):
        layer.step(torch.zeros(2, N))
    from spikevision.interop import to_nir

    net = model.build_model(config.resolve("quick", ["model.recurrent=true", "model.hidden=[8]"]).model)
    subgraph = to_nir(net).nodes["fc1_lif"]  # NIR export: tests/test_interop.py runs it in snnTorch and SpikingJelly
    assert set(subgraph.nodes) == {"input", "lif", "w_rec", "output"} and ("w_rec", "lif") in subgraph.edges


def test_recurrent_alif_with_a_zero_recurrent_weight_is_the_alif():
    from spikevision.neurons.alif import ALIFParams, alif_sequence
    from spikevision.neurons.recurrent import RecurrentALIF

    layer = RecurrentALIF(N, 0.9, 1.0, adapt_decay=0.9, adapt_step=0.3)
    with torch.no_grad():
        layer.recurrent.weight.zero_()
        layer.recurrent.bias.zero_()
    current = torch.rand(T, B, N, generator=torch.Generator().manual_seed(4))
    spk, mem, state = layer(current)
    ref_spk, ref_mem, ref_state = alif_sequence(current, None, ALIFParams(0.9, 1.0, 0.9, 0.3), backend="reference")
    assert torch.equal(spk, ref_spk) and torch.equal(mem, ref_mem) and torch.equal(state.thr, ref_state.thr)
    assert spk.sum() > 100 and float(state.thr.max()) > 1.0  # it fired, and its thresholds rose


def test_recurrent_alif_without_adaptation_fires_the_recurrent_lif_spikes_and_learns_its_weight():
    from spikevision.neurons.recurrent import RecurrentALIF

    torch.manual_seed(5)
    plain = RecurrentLIF(N, 0.9, 1.0)
    adaptive = RecurrentALIF(N, 0.9, 1.0, adapt_step=0.0)
    adaptive.recurrent.load_state_dict(plain.recurrent.state_dict())
    current = (torch.rand(T, B, N, generator=torch.Generator().manual_seed(6)) * 0.5).requires_grad_()
    spk, mem, _ = plain(current)
    a_spk, a_mem, _ = adaptive(current)
    assert torch.equal(spk, a_spk) and spk.sum() > 100
    torch.testing.assert_close(mem, a_mem)  # the same sums, added in another order
    grad = torch.autograd.grad(a_spk.sum() + a_mem.sum(), adaptive.recurrent.weight)[0]
    assert float(grad.abs().sum()) > 0  # the gradient flows through the recurrence


def test_a_recurrent_alif_model_builds_recurrent_adaptive_hidden_layers_and_is_not_exported():
    from spikevision.interop import to_nir

    cfg = config.resolve("quick", ["model.recurrent=true", "model.neuron=alif", "model.hidden=[16, 8]"])
    net = model.build_model(cfg.model)
    assert [type(stage.lif).__name__ for stage in net.stages] == ["RecurrentALIF", "RecurrentALIF", "ALIF"]
    out = net(torch.rand(2, 1, 28, 28), num_steps=5)
    assert out.spk.shape == (5, 2, 10)
    with pytest.raises(ValueError, match="NIR has no adaptive-threshold neuron"):
        to_nir(net)
