"""Spiking networks: shapes, direct == repeated input, the handout's Net in snnTorch, gradients, config."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import snntorch as snn
import torch
from torch import nn

from spikevision import kernels
from spikevision.model import (
    ModelConfig,
    ModelOutput,
    SpikingCNN,
    SpikingMLP,
    build_model,
    conv_plan,
)

TUTORIAL_CNN = ModelConfig(kind="cnn", conv="12C5-MP2-64C5-MP2", hidden=())
STRONG_CNN = ModelConfig(kind="cnn", conv="32C3-BN-32C3-BN-MP2-64C3-BN-64C3-BN-MP2", padding="same",
                         hidden=(128,), dropout=0.2, learn_beta="neuron", learn_threshold="layer")
DEEP_CNN = ModelConfig(kind="cnn", conv="4C3-BN-4C3-BN-MP2-8C3-BN-8C3-BN-MP2", padding="same",  # small, quick
                       hidden=(16,), dropout=0.2, learn_beta="neuron", learn_threshold="layer")


def _images(batch: int, seed: int = 0, gain: float = 1.0) -> torch.Tensor:
    return torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * gain


# --- shapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("config, hidden_shapes", [
    (ModelConfig(), [(512,)]),
    (ModelConfig(hidden=(1000,), beta=0.99), [(1000,)]),
    (ModelConfig(hidden=(800, 800)), [(800,), (800,)]),
    (ModelConfig(hidden=()), []),
    (TUTORIAL_CNN, [(12, 12, 12), (64, 4, 4)]),
    (STRONG_CNN, [(32, 28, 28), (32, 14, 14), (64, 14, 14), (64, 7, 7), (128,)]),
])
def test_output_shapes_for_static_and_sequence_input(config, hidden_shapes):
    model = build_model(config, seed=0)
    assert isinstance(model, SpikingMLP if config.kind == "mlp" else SpikingCNN)
    T, B = 4, 3
    for x, steps in ((_images(B), T), (torch.rand(T, B, 1, 28, 28).round(), None)):
        out = model(x, num_steps=steps, record=True)
        assert isinstance(out, ModelOutput)
        assert out.spk.shape == out.mem.shape == (T, B, 10)
        assert [tuple(h.shape) for h in out.hidden] == [(T, B, *s) for s in hidden_shapes]
        assert set(out.spk.unique().tolist()) <= {0.0, 1.0}
        assert model(x, num_steps=steps).hidden == ()
    assert model.lif_shapes == (*hidden_shapes, (10,))


def test_the_handouts_sizes():
    # 784-512-10 and 784-1000-10: weights and biases of both Linear layers.
    count = sum(p.numel() for p in build_model(ModelConfig(), seed=0).parameters())
    assert count == 784 * 512 + 512 + 512 * 10 + 10
    count = sum(p.numel() for p in build_model(ModelConfig(hidden=(1000,)), seed=0).parameters())
    assert count == 784 * 1000 + 1000 + 1000 * 10 + 10


# --- direct input == the same image repeated --------------------------------------------------------


@pytest.mark.parametrize("config", [ModelConfig(hidden=(64, 32)), TUTORIAL_CNN, DEEP_CNN])
def test_direct_input_equals_the_image_repeated_as_a_sequence(config):
    model = build_model(config, seed=1).double().eval()  # eval: dropout off, BN from running stats
    x = _images(5, seed=2, gain=3.0).double()
    direct = model(x, num_steps=12, record=True)
    repeated = model(x.unsqueeze(0).expand(12, *x.shape).contiguous(), record=True)
    assert direct.hidden[0].sum() > 0
    assert torch.equal(direct.spk, repeated.spk)
    torch.testing.assert_close(direct.mem, repeated.mem, rtol=1e-12, atol=1e-12)
    for a, b in zip(direct.hidden, repeated.hidden):
        assert torch.equal(a, b)


def test_direct_input_computes_the_first_current_once():
    model = build_model(ModelConfig(hidden=(16,)), seed=0)
    calls = []
    model.stages[0].synapse.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape))
    model(_images(3), num_steps=50)
    assert calls == [torch.Size([3, 784])]


# --- equality with the handout's Net in snnTorch ------------------------------------------------------


class HandoutNet(nn.Module):
    """Section 6 of the handout, as written there (784-512-10, beta 0.95, snn.Leaky defaults)."""

    def __init__(self, num_steps: int):
        super().__init__()
        self.num_steps = num_steps
        self.fc1 = nn.Linear(784, 512)
        self.lif1 = snn.Leaky(beta=0.95)
        self.fc2 = nn.Linear(512, 10)
        self.lif2 = snn.Leaky(beta=0.95)

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for _ in range(self.num_steps):
            cur1 = self.fc1(x)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


@pytest.mark.parametrize("fused", [True, False], ids=["fused-pair", "unfused"])
def test_handout_net_with_copied_weights_gives_identical_spikes_membranes_and_gradients(fused, monkeypatch):
    """The unfused path equals snnTorch bit for bit; the fused pair (kernels.lif_linear, the default here)
    sums the output current in another order, so its output membranes agree to float32 rounding."""
    calls = _count_fused_calls(monkeypatch, enabled=fused)
    T, B = 60, 16
    model = build_model(ModelConfig(hidden=(512,), beta=0.95), seed=3)
    net = HandoutNet(T)
    net.load_state_dict({
        "fc1.weight": model.stages[0].synapse.weight, "fc1.bias": model.stages[0].synapse.bias,
        "fc2.weight": model.stages[1].synapse.weight, "fc2.bias": model.stages[1].synapse.bias,
    }, strict=False)
    x = _images(B, seed=4, gain=2.0)
    targets = torch.randint(0, 10, (B,), generator=torch.Generator().manual_seed(5))

    spk_ref, mem_ref = net(x.view(B, -1))
    out = model(x, num_steps=T)
    assert out.spk.sum() > 0 and spk_ref.sum() > 0
    assert torch.equal(out.spk, spk_ref)
    if fused:
        torch.testing.assert_close(out.mem, mem_ref, rtol=1e-5, atol=1e-5)
    else:
        assert torch.equal(out.mem, mem_ref)
    assert calls == ([1] if fused else [])

    def handout_loss(mem):  # sum over steps of cross-entropy of the output membrane
        return sum(nn.functional.cross_entropy(mem[t], targets) for t in range(T))

    handout_loss(mem_ref).backward()
    handout_loss(out.mem).backward()
    # Gradients agree to float32 rounding: snnTorch sums fc1's gradient over T matmuls, we expand the
    # current once and take one matmul of the summed gradient, so the roundings differ.
    for ours, theirs in ((model.stages[0].synapse, net.fc1), (model.stages[1].synapse, net.fc2)):
        for a, b in ((ours.weight.grad, theirs.weight.grad), (ours.bias.grad, theirs.bias.grad)):
            assert b.abs().max() > 0
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())


def test_where_the_kernels_choose_triton_the_fused_pair_runs_in_triton_and_equals_the_unfused_path(monkeypatch):
    """``kernels.select`` answers "triton" (as it does on a GPU), and the first pair runs the Triton
    ``lif_linear``: on CUDA tensors where there is a GPU, else on CPU tensors under Triton's interpreter."""
    pytest.importorskip("triton", reason="triton is not installed (make test installs it on Linux x86-64)")
    device = "cuda" if torch.cuda.is_available() else "cpu"  # conftest.py: the interpreter where there is none
    engines, real = [], kernels.neuron_linear

    def recorded(*args, **kwargs):
        engines.append(kwargs["engine"])
        return real(*args, **kwargs)

    monkeypatch.setattr(kernels, "neuron_linear", recorded)
    model = build_model(ModelConfig(hidden=(100,), beta=0.9), seed=3).to(device)
    x, targets = _images(12, seed=4, gain=2.0).to(device), torch.arange(12, device=device) % 10
    results = {}
    for engine in ("triton", "reference"):
        monkeypatch.setattr(kernels, "select", lambda *args, engine=engine: engine)
        model.zero_grad()
        out = model(x, num_steps=15)
        sum(nn.functional.cross_entropy(m, targets) for m in out.mem).backward()
        results[engine] = out, [p.grad.clone() for p in model.parameters()]
    assert engines == ["triton"]
    (fused, fused_grads), (plain, plain_grads) = results["triton"], results["reference"]
    assert torch.equal(fused.spk, plain.spk) and plain.spk.sum() > 0
    torch.testing.assert_close(fused.mem, plain.mem, rtol=1e-5, atol=1e-5)
    for a, b in zip(fused_grads, plain_grads):
        assert b.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())


def _count_fused_calls(monkeypatch, enabled: bool) -> list:
    """Record each call of the fused pair kernel in the returned list; ``enabled=False`` turns it off."""
    calls = []
    real = kernels.neuron_linear

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(kernels, "neuron_linear", counted)
    if not enabled:
        monkeypatch.setattr(kernels, "pair_supported", lambda *args: False)
    return calls


# fused_forwards: how many of the two forwards (with gradients, then recording without) run the fused pair.
@pytest.mark.parametrize("config, training, fused_forwards", [
    (ModelConfig(hidden=(48,), beta=0.9), True, 2),
    (ModelConfig(hidden=(48, 24), beta=0.8, reset="zero", surrogate="fast_sigmoid"), True, 2),
    (ModelConfig(hidden=(48,), dropout=0.3), False, 2),  # dropout is off in eval
    (ModelConfig(hidden=(48,), dropout=0.3), True, 0),  # dropout between the pair: not fusable
    (ModelConfig(hidden=(48,), learn_beta="layer"), True, 2),  # beta's gradient from the fused kernel too
    (ModelConfig(hidden=(48,), learn_tau="neuron", learn_threshold="neuron"), True, 2),  # PLIF, per neuron
    (ModelConfig(hidden=(48,), neuron="cuba", beta=0.85), True, 2),  # current-based neurons: the same pair
    (ModelConfig(hidden=(48,), neuron="cuba", learn_beta="neuron"), True, 2),
    (ModelConfig(hidden=(48,), neuron="alif"), True, 2),  # adaptive thresholds: the second state is the threshold
    (ModelConfig(hidden=(48,), neuron="alif", reset="zero", learn_tau="layer"), True, 2),
    (ModelConfig(kind="cnn", conv="4C5-MP2", hidden=(16,)), True, 0),  # a convolution first
])
def test_the_fused_first_pair_equals_the_unfused_path(config, training, fused_forwards, monkeypatch):
    """Where the first LIF layer and the next Linear run as one kernel: the same spikes, output membranes
    and gradients as the unfused path to float rounding, and the hidden spikes when recorded."""
    model = build_model(config, seed=8).train(training)
    x = _images(12, seed=9, gain=2.5)
    target = torch.arange(12) % 10

    def run():
        model.zero_grad()
        torch.manual_seed(10)  # the same dropout masks in both runs
        out = model(x, num_steps=30)
        nn.functional.cross_entropy(out.mem.flatten(0, 1), target.repeat(30)).backward()
        with torch.no_grad():
            recorded = model(x, num_steps=30, record=True)
        return out, recorded, {name: p.grad.clone() for name, p in model.named_parameters()}

    with monkeypatch.context() as patch:
        calls = _count_fused_calls(patch, enabled=True)
        fused, fused_recorded, fused_grads = run()
    assert len(calls) == fused_forwards
    with monkeypatch.context() as patch:
        _count_fused_calls(patch, enabled=False)
        plain, plain_recorded, plain_grads = run()
    assert plain.spk.sum() > 0
    assert torch.equal(fused.spk, plain.spk)
    torch.testing.assert_close(fused.mem, plain.mem, rtol=1e-5, atol=1e-5)
    for a, b in zip(fused_recorded.hidden, plain_recorded.hidden, strict=True):
        assert torch.equal(a, b)
    for name, grad in plain_grads.items():
        assert grad.abs().max() > 0, name
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-5 * grad.abs().max().item())


# --- gradients ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [
    ModelConfig(hidden=(32, 16), learn_beta="layer", learn_threshold="neuron", dropout=0.1),
    DEEP_CNN,
])
def test_gradients_reach_every_parameter(config):
    model = build_model(config, seed=6).train()
    out = model(torch.rand(6, 4, 1, 28, 28, generator=torch.Generator().manual_seed(7)).round())
    target = torch.arange(4) % 10
    sum(nn.functional.cross_entropy(m, target) for m in out.mem).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


# --- synaptic layers: fan-out and MACs ---------------------------------------------------------------


def test_fan_out_and_macs_of_the_handout_mlp():
    layers = build_model(ModelConfig(), seed=0).synaptic_layers()
    assert [layer.name for layer in layers] == ["fc1", "fc2"]
    assert [layer.macs for layer in layers] == [784 * 512, 512 * 10]
    assert layers[0].in_shape == (1, 28, 28) and layers[1].in_shape == (512,)
    assert (layers[0].fan_out == 512).all() and (layers[1].fan_out == 10).all()


def test_per_layer_macs_and_mean_fan_outs():
    mlp = build_model(ModelConfig(), seed=0)
    assert mlp.layer_macs() == (784 * 512, 512 * 10) and mlp.ann_macs() == 784 * 512 + 512 * 10
    assert mlp.fanouts() == (512.0, 10.0)
    cnn = build_model(TUTORIAL_CNN, seed=0)
    assert cnn.layer_macs() == (12 * 24 * 24 * 25, 64 * 8 * 8 * 12 * 25, 1024 * 10)
    assert cnn.fanouts()[0] == 12 * 24 * 24 * 25 / 784 and cnn.fanouts()[2] == 10.0


@pytest.mark.parametrize("config", [TUTORIAL_CNN, STRONG_CNN])
def test_conv_fan_out_equals_the_gradient_of_an_all_ones_convolution(config):
    # Independent count: with all-ones weights, d(sum of conv outputs)/d(input pixel) is the number of
    # output positions the pixel feeds, i.e. its fan-out.
    model = build_model(config, seed=0)
    for stage, layer in zip(model.stages, model.synaptic_layers()):
        if not isinstance(stage.synapse, nn.Conv2d):
            continue
        conv = stage.synapse
        x = torch.zeros(1, *layer.in_shape, dtype=torch.float64, requires_grad=True)
        ones = torch.ones_like(conv.weight, dtype=torch.float64)
        nn.functional.conv2d(x, ones, padding=conv.padding).sum().backward()
        assert torch.equal(layer.fan_out, x.grad[0].round().long())
        out_h = layer.in_shape[1] + 2 * conv.padding[0] - conv.kernel_size[0] + 1
        if conv.padding == (0, 0):  # no padding: every output reads a full window
            assert layer.macs == conv.out_channels * out_h**2 * conv.in_channels * conv.kernel_size[0] ** 2
    assert model.synaptic_layers()[0].macs == (12 * 24 * 24 * 25 if config is TUTORIAL_CNN else 215168)


def test_synops_count_input_spikes_times_fan_out():
    model = build_model(TUTORIAL_CNN, seed=0)
    out = model(torch.rand(5, 2, 1, 28, 28).round(), record=True)
    conv2, fc1 = model.synaptic_layers()[1:]
    spikes = out.hidden[0]  # conv2's input [T, B, 12, 12, 12]
    expected = torch.stack([(spikes[:, b] * conv2.fan_out).sum() for b in range(2)]).double()
    torch.testing.assert_close(conv2.synops(spikes), expected)
    torch.testing.assert_close(fc1.synops(out.hidden[1]), out.hidden[1].sum((0, 2, 3, 4)).double() * 10)
    with pytest.raises(ValueError, match=r"conv2 takes spikes \[T, B, 12, 12, 12\]"):
        conv2.synops(out.hidden[1])
    assert torch.equal(conv2.synops_of_counts(spikes.sum(0)), conv2.synops(spikes))
    with pytest.raises(ValueError, match=r"conv2 takes spike counts \[B, 12, 12, 12\]"):
        conv2.synops_of_counts(spikes)


# --- build_model seeding -------------------------------------------------------------------------------


def test_seed_fixes_the_initial_weights_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build_model(TUTORIAL_CNN, seed=9).state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    b = build_model(TUTORIAL_CNN, seed=9).state_dict()
    c = build_model(TUTORIAL_CNN, seed=10).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["stages.0.synapse.weight"], c["stages.0.synapse.weight"])


# --- config --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [ModelConfig(), TUTORIAL_CNN, STRONG_CNN])
def test_config_round_trips_through_json(config):
    data = json.loads(json.dumps(config.to_dict()))
    assert ModelConfig.from_dict(data) == config
    assert ModelConfig.from_dict(data).to_dict() == data


def test_config_lists_become_tuples_and_numbers_floats():
    config = ModelConfig.from_dict({"hidden": [100, 50], "input_shape": [1, 28, 28], "beta": 1})
    assert config.hidden == (100, 50) and config.input_shape == (1, 28, 28) and config.beta == 1.0


def test_unknown_config_keys_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown model key\(s\) \['widths'\]; valid: kind, hidden, conv"):
        ModelConfig.from_dict({"widths": [512]})


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "rnn"}, "kind must be one of mlp, cnn; got 'rnn'"),
    ({"hidden": [512, 0]}, r"hidden must be whole numbers >= 1, got \[512, 0\]"),
    ({"hidden": 512}, "hidden must be a list of whole numbers"),
    ({"input_shape": (784,)}, r"input_shape must be \(channels, height, width\)"),
    ({"num_classes": 0}, "num_classes must be a whole number >= 1"),
    ({"beta": 1.2}, r"beta must be a number in \[0, 1\]"),
    ({"threshold": -1}, "threshold must be a number > 0"),
    ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
    ({"reset": "soft"}, "reset must be one of subtract, zero, none"),
    ({"surrogate": "relu"}, "surrogate must be one of atan, fast_sigmoid"),
    ({"learn_beta": True}, "learn_beta must be one of none, layer, neuron"),
    ({"kind": "cnn", "conv": "12C5-XX2"}, r"bad conv token 'XX2' in '12C5-XX2'; a conv spec is"),
    ({"kind": "cnn", "conv": "MP2-12C5"}, "must start with a convolution"),
    ({"kind": "cnn", "conv": "8C5-MP2-8C5-MP2-8C5"}, "shrinks the 28x28 input to nothing at '8C5'"),
    ({"kind": "cnn", "conv": "8C5-MP32"}, "shrinks the 28x28 input to nothing at 'MP32'"),
    ({"kind": "cnn", "conv": "8C4", "padding": "same"}, "padding 'same' needs odd kernels"),
    ({"padding": "full"}, "padding must be one of valid, same"),
])
def test_bad_config_values_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_conv_plan_shapes():
    plan = conv_plan(ModelConfig(kind="cnn", conv="12c5-mp2-64C5-BN-AP2"))  # case-insensitive
    assert [(b.in_shape, b.out_shape) for b in plan] == [((1, 28, 28), (12, 12, 12)), ((12, 12, 12), (64, 4, 4))]
    assert plan[1].ops == (("BN", 0), ("AP", 2))


# --- bad input to forward --------------------------------------------------------------------------------


def test_bad_forward_inputs_are_clear_errors():
    model = build_model(ModelConfig(hidden=(8,)), seed=0)
    with pytest.raises(ValueError, match=r"a static input \[B, 1, 28, 28\] needs num_steps >= 1, got None"):
        model(_images(2))
    with pytest.raises(ValueError, match="num_steps=5 but the input sequence has 3 steps"):
        model(torch.rand(3, 2, 1, 28, 28), num_steps=5)
    with pytest.raises(ValueError, match=r"x must be \[B, 1, 28, 28\] .* got shape \(2, 784\)"):
        model(torch.rand(2, 784), num_steps=3)
    with pytest.raises(TypeError, match="x must be floating point"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), num_steps=3)
    with pytest.raises(TypeError, match="config must be a ModelConfig"):
        build_model({"kind": "mlp"})


def test_model_modules_do_not_import_matplotlib():
    code = "import sys, spikevision.model; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mlp_flattens_any_input_shape():
    config = ModelConfig(input_shape=(3, 8, 8), hidden=(20,), num_classes=4)
    out = build_model(config, seed=0)(torch.rand(2, 3, 8, 8), num_steps=3)
    assert out.spk.shape == (3, 2, 4)
    assert build_model(config).synaptic_layers()[0].macs == math.prod((3, 8, 8)) * 20


def test_an_if_network_integrates_without_leak():
    # Integrate-and-fire: beta is 1 whatever model.beta says, so a constant current below threshold adds up
    # step by step, exactly (the fused kernels cover beta = 1 too).
    config = ModelConfig(kind="mlp", neuron="if", hidden=(3,), beta=0.5, threshold=1.0)
    model = build_model(config, seed=0)
    assert all(stage.lif.beta == 1.0 for stage in model.stages)
    with torch.no_grad():
        model.stages[0].synapse.weight.zero_()
        model.stages[0].synapse.bias.fill_(0.3)
    current = model.stages[0].current(torch.zeros(1, 1, 28, 28))
    spk, mem, _ = model.stages[0].lif(current.unsqueeze(0).expand(5, -1, -1))
    # 0.3, 0.6, 0.9, 1.2 (fires), then 1.2 + 0.3 - 1 = 0.5: reset by subtraction, no decay in between
    torch.testing.assert_close(mem[:, 0, 0], torch.tensor([0.3, 0.6, 0.9, 1.2, 0.5]), rtol=0, atol=1e-6)
    assert spk[:, 0, 0].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_an_if_neuron_refuses_a_learnable_leak():
    with pytest.raises(ValueError, match="neuron 'if' has no leak \\(beta = 1\\), so learn_beta must be none"):
        ModelConfig(neuron="if", learn_beta="layer")
    with pytest.raises(ValueError, match="neuron must be one of lif, if, cuba, alif, rf; got 'izhikevich'"):
        ModelConfig(neuron="izhikevich")


def test_torch_compile_of_a_model_gives_the_eager_spikes_and_gradients():
    # A user may torch.compile a spikevision model: dynamo captures the torch ops around our kernels and breaks
    # its graph at the kernels themselves (numba and Triton calls are opaque to it). The results must stay the
    # eager ones. The "aot_eager" backend is dynamo and AOTAutograd, where an autograd.Function could be
    # mishandled, without inductor's C++ build (minutes on a fresh machine), which changes no graph break.
    import warnings

    model = build_model(ModelConfig(hidden=(64,)), seed=0)  # the quick preset's shape, narrower: fused pair + LIF
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    want = model(images, num_steps=6)
    (want.mem.sum() + want.spk.sum()).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dynamo's notes on what it does not trace (our kernels' dispatch)
        got = torch.compile(model, backend="aot_eager")(images, num_steps=6)
        (got.mem.sum() + got.spk.sum()).backward()
    assert torch.equal(got.spk, want.spk) and torch.allclose(got.mem, want.mem, rtol=1e-5, atol=1e-6)
    for grad, expected in zip((p.grad for p in model.parameters()), grads):
        assert torch.allclose(grad, expected, rtol=1e-5, atol=1e-6 * float(expected.abs().max()))
