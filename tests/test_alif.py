"""Adaptive-threshold LIF (``spikevision.neurons.alif``): its equations, the LIF it contains, Norse's LSNN, the kernel.

Which equations each side solves. Ours: ``A_t = thr + rho (A_{t-1} - thr) + gamma S_{t-1}``, ``mem_t = beta
mem_{t-1} + I_t`` with the reset, ``S_t = H(mem_t - A_t)``. Norse 1.1.0's ``lsnn_feed_forward_step`` (Euler,
step dt) decays its threshold ``b`` towards ``v_th`` by ``dt / tau_adapt``, spikes on ``v > b``, resets ``v`` to
zero at once and raises ``b`` by ``beta`` after the spike; its membrane reads the synaptic current of the step
before, which takes the input after the voltage update. With the current decaying fully each step
(``dt * tau_syn_inv = 1``), feeding ours ``I_t = (dt / tau_mem) x_{t-1}`` with ``beta = 1 - dt / tau_mem``,
``rho = 1 - dt / tau_adapt``, ``gamma = rho * beta_norse`` and reset to zero is the same recurrence: the tests
find the same spikes.
"""

from __future__ import annotations

import pytest
import torch

from spikevision import model
from spikevision.cli import main
from spikevision.neurons import alif, base
from spikevision.neurons.lif import LIFParams, lif_sequence
from spikevision.runs import config


def _current(steps=40, batch=3, n=60, seed=0, scale=0.7):
    return torch.rand(steps, batch, n, generator=torch.Generator().manual_seed(seed)) * scale


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_with_no_adaptation_it_is_the_lif_exactly(reset):
    current = _current()
    spk, mem, last = alif.alif_sequence(current, None, alif.ALIFParams(0.9, 1.0, 0.95, 0.0, reset))
    lif_spk, lif_mem, _ = lif_sequence(current, None, LIFParams(0.9, 1.0, reset))
    assert torch.equal(spk, lif_spk) and torch.equal(mem, lif_mem) and spk.sum() > 0
    assert torch.equal(last.thr, torch.ones_like(last.thr))


def test_a_spike_raises_the_threshold_by_gamma_and_it_decays_back_by_rho():
    current = torch.zeros(6, 1)
    current[0] = 2.0  # one spike at step 0, nothing after
    spk, _, _ = alif.alif_sequence(current, None, alif.ALIFParams(0.5, 1.0, 0.8, 0.3, "zero"))
    assert spk[:, 0].tolist() == [1, 0, 0, 0, 0, 0]
    thr = alif.threshold_trace(spk, alif.ALIFParams(0.5, 1.0, 0.8, 0.3))[:, 0]
    expected = [1.0, 1.3, 1.0 + 0.3 * 0.8, 1.0 + 0.3 * 0.8**2, 1.0 + 0.3 * 0.8**3, 1.0 + 0.3 * 0.8**4]
    torch.testing.assert_close(thr, torch.tensor(expected))


def test_under_a_constant_drive_the_intervals_between_spikes_grow():
    spk, _, _ = alif.alif_sequence(torch.full((200, 1), 0.3), None, alif.ALIFParams(0.8, 1.0, 0.98, 0.3))
    times = spk[:, 0].nonzero().flatten().tolist()
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) > 4 and gaps[-1] > gaps[0]  # adaptation: the neuron slows down
    plain, _, _ = lif_sequence(torch.full((200, 1), 0.3), None, LIFParams(0.8, 1.0))
    assert plain.sum() > spk.sum()


def test_norses_lsnn_under_the_mapping_fires_the_same_spikes():
    norse = pytest.importorskip("norse.torch.functional.lsnn")  # make install-dev installs norse 1.1.0
    dt, tau_mem, tau_adapt, jump = 1e-3, 1e-2, 5e-2, 0.5
    x = _current(steps=120, batch=6, n=80, scale=3.0)
    params = norse.LSNNParameters(tau_syn_inv=torch.tensor(1 / dt), tau_mem_inv=torch.tensor(1 / tau_mem),
                                  tau_adapt_inv=torch.tensor(1 / tau_adapt), v_th=torch.tensor(1.0),
                                  beta=torch.tensor(jump))
    state = norse.LSNNFeedForwardState(v=torch.zeros(6, 80), i=torch.zeros(6, 80), b=torch.ones(6, 80))
    theirs = []
    for step in x:
        z, state = norse.lsnn_feed_forward_step(step, state, params, dt)
        theirs.append(z)
    k, rho = dt / tau_mem, 1 - dt / tau_adapt
    delayed = torch.cat([torch.zeros(1, 6, 80), k * x[:-1]])  # their membrane reads the step before's input
    ours, _, _ = alif.alif_sequence(delayed, None, alif.ALIFParams(1 - k, 1.0, rho, rho * jump, "zero"))
    assert torch.equal(ours, torch.stack(theirs)) and ours.sum() > 1000


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
    _compare_engines(engine, reset, constant, learn, 30 if engine == "numba" else 8)  # 900 neurons: several chunks


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
        source = (torch.rand(batch, n, generator=generator) * 0.7).to(device).requires_grad_()
        current = source.unsqueeze(0).expand(steps, batch, n)
    else:
        source = current = (torch.rand(steps, batch, n, generator=generator) * 0.7).to(device).requires_grad_()
    beta = torch.full((n,), 0.85, device=device, requires_grad=True) if learn else 0.85
    params = alif.ALIFParams(beta, 1.0, 0.9, 0.3, reset)
    mem0 = (torch.rand(batch, n, generator=generator) * 1.5).to(device)
    thr0 = (1.0 + torch.rand(batch, n, generator=generator) * 0.5).to(device)
    results = {}
    for backend in ("reference", engine):
        start = mem0.clone().requires_grad_()
        state = alif.ALIFState(start, thr0.clone())
        assert base.select(alif.DYNAMICS, current, state, params) != "reference"
        spk, mem, last = alif.alif_sequence(current, state, params, backend=backend)
        loss = (spk * torch.linspace(-1, 1, n, device=device)).sum() + 0.01 * (mem**2).sum() + 0.2 * last.mem.sum()
        inputs = [source, start] + ([beta] if learn else [])
        results[backend] = (spk, mem, last, torch.autograd.grad(loss, inputs))
    (r_spk, r_mem, r_last, r_grads), (k_spk, k_mem, k_last, k_grads) = results["reference"], results[engine]
    assert torch.equal(r_spk, k_spk) and torch.equal(r_mem, k_mem)
    assert torch.equal(r_last.mem, k_last.mem) and torch.equal(r_last.thr, k_last.thr) and r_spk.sum() > 0
    for ref, got in zip(r_grads, k_grads):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))


def test_a_learnable_threshold_runs_the_reference_loop_and_gets_its_gradient():
    threshold = torch.tensor(1.0, requires_grad=True)
    params = alif.ALIFParams(0.9, threshold, 0.9, 0.3)
    current = _current()
    state = alif.initial_state(current[0], 1.0)
    assert base.select(alif.DYNAMICS, current, state, params) == "reference"
    spk, mem, _ = alif.alif_sequence(current, None, params)
    (spk.sum() + mem.sum()).backward()
    assert threshold.grad is not None and float(threshold.grad) != 0


def test_bad_parameters_are_refused_with_what_to_do():
    with pytest.raises(ValueError, match="adapt_decay must lie in"):
        alif.ALIFParams(adapt_decay=1.5)
    with pytest.raises(ValueError, match="adapt_step must be a number >= 0"):
        alif.ALIFParams(adapt_step=-0.1)
    with pytest.raises(ValueError, match="pass state=None"):
        alif.alif_sequence(torch.zeros(2, 1, 3), alif.ALIFState(torch.zeros(1, 4), torch.ones(1, 4)), alif.ALIFParams())
    with pytest.raises(ValueError, match="does not cover this input .a learnable threshold"):
        alif.alif_sequence(torch.zeros(2, 1, 3), None, alif.ALIFParams(threshold=torch.tensor(1.0)), backend="numba")
    with pytest.raises(ValueError, match="adapt_step must be a number >= 0"):
        config.resolve("quick", ["model.neuron=alif", "model.adapt_step=-1"])


def test_an_alif_network_learns_is_inspected_and_is_refused_by_nir_in_one_line(tmp_path, mnist_root, capsys):
    from spikevision import data
    from spikevision.analysis import inspection
    from spikevision.runs import rundir, train
    from spikevision.runs.inputs import TensorData

    cfg = config.resolve("quick", ["model.neuron=alif", "model.hidden=[32]", "train.num_steps=8",
                                   "train.train_subset=512", "train.eval_batch_size=5000"])
    net = model.build_model(cfg.model)
    assert isinstance(net.stages[0].lif, alif.ALIF) and net.stages[0].lif.adapt_step == 0.2
    train.fit(cfg, tmp_path / "run", data_root=mnist_root, progress=False)
    config_back, trained = rundir.load_run(tmp_path / "run")
    test = TensorData.from_split(data.load("mnist", "test", mnist_root), limit=4)
    [ins] = inspection.inspect_samples(trained, config_back.train, test, [2])
    assert ins.thr.shape == (8, 10)
    _, _, last = trained.stages[-1].lif(trained.stages[-1].current(ins.hidden[0][:, None].flatten(0, 1))
                                        .unflatten(0, (8, 1)))
    assert torch.equal(last.thr[0], ins.thr[-1])  # what inspect draws is the layer's own threshold
    capsys.readouterr()
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "net.nir")]) == 2
    err = capsys.readouterr().err
    assert "NIR has no adaptive-threshold neuron" in err and err.count("\n") == 1


def test_the_neuron_command_draws_the_adaptive_threshold(tmp_path, capsys):
    assert main(["neuron", "--model", "alif", "--adapt-step", "0.3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ALIF neuron, step input 0.3 from step 10, beta 0.8, threshold 1, adapt_decay 0.95, "
                          "adapt_step 0.3, 200 steps: ")
    assert "membrane with adaptive threshold" in out and (tmp_path / "neuron-step.png").is_file()
    assert main(["neuron", "--model", "cuba", "--adapt-decay", "0.5", "--out", str(tmp_path)]) == 2
    assert "--adapt-decay belongs to --model alif" in capsys.readouterr().err
