"""The neuron registry (``spikevision.neurons.REGISTRY``) and the one record per kernel family
(``kernels.families``): every registered neuron builds, learns and is drawn by its name alone, and every kernel
family's engines equal the reference loop of every neuron that runs on it, bit for bit."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
import torch

from spikevision import kernels, model, neurons
from spikevision.cli import main
from spikevision.neurons import base
from spikevision.runs import config

TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # conftest.py: the interpreter where there is none
HAS_TRITON = importlib.util.find_spec("triton") is not None


def test_the_names_are_read_without_torch_and_every_name_is_a_neuron():
    code = "import sys, spikevision.neurons as n; print(sorted(n.REGISTRY)); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[1] == "False"  # the command line lists them before any work
    assert set(model.NEURONS) == set(neurons.REGISTRY)
    for name in neurons.REGISTRY:
        kind = neurons.kind(name)
        assert kind.name == name and kind.summary
        assert kind.checked_options({}) == {key: option.default for key, option in kind.options.items()}
    with pytest.raises(ValueError, match="unknown neuron 'hodgkin-huxley'; valid: lif, if, cuba, alif, rf"):
        neurons.kind("hodgkin-huxley")


@pytest.mark.parametrize("name", neurons.REGISTRY)
def test_every_registered_neuron_builds_a_network_that_learns_and_is_drawn(name, tmp_path, capsys):
    cfg = config.resolve("quick", [f"model.neuron={name}", "model.hidden=[24]"])
    net = model.build_model(cfg.model, seed=0)
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2
    out = net(x, num_steps=12, record=True)
    assert out.spk.shape == (12, 6, 10) and out.hidden[0].shape == (12, 6, 24)
    assert float(out.hidden[0].detach().sum()) > 0
    out.mem.square().sum().backward()
    assert float(net.stages[0].synapse.weight.grad.abs().sum()) > 0
    assert main(["neuron", "--model", name, "--input", "rate", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(f"{name.upper()} neuron, rate input")
    assert (tmp_path / "neuron-rate.png").is_file() and (tmp_path / "neuron-rate-beta-threshold.png").is_file()


FUSED = [name for name in neurons.REGISTRY if neurons.kind(name).dynamics.family is not None]


def test_every_kernel_family_is_run_by_a_registered_neuron():
    assert {neurons.kind(name).dynamics.family for name in FUSED} == set(kernels.FAMILIES)


def _inputs(name: str, device: str, constant: bool, steps: int = 9, batch: int = 3, size: int = 300):
    """A current, a state away from rest (the trained states with gradients) and learnable coefficients."""
    kind = neurons.kind(name)
    family = kernels.FAMILIES[kind.dynamics.family]
    g = torch.Generator().manual_seed(steps + 7 * constant)
    source = (torch.rand(batch, size, generator=g) * 0.8) if constant else torch.rand(steps, batch, size, generator=g)
    source = (source * 0.8).to(device).requires_grad_()
    current = source.unsqueeze(0).expand(steps, batch, size) if constant else source
    beta = torch.full((size,), 0.85, device=device, requires_grad=kind.fixed_beta is None)
    threshold = 1.0 if kind.dynamics.family == "alif" else torch.tensor(0.9, device=device, requires_grad=True)
    params = kind.params(beta if kind.fixed_beta is None else 1.0, threshold, kind.checked_options({}))
    rest = kind.dynamics.rest(current[0], kind.dynamics.coefficients(params, current[0]))
    state = kind.dynamics.state(*(
        (value + torch.rand(batch, size, generator=g).to(device) * 0.5).requires_grad_(field in family.trained)
        for field, value in zip(rest._fields, rest)))
    learned = [t for t in (source, beta, threshold, *state) if isinstance(t, torch.Tensor) and t.requires_grad]
    return current, state, params, learned


@pytest.mark.parametrize("constant", [False, True], ids=["current", "constant"])
@pytest.mark.parametrize("engine", ["numba", pytest.param("triton", marks=pytest.mark.skipif(
    not HAS_TRITON, reason="triton is not installed (make test installs it on Linux x86-64)"))])
@pytest.mark.parametrize("name", FUSED)
def test_every_kernel_family_equals_the_reference_loop_bit_for_bit(name, engine, constant):
    """One test for every family and engine, through the one skeleton and the one autograd node: spikes,
    membranes and final states equal; gradients to the current, the learned coefficients and the initial
    states within float rounding (the sums run in another order)."""
    device = TRITON_DEVICE if engine == "triton" else "cpu"
    model_ = neurons.kind(name).dynamics
    results = {}
    for backend in ("reference", engine):
        current, state, params, learned = _inputs(name, device, constant)
        spk, mem, last = base.sequence(model_, current, state, params, backend=backend)
        weights = torch.linspace(-1, 1, spk.shape[-1], device=device)
        loss = (spk * weights).sum() + 0.01 * mem.square().sum() + sum(0.1 * (i + 1) * s.sum() for i, s in
                                                                       enumerate(last) if s.requires_grad)
        results[backend] = (spk, mem, last, torch.autograd.grad(loss, learned))
    (r_spk, r_mem, r_last, r_grads), (k_spk, k_mem, k_last, k_grads) = results["reference"], results[engine]
    assert torch.equal(r_spk, k_spk) and torch.equal(r_mem, k_mem) and float(r_spk.detach().sum()) > 0
    assert all(torch.equal(a, b) for a, b in zip(r_last, k_last))
    assert len(r_grads) == len(k_grads) >= 3
    for ref, got in zip(r_grads, k_grads):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))


def test_the_neuron_layers_are_siblings_and_the_readout_is_no_lif():
    from spikevision.neurons import alif, cuba, layer, lif, readout, resonate

    spiking = [lif.LIF, cuba.CubaLIF, alif.ALIF, resonate.ResonateFire]
    assert all(issubclass(cls, layer.Spiking) for cls in spiking)
    assert not any(issubclass(a, b) for a in spiking for b in spiking if a is not b)
    assert issubclass(readout.LI, layer.Decaying) and not issubclass(readout.LI, layer.Spiking)
    assert not hasattr(readout.LI(0.9), "threshold")  # it never had one to pop
