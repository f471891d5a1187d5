"""LIF neurons: hand-computed dynamics, sequence == repeated step, equality with snnTorch's snn.Leaky."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from snntorch import surrogate as sn_surrogate

from spikevision.neurons import surrogate
from spikevision.neurons.base import BACKENDS
from spikevision.neurons.lif import (
    LIF,
    RESETS,
    LIFParams,
    LIFState,
    initial_state,
    lif_sequence,
    lif_step,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _snntorch_run(leaky: snn.Leaky, current: torch.Tensor, mem0: torch.Tensor | None = None):
    """snnTorch's own loop: (spk [T, ...], mem [T, ...])."""
    mem = leaky.init_leaky() if mem0 is None else mem0
    spikes, mems = [], []
    for cur in current:
        spk, mem = leaky(cur, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


# --- dynamics against hand-computed numbers -------------------------------------------------------


@pytest.mark.parametrize("reset", RESETS)
def test_decay_without_input_is_exactly_beta_to_the_t(reset):
    mem0 = torch.tensor([[0.9, -2.0, 0.25, 0.0]], dtype=torch.float64)
    params = LIFParams(beta=0.8, threshold=1.0, reset=reset)  # mem0 < threshold: never fires
    spk, mem, state = lif_sequence(torch.zeros(30, 1, 4, dtype=torch.float64), LIFState(mem0), params)
    assert spk.sum() == 0
    expected, m = [], mem0
    for _ in range(30):
        m = m * 0.8
        expected.append(m)
    assert torch.equal(mem, torch.stack(expected))
    torch.testing.assert_close(mem[-1], mem0 * 0.8**30, rtol=1e-13, atol=0)
    assert torch.equal(state.mem, mem[-1])


# Dyadic numbers, so every value below is exact: beta = 1/2, threshold = 1, input 3/4 at every step.
HAND = {
    # mem_t = mem_{t-1}/2 + 3/4 - S_{t-1}
    "subtract": ([0.75, 1.125, 0.3125, 0.90625, 1.203125, 0.3515625], [0, 1, 0, 0, 1, 0]),
    # mem_t = (1 - S_{t-1}) mem_{t-1}/2 + 3/4
    "zero": ([0.75, 1.125, 0.75, 1.125, 0.75, 1.125], [0, 1, 0, 1, 0, 1]),
    # mem_t = mem_{t-1}/2 + 3/4 = 1.5 (1 - 2^-t)
    "none": ([0.75, 1.125, 1.3125, 1.40625, 1.453125, 1.4765625], [0, 1, 1, 1, 1, 1]),
}


@pytest.mark.parametrize("reset", RESETS)
def test_reset_modes_by_hand(reset):
    mem_expected, spk_expected = HAND[reset]
    current = torch.full((6, 1, 1), 0.75, dtype=torch.float64)
    spk, mem, _ = lif_sequence(current, None, LIFParams(beta=0.5, threshold=1.0, reset=reset))
    assert mem.flatten().tolist() == mem_expected
    assert spk.flatten().tolist() == spk_expected


def test_membrane_exactly_at_threshold_does_not_fire():
    # H(0) = 0, as snnTorch: mem == threshold is not a spike.
    spk, mem, _ = lif_sequence(torch.ones(3, 1, 1), None, LIFParams(beta=0.0, threshold=1.0))
    assert mem.flatten().tolist() == [1.0, 1.0, 1.0]
    assert spk.sum() == 0


def test_reset_by_subtraction_uses_the_threshold():
    # threshold 2, input 2.5, beta 0: mem = 2.5, then 2.5 - 2 = 0.5, then 2.5 again.
    spk, mem, _ = lif_sequence(torch.full((3, 1), 2.5), None, LIFParams(beta=0.0, threshold=2.0))
    assert mem.flatten().tolist() == [2.5, 0.5, 2.5]
    assert spk.flatten().tolist() == [1.0, 0.0, 1.0]


# --- sequence == step, state, shapes -----------------------------------------------------------------


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("name", surrogate.NAMES)
def test_sequence_equals_repeated_step(reset, name):
    current = torch.randn(40, 3, 5, generator=_gen(1)) * 0.7 + 0.2
    mem0 = torch.randn(3, 5, generator=_gen(2)) * 1.5
    beta = torch.rand(5, generator=_gen(3))
    params = LIFParams(beta=beta, threshold=0.8, reset=reset, surrogate=name)
    spk_seq, mem_seq, final = lif_sequence(current, LIFState(mem0), params)
    state, spikes, mems = LIFState(mem0), [], []
    for cur in current:
        spk, state = lif_step(cur, state, params)
        spikes.append(spk)
        mems.append(state.mem)
    assert torch.equal(spk_seq, torch.stack(spikes))
    assert torch.equal(mem_seq, torch.stack(mems))
    assert torch.equal(final.mem, state.mem)
    assert 0 < spk_seq.mean() < 1  # the comparison covered both spikes and silences


def test_sequence_can_be_split_and_resumed_from_its_state():
    current = torch.randn(20, 2, 3, generator=_gen(4)) + 0.5
    params = LIFParams(beta=0.9, threshold=1.0)
    spk, mem, _ = lif_sequence(current, None, params)
    spk_a, mem_a, state = lif_sequence(current[:7], None, params)
    spk_b, mem_b, _ = lif_sequence(current[7:], state, params)
    assert torch.equal(spk, torch.cat([spk_a, spk_b]))
    assert torch.equal(mem, torch.cat([mem_a, mem_b]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_state_is_built_from_the_inputs_shape_dtype_and_device(dtype):
    current = torch.randn(4, 2, 3, 5, dtype=dtype)
    spk, mem, state = lif_sequence(current, None, LIFParams())
    assert spk.dtype == mem.dtype == state.mem.dtype == dtype
    assert spk.shape == mem.shape == (4, 2, 3, 5) and state.mem.shape == (2, 3, 5)
    rest = initial_state(current[0])
    assert rest.mem.shape == (2, 3, 5) and rest.mem.dtype == dtype and not rest.mem.any()
    # The meta device runs no arithmetic but keeps devices honest: nothing may fall back to the CPU.
    meta = torch.empty(4, 2, 3, device="meta", dtype=dtype)
    spk, mem, state = lif_sequence(meta, None, LIFParams(beta=torch.full((3,), 0.5, device="meta")))
    assert spk.device.type == mem.device.type == state.mem.device.type == "meta"
    spk, state = lif_step(meta[0], None, LIFParams())
    assert spk.device.type == state.mem.device.type == "meta"


def test_expanded_constant_current_equals_the_materialised_one():
    # Direct encoding: one current [B, N] seen at every step through a stride-0 view.
    static = (torch.rand(3, 6, generator=_gen(5)) * 1.5).requires_grad_()
    expanded = static.unsqueeze(0).expand(25, 3, 6)
    assert expanded.stride(0) == 0
    dense = static.detach().unsqueeze(0).repeat(25, 1, 1).requires_grad_()
    params = LIFParams(beta=0.9, threshold=1.0)
    spk_e, mem_e, _ = lif_sequence(expanded, None, params)
    spk_d, mem_d, _ = lif_sequence(dense, None, params)
    assert torch.equal(spk_e, spk_d) and torch.equal(mem_e, mem_d)
    weights = torch.randn(25, 3, 6, generator=_gen(6))
    (mem_e * weights).sum().backward()
    (mem_d * weights).sum().backward()
    torch.testing.assert_close(static.grad, dense.grad.sum(0))


def test_beta_tensors_are_clamped_to_unit_interval():
    current = torch.randn(15, 2, 3, generator=_gen(7)) + 0.3
    clamped = lif_sequence(current, None, LIFParams(beta=torch.tensor([1.7, -0.4, 0.5])))
    plain = lif_sequence(current, None, LIFParams(beta=torch.tensor([1.0, 0.0, 0.5])))
    assert torch.equal(clamped[0], plain[0]) and torch.equal(clamped[1], plain[1])


# --- equality with snnTorch 1.0.0 --------------------------------------------------------------------


@pytest.mark.parametrize("reset", RESETS)
def test_forward_equals_snntorch_leaky(reset):
    current = torch.randn(60, 8, 16, generator=_gen(8)) * 0.8 + 0.25
    mem0 = torch.randn(8, 16, generator=_gen(9))
    beta = torch.rand(16, generator=_gen(10)) * 0.5 + 0.5  # per neuron
    threshold = 0.75
    leaky = snn.Leaky(beta=beta.clone(), threshold=threshold, reset_mechanism=reset)
    spk_ref, mem_ref = _snntorch_run(leaky, current, mem0.clone())
    spk, mem, _ = lif_sequence(current, LIFState(mem0), LIFParams(beta, threshold, reset))
    assert 0.05 < spk_ref.mean() < 0.95
    assert torch.equal(spk, spk_ref)  # op for op the same arithmetic: bit for bit the same numbers
    assert torch.equal(mem, mem_ref)


@pytest.mark.parametrize("reset", RESETS)
# Not sigmoid: snnTorch's backward is NaN for membranes more than ~3.5 below threshold (test_surrogate.py).
@pytest.mark.parametrize("name", ["atan", "fast_sigmoid", "straight_through"])
def test_gradients_equal_snntorch_leaky(reset, name):
    snn_grad = {"atan": sn_surrogate.atan, "fast_sigmoid": sn_surrogate.fast_sigmoid,
                "straight_through": sn_surrogate.straight_through_estimator}[name]
    current = torch.randn(30, 4, 6, generator=_gen(11)) * 0.6 + 0.35
    weights_spk = torch.randn(30, 4, 6, generator=_gen(12))
    weights_mem = torch.randn(30, 4, 6, generator=_gen(13))

    def loss(spk, mem):
        return (spk * weights_spk).sum() + (mem * weights_mem).sum()

    leaky = snn.Leaky(beta=torch.full((6,), 0.85), threshold=torch.tensor(0.9), spike_grad=snn_grad(),
                      learn_beta=True, learn_threshold=True, reset_mechanism=reset)
    cur_ref = current.clone().requires_grad_()
    loss(*_snntorch_run(leaky, cur_ref)).backward()

    lif = LIF(0.85, 0.9, reset=reset, surrogate=name, learn_beta="neuron", learn_threshold="layer", shape=(6,))
    cur = current.clone().requires_grad_()
    loss(*lif(cur)[:2]).backward()

    torch.testing.assert_close(cur.grad, cur_ref.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(lif.beta.grad, leaky.beta.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(lif.threshold.grad, leaky.threshold.grad, rtol=1e-4, atol=1e-4)
    assert lif.beta.grad.abs().sum() > 0 and lif.threshold.grad.abs() > 0


# --- the module ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("learn, shape", [("layer", ()), ("neuron", (2, 3))])
def test_learnable_beta_and_threshold_receive_gradients(learn, shape):
    lif = LIF(0.9, 1.0, learn_beta=learn, learn_threshold=learn, shape=(2, 3))
    assert {name for name, _ in lif.named_parameters()} == {"beta", "threshold"}
    assert lif.beta.shape == shape and lif.threshold.shape == shape
    spk, mem, _ = lif(torch.rand(20, 4, 2, 3, generator=_gen(14)) * 1.5)
    (spk.sum() + mem.sum()).backward()
    assert torch.isfinite(lif.beta.grad).all() and (lif.beta.grad != 0).all()
    assert torch.isfinite(lif.threshold.grad).all() and (lif.threshold.grad != 0).all()


def test_fixed_parameters_are_not_module_parameters():
    lif = LIF(0.9, 1.0)
    assert list(lif.parameters()) == [] and lif.state_dict() == {}


def test_module_keeps_no_state_between_calls():
    lif = LIF(0.9, 1.0)
    current = torch.rand(10, 2, 3, generator=_gen(15)) * 2
    first = lif(current)
    second = lif(current)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert set(vars(lif)) - set(vars(torch.nn.Module())) == {"reset", "surrogate", "shape", "beta", "threshold"}
    spk, state = lif.step(current[0])
    assert torch.equal(spk, first[0][0]) and torch.equal(state.mem, first[1][0])


def test_reference_backend_is_selectable_and_unknown_ones_are_errors():
    current = torch.rand(5, 2, 3)
    auto = lif_sequence(current, None, LIFParams())
    ref = lif_sequence(current, None, LIFParams(), backend="reference")
    assert "reference" in BACKENDS and torch.equal(auto[1], ref[1])
    with pytest.raises(ValueError, match="unknown LIF backend 'cuda'; valid: auto, reference"):
        lif_sequence(current, None, LIFParams(), backend="cuda")


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, message", [
    ({"reset": "soft"}, ValueError, "unknown reset 'soft'; valid: subtract, zero, none"),
    ({"surrogate": "relu"}, ValueError, "unknown surrogate 'relu'; valid: atan"),
    ({"beta": 1.5}, ValueError, r"beta must lie in \[0, 1\], got 1.5"),
    ({"beta": float("nan")}, ValueError, "beta must lie in"),
    ({"threshold": 0.0}, ValueError, "threshold must be a positive number"),
    ({"threshold": "1"}, TypeError, "threshold must be a number or a tensor, got str"),
    ({"beta": torch.tensor([1, 0])}, TypeError, "beta must be a floating-point tensor"),
])
def test_bad_params_are_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        LIFParams(**kwargs)


def test_bad_inputs_are_clear_errors():
    params = LIFParams()
    with pytest.raises(TypeError, match="current must be floating point"):
        lif_sequence(torch.ones(3, 2, dtype=torch.int64), None, params)
    with pytest.raises(TypeError, match="current must be a torch.Tensor"):
        lif_sequence([[1.0]], None, params)
    with pytest.raises(ValueError, match="no time steps"):
        lif_sequence(torch.ones(0, 2), None, params)
    with pytest.raises(ValueError, match=r"state.mem has shape \(3,\) but one step of input has shape \(2,\)"):
        lif_sequence(torch.ones(4, 2), LIFState(torch.zeros(3)), params)
    with pytest.raises(TypeError, match="state must be a LIFState"):
        lif_step(torch.ones(2), torch.zeros(2), params)
    with pytest.raises(ValueError, match=r"beta of shape \(4,\) does not fit neurons of shape \(3,\)"):
        lif_sequence(torch.ones(5, 2, 3), None, LIFParams(beta=torch.full((4,), 0.5)))
    with pytest.raises(ValueError, match="learn_beta='neuron' needs the neurons' shape"):
        LIF(learn_beta="neuron")
    with pytest.raises(ValueError, match="learn_threshold must be one of none, layer, neuron"):
        LIF(learn_threshold="yes")


# --------------------------------------------------------------------------- learnable time constants (PLIF)


def test_a_learned_time_constant_stays_in_range_by_construction():
    lif = LIF(0.9, 1.0, learn_tau="neuron", shape=(4,))
    assert [name for name, _ in lif.named_parameters()] == ["beta_logit"]
    torch.testing.assert_close(lif.beta, torch.full((4,), 0.9))
    with torch.no_grad():
        lif.beta_logit.copy_(torch.tensor([-1e4, -3.0, 3.0, 1e4]))  # far beyond any sensible step
    beta = lif.beta.detach()
    assert float(beta.min()) >= 0.0 and float(beta.max()) <= 1.0 and beta[0] == 0.0 and beta[3] == 1.0
    assert "sigmoid(learnable(4,))" in repr(lif)


def test_the_gradient_reaches_the_learned_logit_through_the_fused_kernel_as_through_the_reference():
    grads = {}
    for backend in ("numba", "reference"):
        lif = LIF(0.8, 1.0, learn_tau="neuron", shape=(50,))
        with torch.no_grad():
            lif.beta_logit.add_(torch.linspace(-2, 2, 50))
        current = torch.rand(20, 3, 50, generator=torch.Generator().manual_seed(0))
        spk, mem, _ = lif(current, backend=backend)
        (spk.sum() + (mem**2).sum() * 0.1).backward()
        grads[backend] = (spk, lif.beta_logit.grad)
    assert torch.equal(grads["numba"][0], grads["reference"][0])
    torch.testing.assert_close(grads["numba"][1], grads["reference"][1], rtol=1e-5, atol=1e-5)
    assert float(grads["reference"][1].abs().min()) > 0


def test_learn_tau_is_refused_where_it_makes_no_sense():
    from spikevision.model import ModelConfig

    with pytest.raises(ValueError, match="learn_tau and learn_beta both learn the decay"):
        ModelConfig(learn_tau="layer", learn_beta="layer")
    with pytest.raises(ValueError, match="neuron 'if' has no leak .* so learn_tau must be none"):
        ModelConfig(neuron="if", learn_tau="neuron")
    with pytest.raises(ValueError, match="learn_tau must be one of none, layer, neuron"):
        ModelConfig(learn_tau="sometimes")
    with pytest.raises(ValueError, match="starts from beta in \\(0, 1\\)"):
        LIF(1.0, 1.0, learn_tau="layer")


def test_a_run_learns_its_time_constants_and_loads_them_back(tmp_path, mnist_root):
    from spikevision.runs import config, rundir, train

    cfg = config.resolve("quick", ["model.learn_tau=neuron", "model.hidden=[32]", "train.num_steps=6",
                                   "train.train_subset=512", "train.eval_batch_size=5000"])
    train.fit(cfg, tmp_path / "run", data_root=mnist_root, progress=False)
    _, model = rundir.load_run(tmp_path / "run")
    beta = model.stages[0].lif.beta.detach()
    assert beta.shape == (32,) and not torch.allclose(beta, torch.full((32,), 0.9))  # learned, per neuron
    assert float(beta.min()) >= 0 and float(beta.max()) <= 1
