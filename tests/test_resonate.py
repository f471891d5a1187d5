"""The resonate-and-fire neuron (``neurons.resonate``): the LIF at omega 0, the resonance it is for, a network of
it that learns on MNIST through the reference loop, and the refusals it gives."""

from __future__ import annotations

import math

import pytest
import torch

from spikevision import model
from spikevision.cli import main
from spikevision.neurons import lif, resonate
from spikevision.runs import config


@pytest.mark.parametrize("reset", lif.RESETS)
def test_without_rotation_it_is_the_lif_to_the_bit(reset):
    current = (torch.rand(30, 4, 16, generator=torch.Generator().manual_seed(1)) * 0.7).requires_grad_()
    spk, mem, last = resonate.ResonateFire(0.9, 1.0, omega=0.0, reset=reset)(current)
    want_spk, want_mem, want_last = lif.lif_sequence(current, None, lif.LIFParams(0.9, 1.0, reset),
                                                     backend="reference")
    assert torch.equal(spk, want_spk) and torch.equal(mem, want_mem) and torch.equal(last.mem, want_last.mem)
    assert float(spk.detach().sum()) > 0 and float(last.imag.detach().abs().max()) == 0.0
    grad = torch.autograd.grad(spk.sum() + mem.sum(), current)[0]
    want = torch.autograd.grad(want_spk.sum() + want_mem.sum(), current)[0]
    assert torch.equal(grad, want)


def _pair(interval: int, neuron) -> int:
    """Spikes of ``neuron`` for two input pulses of 0.6, ``interval`` steps apart."""
    current = torch.zeros(40, 1, 1)
    current[5] = current[5 + interval] = 0.6
    return int(neuron(current)[0].sum())


def test_it_fires_for_two_inputs_a_period_apart_and_not_half_a_period_apart():
    period = 10
    rf = resonate.ResonateFire(0.98, 1.0, omega=2 * math.pi / period)
    assert _pair(period, rf) == 1  # the second input arrives as the ringing peaks again: 0.6 + 0.49 > 1
    assert _pair(period // 2, rf) == 0  # it arrives at the trough and cancels the first
    assert _pair(period, resonate.ResonateFire(0.98, 1.0, omega=2 * math.pi / 7)) == 0  # another rhythm
    leaky = lif.LIF(0.98, 1.0)  # the LIF prefers the closer pair: it has no rhythm
    assert _pair(period // 2, leaky) == 1 and _pair(3 * period, leaky) == 0


def test_the_state_turns_by_omega_and_shrinks_by_beta():
    params = resonate.RFParams(0.9, 10.0, omega=0.5)
    spk, state = resonate.advance(torch.tensor([1.0]), resonate.initial_state(torch.zeros(1)), torch.zeros(1),
                                  (0.9, 10.0), params)
    for step in range(1, 6):
        spk, state = resonate.advance(torch.zeros(1), state, spk.detach(), (0.9, 10.0), params)
        z = 0.9**step * complex(math.cos(0.5 * step), math.sin(0.5 * step))
        assert math.isclose(float(state.mem), z.real, abs_tol=1e-6)
        assert math.isclose(float(state.imag), z.imag, abs_tol=1e-6)


def test_a_network_of_it_is_chosen_by_name_and_learns_mnist_through_the_reference_loop(mnist_test):
    cfg = config.resolve("quick", ["model.neuron=rf", "model.neuron_options.omega=0.3", "model.hidden=[64]",
                                   "model.learn_beta=layer"])
    torch.manual_seed(0)
    net = model.build_model(cfg.model, seed=0)
    assert isinstance(net.stages[0].lif, resonate.ResonateFire) and net.stages[0].lif.omega == 0.3
    assert net.kernel_families("direct") == ()  # no fused kernel: the reference loop runs it
    images = mnist_test.images[:256].float().div(255).unsqueeze(1)
    labels = mnist_test.labels[:256].long()
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)

    def loss_and_accuracy():
        out = net(images, num_steps=10)
        counts = out.spk.sum(0)
        return torch.nn.functional.cross_entropy(counts, labels), float((counts.argmax(1) == labels).float().mean())

    with torch.no_grad():
        before, accuracy_before = loss_and_accuracy()
    for _ in range(30):
        optimizer.zero_grad()
        loss, _ = loss_and_accuracy()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after, accuracy_after = loss_and_accuracy()
    assert float(after) < 0.7 * float(before) and accuracy_after > accuracy_before + 0.3
    assert net.stages[0].lif.beta.grad is not None


def test_bad_options_and_a_network_nir_cannot_hold_are_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"omega must be a number in \[0, pi\], got 4"):
        config.resolve("quick", ["model.neuron=rf", "model.neuron_options.omega=4"])
    with pytest.raises(ValueError, match="neuron 'cuba' has no option 'omega'; its options: alpha"):
        config.resolve("quick", ["model.neuron=cuba", "model.neuron_options={omega = 0.3}"])
    with pytest.raises(ValueError, match="alpha is a field of its own: set model.alpha"):
        config.resolve("quick", ["model.neuron=cuba", "model.neuron_options={alpha = 0.3}"])
    with pytest.raises(ValueError, match="RF neurons have no fused kernel: they run the reference loop"):
        resonate.ResonateFire()(torch.zeros(3, 1, 2), backend="numba")
    pytest.importorskip("nir")
    from spikevision.interop import nir as nir_io

    net = model.build_model(config.resolve("quick", ["model.neuron=rf"]).model, seed=0)
    with pytest.raises(ValueError, match="NIR has no node for a ResonateFire neuron.*model.neuron=rf"):
        nir_io.to_nir(net)
    assert main(["neuron", "--model", "rf", "--out", str(tmp_path)]) == 0
    assert "omega 0.2" in capsys.readouterr().out
