"""Current-based LIF (``spikevision.neurons.cuba``): its equations, snnTorch's Synaptic, the numba kernel, models, NIR.

Which equations each side solves: ``syn_t = alpha syn_{t-1} + I_t``, ``mem_t = beta mem_{t-1} + syn_t`` then
the reset. snnTorch 1.0.0's ``Synaptic`` is the same for reset by subtraction and none (to the bit, tested
here); for reset to zero ours zeroes the old membrane (as our LIF, and NIR's reset right after a spike), which
gives the spikes of ``Synaptic(reset_delay=False)``; ``Synaptic``'s default zeroes the new membrane, input
included (pinned below, so that a change on either side is seen).
"""

from __future__ import annotations

import pytest
import torch

from spikevision import model
from spikevision.analysis import single_neuron
from spikevision.neurons import base, cuba
from spikevision.runs import config

snn = pytest.importorskip("snntorch")  # a dev dependency: make test always has it


def _current(steps=30, batch=3, n=40, seed=0, scale=0.6):
    return torch.rand(steps, batch, n, generator=torch.Generator().manual_seed(seed)) * scale


def _snntorch(current, alpha, beta, reset, delay=True):
    lif = snn.Synaptic(alpha=alpha, beta=beta, threshold=1.0, reset_mechanism=reset, reset_delay=delay)
    syn, mem = lif.init_synaptic()
    spks, mems = [], []
    for step in current:
        spk, syn, mem = lif(step, syn, mem)
        spks.append(spk)
        mems.append(mem)
    return torch.stack(spks), torch.stack(mems), syn


def test_with_no_input_the_current_and_the_membrane_decay_by_alpha_and_beta():
    state = cuba.CubaState(torch.tensor([2.0]), torch.tensor([0.5]))
    spk, mem, last = cuba.cuba_sequence(torch.zeros(3, 1), state, cuba.CubaParams(0.5, 0.8, 10.0))
    syn = [2.0 * 0.5, 2.0 * 0.25, 2.0 * 0.125]
    expected, m = [], 0.5
    for s in syn:
        m = 0.8 * m + s
        expected.append(m)
    assert spk.sum() == 0 and torch.allclose(mem[:, 0], torch.tensor(expected))
    assert torch.allclose(last.syn, torch.tensor([0.25]))


def test_an_input_spike_raises_the_membrane_over_several_steps_and_the_current_is_never_reset():
    current = torch.zeros(6, 1)
    current[0] = 1.0
    spk, mem, _ = cuba.cuba_sequence(current, None, cuba.CubaParams(0.9, 0.9, 100.0))
    assert (mem[1:, 0] > mem[:-1, 0]).all()  # still rising five steps after the input: the synapse's memory
    strong = torch.full((5, 1), 3.0)
    spk, _, last = cuba.cuba_sequence(strong, None, cuba.CubaParams(0.5, 0.5, 1.0, reset="zero"))
    assert spk.sum() > 0 and torch.isclose(last.syn, torch.tensor([3.0 * (1 - 0.5**5) / 0.5]))


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_equal_to_snntorch_synaptic_to_the_bit(reset):
    current = _current()
    theirs_spk, theirs_mem, theirs_syn = _snntorch(current, 0.9, 0.8, reset)
    spk, mem, last = cuba.cuba_sequence(current, None, cuba.CubaParams(0.9, 0.8, 1.0, reset))
    assert torch.equal(spk, theirs_spk) and torch.equal(mem, theirs_mem) and torch.equal(last.syn, theirs_syn)
    assert spk.sum() > 100


def test_reset_to_zero_gives_the_spikes_of_synaptic_without_reset_delay_and_differs_from_its_default():
    current = _current(scale=1.0)
    spk, mem, _ = cuba.cuba_sequence(current, None, cuba.CubaParams(0.9, 0.8, 1.0, "zero"))
    immediate_spk, immediate_mem, _ = _snntorch(current, 0.9, 0.8, "zero", delay=False)
    assert torch.equal(spk, immediate_spk)
    # Theirs is reset at once, ours on the next step: the membranes differ only where a spike was fired.
    assert torch.equal(torch.where(spk > 0, 0.0, mem), immediate_mem)
    delayed_spk, _, _ = _snntorch(current, 0.9, 0.8, "zero", delay=True)
    assert not torch.equal(spk, delayed_spk)  # Synaptic's default zeroes the step's input too


def test_step_by_step_equals_the_sequence():
    current, params = _current(), cuba.CubaParams(0.7, 0.9, 1.0, "subtract")
    spk_seq, mem_seq, last = cuba.cuba_sequence(current, None, params, backend="reference")
    state, spikes = None, []
    for step in current:
        spk, state = cuba.cuba_step(step, state, params)
        spikes.append(spk)
    assert torch.equal(torch.stack(spikes), spk_seq) and torch.equal(state.mem, last.mem)


# Triton: on CUDA tensors where there is a GPU, else on CPU tensors through its interpreter (conftest.py).
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("constant", [False, True])
@pytest.mark.parametrize("learn", [False, True])
@pytest.mark.parametrize("engine", ["numba", "numba:parallel", "triton"])
def test_each_fused_kernel_equals_the_reference_loop(reset, constant, learn, engine, monkeypatch):
    """numba on the CPU, in its serial and parallel builds; Triton (TRITON_DEVICE)."""
    engine, _, build = engine.partition(":")
    monkeypatch.setenv("SPIKEVISION_CPU_LOOPS", build or "serial")
    # 900 neurons: several of numba's backward chunks of 256 and of Triton's blocks of 256.
    _compare_engines(engine, reset, constant, learn, 25 if engine == "numba" else 8)


@pytest.mark.parametrize("steps", [1, 2, 4, 5, 9, 17])
def test_triton_backward_segments_cover_every_length(steps):
    # The backward recomputes the states in segments of ceil(sqrt(T)) steps (kernels.triton.runtime.segment_steps).
    _compare_engines("triton", "zero", False, True, steps)
    _compare_engines("triton", "subtract", True, False, steps)


def _compare_engines(engine: str, reset: str, constant: bool, learn: bool, steps: int) -> None:
    device = TRITON_DEVICE if engine == "triton" else "cpu"
    batch, n = 3, 300
    generator = torch.Generator().manual_seed(1)
    if constant:
        source = (torch.rand(batch, n, generator=generator) * 0.6).to(device).requires_grad_()
        current = source.unsqueeze(0).expand(steps, batch, n)
    else:
        source = current = (torch.rand(steps, batch, n, generator=generator) * 0.6).to(device).requires_grad_()
    alpha = torch.tensor(0.85, device=device, requires_grad=True) if learn else 0.85
    beta = torch.full((n,), 0.8, device=device, requires_grad=True) if learn else 0.8
    thr = torch.tensor(1.0, device=device, requires_grad=True) if learn else 1.0
    params = cuba.CubaParams(alpha, beta, thr, reset, "atan")
    # auto: numba on CPU tensors (Triton only when asked for), Triton on CUDA tensors
    assert base.select(cuba.DYNAMICS, current, None, params) == ("triton" if device == "cuda" else "numba")
    syn0 = (torch.rand(batch, n, generator=generator) * 0.3).to(device)
    mem0 = (torch.rand(batch, n, generator=generator) * 1.2).to(device)
    results = {}
    for backend in ("reference", engine):
        state = cuba.CubaState(syn0.clone().requires_grad_(), mem0.clone().requires_grad_())
        spk, mem, last = cuba.cuba_sequence(current, state, params, backend=backend)
        weights = torch.linspace(-1, 1, n, device=device)
        loss = (spk * weights).sum() + 0.01 * (mem**2).sum() + 0.3 * last.syn.sum() + 0.2 * last.mem.sum()
        inputs = [source, state.syn, state.mem] + ([alpha, beta, thr] if learn else [])
        results[backend] = (spk, mem, last, torch.autograd.grad(loss, inputs))
    (r_spk, r_mem, r_last, r_grads), (k_spk, k_mem, k_last, k_grads) = results["reference"], results[engine]
    assert torch.equal(r_spk, k_spk) and torch.equal(r_mem, k_mem)
    assert torch.equal(r_last.syn, k_last.syn) and torch.equal(r_last.mem, k_last.mem)
    assert r_spk.sum() > 0
    for ref, got in zip(r_grads, k_grads):
        assert ref.shape == got.shape
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))


def test_auto_takes_the_kernel_where_it_is_exact_and_the_reference_elsewhere():
    params = cuba.CubaParams(0.9, 0.8, 1.0)

    def selected(current, params=params):
        return base.select(cuba.DYNAMICS, current, None, params)

    assert selected(torch.zeros(2, 1, 3)) == "numba"
    assert selected(torch.zeros(2, 1, 3, dtype=torch.float64)) == "numba"
    assert selected(torch.zeros(2, 1, 3, dtype=torch.float16)) == "reference"  # half: upcast, then chosen again
    assert selected(torch.zeros(2, 1, 3, device="meta")) == "reference"
    other_dtype = cuba.CubaParams(torch.full((3,), 0.9, dtype=torch.float64), 0.8, 1.0)
    assert selected(torch.zeros(2, 1, 3), other_dtype) == "reference"  # would change the reference's result dtype
    half = (torch.rand(4, 2, 3) * 2).half()
    spk, mem, _ = cuba.cuba_sequence(half, None, params)
    wide_spk, wide_mem, _ = cuba.cuba_sequence(half.float(), None, params)
    assert spk.dtype == torch.float16 and mem.dtype == torch.float32  # integrated in float32, as the LIF
    assert torch.equal(spk.float(), wide_spk) and torch.equal(mem, wide_mem) and spk.sum() > 0


def test_bad_parameters_and_states_are_refused_with_what_to_do():
    with pytest.raises(ValueError, match="alpha must lie in"):
        cuba.CubaParams(alpha=1.5)
    with pytest.raises(ValueError, match="unknown reset"):
        cuba.CubaParams(reset="sometimes")
    with pytest.raises(ValueError, match="pass state=None"):
        cuba.cuba_sequence(torch.zeros(2, 1, 3), cuba.CubaState(torch.zeros(1, 4), torch.zeros(1, 4)),
                           cuba.CubaParams())
    with pytest.raises(TypeError, match="CubaState"):
        cuba.cuba_step(torch.zeros(1, 3), (torch.zeros(1, 3), torch.zeros(1, 3)), cuba.CubaParams())
    with pytest.raises(ValueError, match="unknown CubaLIF backend"):
        cuba.cuba_sequence(torch.zeros(2, 1, 3), None, cuba.CubaParams(), backend="gpu-please")
    with pytest.raises(ValueError, match="does not cover this input"):
        _refuse_unsupported()


def _refuse_unsupported():
    """An explicit kernel for an input it cannot run exactly: a float64 coefficient for float32 currents."""
    params = cuba.CubaParams(0.9, torch.full((3,), 0.8, dtype=torch.float64), 1.0)
    cuba.cuba_sequence(torch.zeros(2, 1, 3), None, params, backend="numba")


def test_a_model_of_cuba_neurons_builds_records_and_learns():
    cfg = config.resolve("quick", ["model.neuron=cuba", "model.alpha=0.6", "model.hidden=[32]",
                                   "model.learn_beta=layer"])
    net = model.build_model(cfg.model)
    assert isinstance(net.stages[0].lif, cuba.CubaLIF) and net.stages[0].lif.alpha == 0.6
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    out = net(x, num_steps=6, record=True)
    assert out.spk.shape == (6, 4, 10) and out.hidden[0].shape == (6, 4, 32)
    out.mem.sum().backward()
    assert net.stages[0].synapse.weight.grad.abs().sum() > 0 and net.stages[0].lif.beta.grad is not None
    with pytest.raises(ValueError, match="alpha must be a number in"):
        config.resolve("quick", ["model.alpha=1.5"])
    with pytest.raises(ValueError, match="neuron"):
        config.resolve("quick", ["model.neuron=hodgkin-huxley"])


def test_one_neuron_simulated_step_by_step_matches_the_layer():
    current = single_neuron.input_current("pulse", 60, 0.1)
    spk, mem, syn = single_neuron.simulate_cuba(current, 0.9, 0.8, 1.0)
    layer_spk, layer_mem, last = cuba.cuba_sequence(current[:, None], None, cuba.CubaParams(0.9, 0.8, 1.0))
    assert torch.equal(spk, layer_spk[:, 0]) and torch.equal(mem, layer_mem[:, 0])
    assert float(syn[-1]) == float(last.syn[0]) and spk.sum() > 0


def test_inspect_records_the_output_layers_synaptic_current_and_draws_it(mnist_test):
    from spikevision.analysis import inspection
    from spikevision.pictures import figures
    from spikevision.runs.inputs import TensorData

    cfg = config.resolve("quick", ["model.neuron=cuba", "model.alpha=0.7", "model.hidden=[48]", "train.num_steps=12"])
    net = model.build_model(cfg.model, seed=3).eval()
    test = TensorData.from_split(mnist_test, limit=8)
    [ins] = inspection.inspect_samples(net, cfg.train, test, [5])
    assert ins.syn.shape == (12, 10)
    # The same current through the output layer itself: its final synaptic current is the recorded one (to the
    # rounding of the fused first pair, which sums the spiking neurons' weights in another order than F.linear).
    current = net.stages[-1].current(ins.hidden[0][:, None].flatten(0, 1)).unflatten(0, (12, 1))
    _, mem, last = net.stages[-1].lif(current)
    torch.testing.assert_close(last.syn[0], ins.syn[-1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mem[:, 0], ins.mem, rtol=1e-5, atol=1e-6)
    fig = figures.output_membranes(ins, test.classes, 1.0)
    assert [ax.get_title().split(",")[0] for ax in fig.axes] == ["Output membranes", "Synaptic currents"]
    lif_cfg = config.resolve("quick", ["model.hidden=[48]", "train.num_steps=12"])
    [plain] = inspection.inspect_samples(model.build_model(lif_cfg.model, seed=3).eval(), lif_cfg.train, test, [5])
    assert plain.syn is None and len(figures.output_membranes(plain, test.classes, 1.0).axes) == 1
