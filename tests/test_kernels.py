"""The fast LIF engine equals the reference loop: same spikes and membranes bit for bit, same gradients.

Every fast path (the numba CPU kernel here; the Triton GPU kernel where CUDA is present) is run against
``lif._reference_sequence`` on the same inputs, over random shapes, every reset mode and surrogate,
float32 and float64, fixed and learnable (per layer, per neuron) beta and threshold, a constant
(stride-0) current or a full one, and gradients arriving through the spikes, the membranes and the
final state. Then: the dispatch picks the kernel only where it is exact, the model gives the same
numbers either way, and backward keeps no ``[T, B, ...]`` tensor.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikevision import kernels
from spikevision.kernels import fused
from spikevision.kernels.lif_linear import lif_linear, neuron_linear, pair_supported
from spikevision.kernels.lif_linear import supported as lif_linear_supported
from spikevision.model import ModelConfig, build_model
from spikevision.neurons import base, lif, surrogate
from spikevision.neurons.base import BACKENDS
from spikevision.neurons.lif import LIF, RESETS, LIFParams, LIFState, lif_sequence

CUDA = torch.cuda.is_available()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _close(fast: torch.Tensor | None, ref: torch.Tensor | None, dtype: torch.dtype, what: str,
           scale: float | None = None, truth: torch.Tensor | None = None) -> None:
    """Gradients agree within 1e-5 (float32) or 1e-10 (float64) relative to the reference's scale.

    None (the leaf did not reach the loss in that graph) and a gradient of zeros are the same thing.
    ``truth``, the same gradient in float64, settles a float32 gradient that the scale cannot: a sum
    over time whose terms cancel in the recurrence (a coefficient's gradient) can leave the float32
    reference itself 1e-4 off. The fast kernel then passes if it is no further from the truth than
    three times the reference's own float32 error (plus the usual tolerance).
    """
    if fast is None or ref is None:
        other = ref if fast is None else fast
        assert other is None or not other.any(), f"{what}: one backend has no gradient, the other a nonzero one"
        return
    rel = 1e-5 if dtype == torch.float32 else 1e-10
    if scale is None:
        scale = float(ref.abs().max()) if ref.numel() else 0.0
    if truth is not None and not torch.allclose(fast, ref, rtol=rel, atol=rel * scale):
        truth = truth.to(torch.float64)
        fast_error = (fast.double() - truth).abs()
        allowed = rel * scale + rel * truth.abs() + 3 * (ref.double() - truth).abs()
        worst = float((fast_error - allowed).max())
        assert worst <= 0, f"{what}: the fast kernel is {worst:.3g} further from the float64 gradient than allowed"
        return
    torch.testing.assert_close(fast, ref, rtol=rel, atol=rel * scale, msg=lambda m: f"{what}: {m}")


def _inputs(seed, steps, batch, neurons, dtype, *, constant, beta_kind, thr_kind, with_mem0, device="cpu"):
    """Random inputs that make the neurons fire now and then (about 10-40 % of steps)."""
    g = _gen(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)

    shape = (batch, *neurons)
    if constant:
        base = (rand(*shape) * 1.2 - 0.1).requires_grad_()
        current = base.unsqueeze(0).expand(steps, *shape)
        leaves = [base]
    else:
        current = (rand(steps, *shape) * 1.4 - 0.2).requires_grad_()
        leaves = [current]
    mem0 = (rand(*shape) * 2 - 0.5).requires_grad_() if with_mem0 else None
    coefficients = {}
    for name, kind, low, span in (("beta", beta_kind, 0.5, 0.6), ("threshold", thr_kind, 0.6, 0.8)):
        if kind == "number":
            coefficients[name] = low + span / 2
        elif kind == "layer":
            coefficients[name] = torch.tensor(low + span / 2, dtype=dtype, device=device).requires_grad_()
        else:  # per neuron; beta's span runs past 1 so that the clamp is exercised too
            coefficients[name] = (rand(*neurons) * span + low).requires_grad_()
    leaves += [v for v in (mem0, *coefficients.values()) if isinstance(v, torch.Tensor)]
    return current, mem0, coefficients, leaves


def _run(backend, made, reset, name, grads, seed, need_mem=True):
    """Spikes, membranes, final membrane and the gradients of the leaves for one backend."""
    current, mem0, coefficients, leaves = made
    params = LIFParams(coefficients["beta"], coefficients["threshold"], reset, name)
    spk, mem, state = lif_sequence(current, None if mem0 is None else LIFState(mem0), params,
                                   backend=backend, need_mem=need_mem)
    g = _gen(seed + 1)
    loss = spk.new_zeros(())
    for which in grads:  # a random linear function of the chosen outputs
        out = {"spk": spk, "mem": mem, "last": state.mem}[which]
        loss = loss + (out * torch.randn(out.shape, generator=g, dtype=torch.float64).to(out)).sum()
    result = torch.autograd.grad(loss, leaves, allow_unused=True) if loss.requires_grad else [None] * len(leaves)
    return spk, mem, state.mem, list(result)


def _sum_scales(made, reset, name, grads, seed) -> list[float | None]:
    """For each leaf whose gradient is a sum, the largest sum of the magnitudes of its terms.

    The reference is run once more with every such sum taken apart: the constant current as a full
    ``[T, B, ...]`` leaf, each coefficient tensor as one leaf per element. A float32 sum of many terms
    that cancel is only as exact as its terms are large, so that is the scale to compare it at.
    """
    current, mem0, coefficients, leaves = made
    shape = current.shape[1:]
    dense = current.detach().clone().requires_grad_()
    apart = {k: v.detach().expand(shape).clone().requires_grad_() if isinstance(v, torch.Tensor) else v
             for k, v in coefficients.items()}
    split_leaves = [dense] + [mem0] * (mem0 is not None) + [v for v in apart.values() if isinstance(v, torch.Tensor)]
    *_, terms = _run("reference", (dense, mem0, apart, split_leaves), reset, name, grads, seed)
    # Leaves in order: the current, mem0 (if given), then the coefficient tensors.
    constant = leaves[0].dim() < current.dim()
    scales = [float(terms[0].abs().sum(0).max()) if constant and terms[0] is not None else None]
    scales += [None] * (mem0 is not None)  # each element of mem0's gradient is no sum
    for leaf, term in zip(leaves[len(scales):], terms[len(scales):]):
        scales.append(None if term is None else float(term.abs().sum_to_size(leaf.shape).max()))
    return scales


def _compare(backend, seed, steps, batch, neurons, dtype, reset, name, *, constant=True, beta_kind="number",
             thr_kind="number", with_mem0=False, grads=("spk", "mem", "last"), need_mem=True, device="cpu"):
    made = _inputs(seed, steps, batch, neurons, dtype, constant=constant, beta_kind=beta_kind,
                   thr_kind=thr_kind, with_mem0=with_mem0, device=device)
    ref = _run("reference", made, reset, name, grads, seed)
    fast = _run(backend, made, reset, name, grads, seed, need_mem=need_mem)
    assert torch.equal(fast[0], ref[0]), "spikes differ"
    if need_mem:
        assert torch.equal(fast[1], ref[1]), "membranes differ"
    else:
        assert fast[1] is None
    assert torch.equal(fast[2], ref[2]), "final membranes differ"
    scales = _sum_scales(made, reset, name, grads, seed) if grads else [None] * len(ref[3])
    truths = _float64_gradients(made, reset, name, grads, seed, ref[0]) if dtype == torch.float32 else None
    for i, (f, r, scale) in enumerate(zip(fast[3], ref[3], scales)):
        _close(f, r, dtype, f"gradient of leaf {i}", scale, None if truths is None else truths[i])
    return ref


def _float64_gradients(made, reset, name, grads, seed, spikes) -> list[torch.Tensor | None] | None:
    """The reference's gradients for the same inputs in float64, or None where float64 fires other spikes."""
    current, mem0, coefficients, leaves = made
    wide = {id(leaf): leaf.detach().double().requires_grad_() for leaf in leaves}
    constant = leaves[0].dim() < current.dim()
    current64 = wide[id(leaves[0])].unsqueeze(0).expand(current.shape) if constant else wide[id(leaves[0])]
    mem0_64 = None if mem0 is None else wide[id(mem0)]
    coefficients64 = {k: wide[id(v)] if isinstance(v, torch.Tensor) else v for k, v in coefficients.items()}
    spk, *_, result = _run("reference", (current64, mem0_64, coefficients64, [wide[id(leaf)] for leaf in leaves]),
                           reset, name, grads, seed)
    return result if torch.equal(spk.to(spikes.dtype), spikes) else None


# --- the CPU kernel against the reference --------------------------------------------------------------


@pytest.mark.usefixtures("cpu_build")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", surrogate.NAMES)
@pytest.mark.parametrize("reset", RESETS)
def test_numba_equals_reference_for_every_reset_surrogate_and_dtype(reset, name, dtype):
    seed = 100 * RESETS.index(reset) + 10 * surrogate.NAMES.index(name) + (dtype == torch.float64)
    ref = _compare("numba", seed, 33, 3, (70,), dtype, reset, name, beta_kind="neuron", thr_kind="layer",
                   with_mem0=True)
    assert 0.05 < float(ref[0].detach().mean()) < 0.9  # both spikes and silences were compared
    assert all(g is not None and g.abs().sum() > 0 for g in ref[3])  # every gradient path was exercised


@pytest.mark.usefixtures("cpu_build")
@pytest.mark.parametrize("constant", [True, False])
def test_numba_equals_reference_with_full_and_constant_current(constant):
    _compare("numba", 7, 50, 4, (3, 5), torch.float32, "subtract", "atan", constant=constant,
             beta_kind="layer", thr_kind="neuron", with_mem0=True)


@pytest.mark.usefixtures("cpu_build")  # the same build for every example: its fixture is safe to share
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    steps=st.integers(1, 40),
    batch=st.integers(1, 4),
    neurons=st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    reset=st.sampled_from(RESETS),
    name=st.sampled_from(surrogate.NAMES),
    constant=st.booleans(),
    beta_kind=st.sampled_from(["number", "layer", "neuron"]),
    thr_kind=st.sampled_from(["number", "layer", "neuron"]),
    with_mem0=st.booleans(),
    grads=st.lists(st.sampled_from(["spk", "mem", "last"]), min_size=0, max_size=3, unique=True).map(tuple),
    need_mem=st.booleans(),
)
def test_numba_equals_reference_on_random_shapes(seed, steps, batch, neurons, dtype, reset, name, constant,
                                                 beta_kind, thr_kind, with_mem0, grads, need_mem):
    if not need_mem:
        grads = tuple(g for g in grads if g != "mem")
    _compare("numba", seed, steps, batch, neurons, dtype, reset, name, constant=constant, beta_kind=beta_kind,
             thr_kind=thr_kind, with_mem0=with_mem0, grads=grads, need_mem=need_mem)


@pytest.mark.usefixtures("cpu_build")
@pytest.mark.parametrize(("constant", "thr_kind", "with_mem0"), [(True, "number", False), (False, "neuron", True)])
def test_float32_coefficient_gradient_that_cancels_over_time_is_judged_against_float64(constant, thr_kind,
                                                                                      with_mem0):
    # Found by the random test above: one sigmoid neuron over 15 steps whose coefficient gradients cancel
    # in the recurrence; the float32 reference is itself 3e-4 to 5e-4 relative off the float64 gradient.
    case = dict(constant=constant, beta_kind="neuron", thr_kind=thr_kind, with_mem0=with_mem0)
    made = _inputs(16, 15, 1, (1,), torch.float32, **case)
    ref = _run("reference", made, "subtract", "sigmoid", ("spk", "last"), 16)
    truth = _float64_gradients(made, "subtract", "sigmoid", ("spk", "last"), 16, ref[0])
    assert truth is not None  # float64 fires the same spikes, so the truth is the same function's gradient
    assert float((ref[3][-1].double() - truth[-1]).abs().max()) > 1e-4 * float(truth[-1].abs().max())
    _compare("numba", 16, 15, 1, (1,), torch.float32, "subtract", "sigmoid", grads=("spk", "last"), **case)


@pytest.mark.usefixtures("cpu_build")
def test_sequence_split_in_two_gives_the_reference_gradients_through_the_state():
    # The second half's gradient reaches the first half through the final state (g_last) and mem0.
    g = _gen(3)
    current = (torch.rand(30, 2, 8, generator=g) * 1.3).requires_grad_()
    weights = torch.randn(30, 2, 8, generator=g)
    grads = {}
    for backend in ("reference", "numba"):
        params = LIFParams(0.9, 1.0)
        spk_a, _, state = lif_sequence(current[:12], None, params, backend=backend, need_mem=False)
        spk_b, mem_b, _ = lif_sequence(current[12:], state, params, backend=backend)
        loss = (torch.cat([spk_a, spk_b]) * weights).sum() + mem_b.sum()
        grads[backend] = torch.autograd.grad(loss, current)[0]
    _close(grads["numba"], grads["reference"], torch.float32, "current")


@pytest.mark.usefixtures("cpu_build")
def test_beta_outside_the_unit_interval_is_clamped_and_its_gradient_stops_there():
    beta = torch.tensor([1.4, 0.7, -0.2], requires_grad=True)
    current = torch.rand(20, 2, 3, generator=_gen(4)).requires_grad_()
    out = {}
    for backend in ("reference", "numba"):
        spk, mem, _ = lif_sequence(current, None, LIFParams(beta, 0.8), backend=backend)
        out[backend] = (spk, mem, torch.autograd.grad(mem.sum() + spk.sum(), beta)[0])
    assert torch.equal(out["numba"][0], out["reference"][0]) and torch.equal(out["numba"][1], out["reference"][1])
    assert out["numba"][2][0] == 0 and out["numba"][2][2] == 0 and out["numba"][2][1] != 0
    _close(out["numba"][2], out["reference"][2], torch.float32, "beta")


@pytest.mark.usefixtures("cpu_build")
def test_learnable_module_parameters_get_the_reference_gradients():
    lif = LIF(0.85, 0.9, reset="zero", surrogate="fast_sigmoid", learn_beta="neuron", learn_threshold="layer",
              shape=(6,))
    current = torch.rand(25, 4, 6, generator=_gen(5)) * 1.5
    grads = {}
    for backend in ("reference", "numba"):
        spk, mem, _ = lif(current, backend=backend)
        grads[backend] = torch.autograd.grad((spk * 2).sum() + mem.sum(), [lif.beta, lif.threshold])
    for fast, ref, what in zip(grads["numba"], grads["reference"], ("beta", "threshold")):
        _close(fast, ref, torch.float32, what)


# --- memory, dispatch, model --------------------------------------------------------------------------


def test_backward_keeps_only_inputs_no_time_by_batch_tensor():
    # A constant current over 500 steps: what backward keeps is O(B x neurons), not O(T x B x neurons).
    base = torch.rand(4, 16, requires_grad=True)
    spk, mem, _ = lif_sequence(base.unsqueeze(0).expand(500, 4, 16), None, LIFParams(), backend="numba",
                               need_mem=False)
    assert mem is None
    saved = spk.grad_fn.saved_tensors
    assert saved and max(t.numel() for t in saved) == 4 * 16
    spk.sum().backward()
    assert base.grad.shape == (4, 16)


def test_constant_source_finds_only_a_true_expansion():
    base = torch.rand(3, 4)
    assert fused.constant_source(base.unsqueeze(0).expand(5, 3, 4)) is base
    assert fused.constant_source(base.unsqueeze(0).expand(1, 3, 4)) is None  # one step: nothing to save
    assert fused.constant_source(base.unsqueeze(0).repeat(5, 1, 1)) is None
    # An expansion of a slice: its _base is the whole tensor, so it is read as a full current instead.
    part = base[:, :2].unsqueeze(0).expand(5, 3, 2)
    assert fused.constant_source(part) is None
    spk, mem, _ = lif_sequence(part * 3, None, LIFParams(0.5, 1.0), backend="numba")
    ref = lif_sequence(part * 3, None, LIFParams(0.5, 1.0), backend="reference")
    assert torch.equal(spk, ref[0]) and torch.equal(mem, ref[1])


def test_auto_picks_the_kernel_only_where_it_is_exact():
    params = LIFParams(0.9, 1.0)
    cpu32 = torch.rand(5, 2, 3)
    def select(current, beta, threshold, reset="subtract"):
        return base.select(lif.DYNAMICS, current, None, LIFParams(beta, threshold, reset, params.surrogate))

    assert select(cpu32, params.beta, params.threshold) == "numba"
    assert select(cpu32.double(), 0.9, 1.0, "zero") == "numba"
    # Half precision, other devices, and coefficients whose dtype would change the result: the reference.
    assert select(cpu32.bfloat16(), 0.9, 1.0) == "reference"
    assert select(torch.empty(5, 2, 3, device="meta"), 0.9, 1.0) == "reference"
    assert select(cpu32, torch.full((3,), 0.9, dtype=torch.float64), 1.0) == "reference"
    # A 0-d coefficient of another dtype does not change the result dtype: still exact.
    assert select(cpu32, torch.tensor(0.9, dtype=torch.float64), 1.0) == "numba"
    assert {"reference", "numba", "triton"} <= set(BACKENDS)
    # The reference takes what the kernel does not: bfloat16 through auto just works.
    spk, mem, _ = lif_sequence(cpu32.bfloat16() * 3, None, params)
    assert spk.dtype == torch.bfloat16


def test_auto_with_a_mixed_dtype_coefficient_equals_the_reference():
    current = torch.rand(10, 2, 3, generator=_gen(6)) * 2
    params = LIFParams(torch.tensor(0.8, dtype=torch.float64), 1.0)
    auto = lif_sequence(current, None, params)
    ref = lif_sequence(current, None, params, backend="reference")
    assert auto[1].dtype == ref[1].dtype == torch.float32
    assert torch.equal(auto[0], ref[0]) and torch.equal(auto[1], ref[1])


def test_asking_for_a_kernel_that_does_not_apply_is_a_clear_error():
    params = LIFParams()
    with pytest.raises(ValueError, match="'numba' backend of lif neurons does not cover this input.*backend='auto'"):
        # a per-neuron coefficient of another dtype would change the reference's result dtype
        lif_sequence(torch.rand(3, 2), None, LIFParams(torch.full((2,), 0.9, dtype=torch.float64)), backend="numba")
    with pytest.raises(ValueError, match="'numba' backend of lif neurons runs on cpu tensors, got meta"):
        lif_sequence(torch.rand(3, 2, device="meta"), None, params, backend="numba")
    with pytest.raises(ValueError, match="'triton' backend of lif neurons runs on cuda( or cpu)? tensors, got meta"):
        lif_sequence(torch.rand(3, 2, device="meta"), None, params, backend="triton")


@pytest.mark.usefixtures("cpu_build")
@pytest.mark.parametrize("config", [
    ModelConfig(kind="mlp", hidden=(20, 12), beta=0.9, reset="zero", learn_beta="neuron", learn_threshold="layer"),
    ModelConfig(kind="cnn", conv="4C5-MP2-BN", hidden=(16,), beta=0.85, surrogate="fast_sigmoid"),
])
def test_model_gives_the_same_numbers_with_the_kernels_and_with_the_reference(config, monkeypatch):
    images = torch.rand(6, 1, 28, 28, generator=_gen(7))
    results = {}
    for backend in ("reference", "numba"):
        monkeypatch.setattr(kernels, "select", lambda *args, backend=backend: backend)
        model = build_model(config, seed=0)
        out = model(images * 2, num_steps=15, record=True)
        loss = out.mem.square().sum() + out.spk.sum() * 0.5
        out = out._replace(spk=out.spk.detach(), mem=out.mem.detach(), hidden=tuple(h.detach() for h in out.hidden))
        results[backend] = (out, torch.autograd.grad(loss, list(model.parameters())))
    (fast, fast_grads), (ref, ref_grads) = results["numba"], results["reference"]
    assert torch.equal(fast.spk, ref.spk) and torch.equal(fast.mem, ref.mem)
    assert all(torch.equal(a, b) for a, b in zip(fast.hidden, ref.hidden))
    assert sum(float(h.sum()) for h in ref.hidden) > 0
    # Relative to the largest gradient of the model: a conv bias followed by batch norm has a true
    # gradient of 0, so its own scale is rounding noise.
    scale = max(float(g.abs().max()) for g in ref_grads)
    for i, (a, b) in enumerate(zip(fast_grads, ref_grads)):
        _close(a, b, torch.float32, f"parameter {i}", scale)


def test_compile_falls_back_to_no_cache_when_numba_cannot_cache(monkeypatch):
    import numba

    from spikevision.kernels.numba import common

    real = numba.njit
    calls = []

    def njit(*args, cache=False, **options):
        calls.append(cache)
        if cache:
            raise RuntimeError("cannot cache function: no locator available")
        return real(*args, **options)

    monkeypatch.setattr(numba, "njit", njit)

    @common.compiled()
    def double(x):
        return 2 * x

    assert double(21) == 42 and calls == [True, False]


# --- the fused LIF -> linear pair --------------------------------------------------------------------


def _pair(seed, steps, batch, size, classes, dtype, reset, name, beta):
    g = _gen(seed)
    base = (torch.rand(batch, size, generator=g, dtype=dtype) * 0.7).requires_grad_()
    weight = (torch.randn(classes, size, generator=g, dtype=dtype) * 0.3).requires_grad_()
    bias = torch.randn(classes, generator=g, dtype=dtype).requires_grad_()
    weights_out = torch.randn(steps, batch, classes, generator=g, dtype=dtype)
    return base, weight, bias, weights_out, LIFParams(beta, 0.8, reset, name)


@pytest.mark.usefixtures("cpu_build")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", surrogate.NAMES)
@pytest.mark.parametrize("reset", RESETS)
def test_lif_linear_equals_lif_sequence_then_linear(reset, name, dtype):
    # 70 neurons: more than one 64-bit word of spikes, the second one partly filled.
    seed = 10 * RESETS.index(reset) + surrogate.NAMES.index(name)
    beta = torch.rand(70, generator=_gen(seed), dtype=dtype) * 0.5 + 0.5  # per neuron, fixed
    base, weight, bias, weights_out, params = _pair(seed, 31, 5, 70, 7, dtype, reset, name, beta)
    out, spk = lif_linear(base, 31, params.beta, params.threshold, reset, params.surrogate, weight, bias,
                          record=True)
    fast = torch.autograd.grad((out * weights_out).sum(), (base, weight, bias))
    ref_spk, _, _ = lif_sequence(base.unsqueeze(0).expand(31, 5, 70), None, params, backend="reference")
    ref_out = torch.nn.functional.linear(ref_spk, weight, bias)
    ref = torch.autograd.grad((ref_out * weights_out).sum(), (base, weight, bias))
    assert torch.equal(spk, ref_spk.detach()) and 0.05 < float(spk.mean()) < 0.9
    _close(out.detach(), ref_out.detach(), dtype, "out")  # the matmul's sums in another order
    for what, f, r in zip(("current", "weight", "bias"), fast, ref):
        _close(f, r, dtype, what)


@pytest.mark.usefixtures("cpu_build")
def test_lif_linear_without_bias_and_record_and_with_one_output():
    base, weight, _, weights_out, params = _pair(1, 12, 3, 130, 1, torch.float32, "subtract", "atan", 0.9)
    out, spk = lif_linear(base, 12, 0.9, 0.8, "subtract", params.surrogate, weight, None)
    assert spk is None and out.shape == (12, 3, 1)
    ref_spk, _, _ = lif_sequence(base.unsqueeze(0).expand(12, 3, 130), None, params, backend="reference")
    ref_out = ref_spk @ weight.t()
    _close(out.detach(), ref_out.detach(), torch.float32, "out")
    fast = torch.autograd.grad((out * weights_out).sum(), (base, weight))
    ref = torch.autograd.grad((ref_out * weights_out).sum(), (base, weight))
    for what, f, r in zip(("current", "weight"), fast, ref):
        _close(f, r, torch.float32, what)


@pytest.mark.usefixtures("cpu_build")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("learned", ["layer", "neuron"])
def test_lif_linear_learns_beta_and_threshold_as_the_unfused_path_does(learned, reset, dtype):
    """PLIF's learnable time constant (one beta a layer or a neuron) and a learnable threshold in the fused pair:
    the same spikes, and their gradients as the reference loop's autograd gives them."""
    seed = 3 * RESETS.index(reset) + (learned == "neuron")
    size = 70
    shape = () if learned == "layer" else (size,)
    logit = (torch.rand(shape, generator=_gen(seed), dtype=dtype) + 1).requires_grad_()
    threshold = (torch.rand(shape, generator=_gen(seed + 50), dtype=dtype) * 0.4 + 0.6).requires_grad_()
    base, weight, bias, weights_out, _ = _pair(seed, 29, 6, size, 5, dtype, reset, "atan", 0.9)
    params = LIFParams(torch.sigmoid(logit), threshold, reset, "atan")
    beta = params.beta.clamp(0, 1)
    assert lif_linear_supported(base, beta, threshold, reset, params.surrogate, weight)
    out, spk = lif_linear(base, 29, beta, threshold, reset, params.surrogate, weight, bias, record=True)
    wrt = (base, weight, bias, logit, threshold)
    fast = torch.autograd.grad((out * weights_out).sum(), wrt)
    params = LIFParams(torch.sigmoid(logit), threshold, reset, "atan")  # a graph of its own for the reference
    ref_spk, _, _ = lif_sequence(base.unsqueeze(0).expand(29, 6, size), None, params, backend="reference")
    ref_out = torch.nn.functional.linear(ref_spk, weight, bias)
    ref = torch.autograd.grad((ref_out * weights_out).sum(), wrt)
    assert torch.equal(spk, ref_spk.detach()) and 0.05 < float(spk.mean()) < 0.9
    for what, f, r in zip(("current", "weight", "bias", "beta's logit", "threshold"), fast, ref):
        assert f.shape == r.shape, what
        _close(f, r, dtype, what)


@pytest.mark.usefixtures("cpu_build")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("learned", ["fixed", "layer", "neuron"])
def test_the_pair_runs_cuba_neurons_as_cuba_sequence_then_linear(learned, reset, dtype):
    """The same fused pair with current-based neurons (a synaptic current into the membrane): the same spikes as
    the reference loop, the output currents and every gradient (alpha, beta, threshold learnable too) within
    float rounding."""
    from spikevision.neurons.cuba import CubaParams, cuba_sequence

    seed, size, steps = 7 * RESETS.index(reset) + len(learned), 70, 27
    shape = () if learned == "layer" else (size,)

    def coefficient(low, span, offset):
        value = torch.rand(shape, generator=_gen(seed + offset), dtype=dtype) * span + low
        return value.requires_grad_() if learned != "fixed" else value

    alpha, beta, threshold = coefficient(0.5, 0.4, 1), coefficient(0.6, 0.35, 2), coefficient(0.6, 0.4, 3)
    base, weight, bias, weights_out, _ = _pair(seed, steps, 6, size, 5, dtype, reset, "atan", 0.9)
    base = (base.detach() * 0.5).requires_grad_()  # the synaptic current accumulates: a smaller drive
    atan = surrogate.get("atan")
    assert pair_supported("cuba", base, (alpha, beta, threshold), reset, atan, weight)
    out, spk = neuron_linear("cuba", base, steps, (alpha, beta, threshold), reset, atan, weight, bias, record=True)
    wrt = [base, weight, bias] + ([alpha, beta, threshold] if learned != "fixed" else [])
    fast = torch.autograd.grad((out * weights_out).sum(), wrt)
    params = CubaParams(alpha, beta, threshold, reset, "atan")
    ref_spk, _, _ = cuba_sequence(base.unsqueeze(0).expand(steps, 6, size), None, params, backend="reference")
    ref_out = torch.nn.functional.linear(ref_spk, weight, bias)
    ref = torch.autograd.grad((ref_out * weights_out).sum(), wrt)
    assert torch.equal(spk, ref_spk.detach()) and 0.05 < float(spk.mean()) < 0.9
    _close(out.detach(), ref_out.detach(), dtype, "out")
    for what, f, r in zip(("current", "weight", "bias", "alpha", "beta", "threshold"), fast, ref):
        assert f.shape == r.shape, what
        _close(f, r, dtype, what)


@pytest.mark.usefixtures("cpu_build")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("learned", [False, True])
def test_the_pair_runs_adaptive_threshold_neurons_as_alif_sequence_then_linear(learned, reset, dtype):
    """The pair with ALIF neurons, whose threshold is a second state that rises with each spike: the same spikes
    as the reference loop, the output currents and the gradients (a learnable beta's too) within float
    rounding."""
    from spikevision.neurons.alif import ALIFParams, alif_sequence

    seed, size, steps = 5 * RESETS.index(reset) + learned, 70, 33
    beta = torch.rand(size, generator=_gen(seed), dtype=dtype) * 0.3 + 0.65
    beta = beta.requires_grad_() if learned else beta
    base, weight, bias, weights_out, _ = _pair(seed, steps, 6, size, 5, dtype, reset, "fast_sigmoid", 0.9)
    base = (base.detach() * 1.5).requires_grad_()  # a rising threshold needs a stronger drive to fire on
    params = ALIFParams(beta, 0.8, 0.9, 0.3, reset, "fast_sigmoid")
    fixed = (0.8, 0.9, 0.3)
    assert pair_supported("alif", base, (beta,), reset, params.surrogate, weight, fixed=fixed)
    out, spk = neuron_linear("alif", base, steps, (beta,), reset, params.surrogate, weight, bias, fixed=fixed,
                             record=True)
    wrt = [base, weight, bias] + ([beta] if learned else [])
    fast = torch.autograd.grad((out * weights_out).sum(), wrt)
    ref_spk, _, last = alif_sequence(base.unsqueeze(0).expand(steps, 6, size), None, params, backend="reference")
    ref_out = torch.nn.functional.linear(ref_spk, weight, bias)
    ref = torch.autograd.grad((ref_out * weights_out).sum(), wrt)
    assert torch.equal(spk, ref_spk.detach()) and 0.05 < float(spk.mean()) < 0.9
    assert float(last.thr.max()) > 0.8 + 0.3 * 0.9  # the thresholds did adapt
    _close(out.detach(), ref_out.detach(), dtype, "out")
    for what, f, r in zip(("current", "weight", "bias", "beta"), fast, ref):
        _close(f, r, dtype, what)


def test_lif_linear_covers_only_what_it_computes_exactly():
    atan = surrogate.get("atan")
    current, weight = torch.rand(4, 8), torch.rand(3, 8)
    assert lif_linear_supported(current, 0.9, 1.0, "subtract", atan, weight)
    assert not lif_linear_supported(current.double(), 0.9, 1.0, "subtract", atan, weight)  # weight's dtype
    assert not lif_linear_supported(torch.rand(4, 2, 4), 0.9, 1.0, "subtract", atan, weight)  # not [B, N]
    assert not lif_linear_supported(current, torch.rand(8).double(), 1.0, "subtract", atan, weight)  # beta dtype
    with pytest.raises(ValueError, match="lif_linear of lif on .numba. does not cover this input"):
        lif_linear(current, 5, 0.9, 1.0, "subtract", atan, weight.double(), None)
    assert not pair_supported("rf", current, (0.9,), "subtract", atan, weight)  # a family it does not run
    assert not pair_supported("alif", current, (0.9,), "subtract", atan, weight, fixed=(torch.tensor(1.0), 0.9, 0.2))


# --- the GPU kernel: compiled on CUDA tensors where a GPU exists, else through Triton's interpreter on CPU ---

# conftest.py switches the interpreter on where there is no GPU, so these run on every CI machine.
TRITON_DEVICE = "cuda" if CUDA else "cpu"


def _triton_missing() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return True
    return False


# `make test` installs triton on Linux x86-64 (its only wheels); elsewhere these say why they did not run.
needs_triton = pytest.mark.skipif(_triton_missing(), reason="triton is not installed (it has wheels for Linux "
                                  "x86-64 only; make test installs it there)")


@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", surrogate.NAMES)
@pytest.mark.parametrize("reset", RESETS)
def test_triton_equals_reference(reset, name, dtype):
    seed = 100 * RESETS.index(reset) + 10 * surrogate.NAMES.index(name)
    for constant, beta_kind, thr_kind in ((True, "neuron", "layer"), (False, "layer", "neuron")):
        _compare("triton", seed, 40, 5, (300,), dtype, reset, name, constant=constant, beta_kind=beta_kind,
                 thr_kind=thr_kind, with_mem0=True, device=TRITON_DEVICE)
    made = _inputs(seed, 40, 5, (300,), dtype, constant=True, beta_kind="number", thr_kind="number",
                   with_mem0=False, device=TRITON_DEVICE)
    # On a GPU the dispatch takes the kernel; on CPU tensors it never takes the (slow) interpreter.
    chosen = base.select(lif.DYNAMICS, made[0], None, LIFParams(0.9, 1.0, reset, name))
    assert chosen == ("triton" if CUDA else "numba")


@needs_triton
@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 9, 10, 16, 17, 50])
def test_triton_backward_segments_cover_every_length(steps):
    # The backward recomputes the membranes in segments of ceil(sqrt(T)) steps (triton.runtime.segment_steps): lengths
    # that fill their segments exactly (4, 9, 16), leave a short last one (5, 10, 17, 50) or have one (1-3).
    for reset, name, constant in (("subtract", "atan", False), ("zero", "sigmoid", True)):
        _compare("triton", steps, steps, 2, (70,), torch.float32, reset, name, constant=constant,
                 beta_kind="neuron", thr_kind="layer", with_mem0=True, grads=("spk", "mem", "last"),
                 device=TRITON_DEVICE)


@needs_triton
def test_triton_without_membranes_and_with_gradients_through_the_spikes_only():
    _compare("triton", 5, 17, 3, (4, 70), torch.float32, "zero", "atan", constant=False, need_mem=False,
             grads=("spk",), device=TRITON_DEVICE)


class _Fp32FloatArguments:
    """Triton's kernels as a GPU launches them: every Python float argument rounded to fp32.

    The interpreter keeps a Python float as float64; compiled Triton types it as fp32. Wrapping the
    launches shows, without a GPU, what a real one would compute from such an argument.
    """

    def __init__(self, loops):
        self._loops = loops

    def __getattr__(self, name):
        kernel = getattr(self._loops, name)
        return _RoundingLauncher(kernel)


class _RoundingLauncher:
    def __init__(self, kernel):
        self.kernel = kernel
        self.floats = []

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            self.floats += [a for a in args if isinstance(a, float)]
            args = [float(torch.tensor(a, dtype=torch.float32)) if isinstance(a, float) else a for a in args]
            return self.kernel[grid](*args, **kwargs)
        return launch


@needs_triton
def test_triton_float64_gradients_survive_the_fp32_typing_of_python_floats(monkeypatch):
    # atan's constants (pi/2 * alpha, alpha/2) are not fp32 numbers: passed as Python floats they were rounded
    # on a GPU and float64 gradients were 4e-6 off the reference, against 1e-10 allowed.
    from spikevision.kernels.triton import runtime

    real = runtime.kernels
    monkeypatch.setattr(runtime, "kernels", lambda name: _Fp32FloatArguments(real(name)))
    for name in ("atan", "sigmoid", "triangular"):
        _compare("triton", 3, 25, 4, (90,), torch.float64, "subtract", name, constant=False,
                 beta_kind="neuron", thr_kind="layer", with_mem0=True, device=TRITON_DEVICE)


@needs_triton
@pytest.mark.parametrize("name", surrogate.NAMES)
@pytest.mark.parametrize("reset", RESETS)
def test_triton_lif_linear_equals_lif_sequence_then_linear(reset, name):
    # 20 samples x 150 neurons: 2 x 3 of the kernel's blocks (16 x 64), the last of each partly filled.
    seed = 10 * RESETS.index(reset) + surrogate.NAMES.index(name)
    beta = (torch.rand(150, generator=_gen(seed)) * 0.5 + 0.5).to(TRITON_DEVICE)
    base, weight, bias, weights_out, params = (
        t.to(TRITON_DEVICE).detach().requires_grad_(t.requires_grad) if isinstance(t, torch.Tensor) else t
        for t in _pair(seed, 23, 20, 150, 7, torch.float32, reset, name, beta))
    out, spk = lif_linear(base, 23, params.beta, params.threshold, reset, params.surrogate, weight, bias,
                          record=True, engine="triton")
    fast = torch.autograd.grad((out * weights_out).sum(), (base, weight, bias))
    ref_spk, _, _ = lif_sequence(base.unsqueeze(0).expand(23, 20, 150), None, params, backend="reference")
    ref_out = torch.nn.functional.linear(ref_spk, weight, bias)
    ref = torch.autograd.grad((ref_out * weights_out).sum(), (base, weight, bias))
    assert torch.equal(spk, ref_spk.detach()) and 0.05 < float(spk.mean()) < 0.9
    _close(out.detach(), ref_out.detach(), torch.float32, "out")  # tl.dot's sums in another order
    # The current's gradient is summed forward in time (no stored membranes); the reference walks back.
    for what, f, r in zip(("current", "weight", "bias"), fast, ref):
        _close(f, r, torch.float32, what)


def _pair_reference(family: str, current, steps, coefficients, fixed, reset, name):
    """The unfused path of the pair: the family's reference loop, then the linear layer's input."""
    from spikevision.neurons.alif import ALIFParams, alif_sequence
    from spikevision.neurons.cuba import CubaParams, cuba_sequence

    run = current.unsqueeze(0).expand(steps, *current.shape)
    if family == "cuba":
        return cuba_sequence(run, None, CubaParams(*coefficients, reset, name), backend="reference")[0]
    if family == "alif":
        return alif_sequence(run, None, ALIFParams(*coefficients, *fixed, reset, name), backend="reference")[0]
    return lif_sequence(run, None, LIFParams(*coefficients, reset, name), backend="reference")[0]


@needs_triton
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("family", ["lif", "cuba", "alif"])
def test_the_triton_pair_runs_every_family_and_learns_its_coefficients(family, reset):
    """The GPU pair for LIF with a learnable beta and threshold (PLIF), CUBA (alpha too) and ALIF (its beta):
    the reference's spikes, and every gradient within float rounding of the reference's (the coefficients'
    sums, whose terms cancel, against the float64 gradient where float32 rounding alone moves them)."""
    seed, size, steps, batch = 3 * RESETS.index(reset) + len(family), 150, 21, 20
    names = {"lif": ("beta", "threshold"), "cuba": ("alpha", "beta", "threshold"), "alif": ("beta",)}[family]
    ranges = {"alpha": (0.5, 0.4), "beta": (0.6, 0.35), "threshold": (0.6, 0.4)}
    values = [torch.rand(size, generator=_gen(seed + i), dtype=torch.float64) * ranges[n][1] + ranges[n][0]
              for i, n in enumerate(names)]
    fixed = (0.8, 0.9, 0.3) if family == "alif" else ()
    gain = {"lif": 1.0, "cuba": 0.5, "alif": 1.5}[family]
    base, weight, bias, weights_out, _ = _pair(seed, steps, batch, size, 7, torch.float64, reset, "atan", 0.9)
    results = {}
    for dtype, engine in ((torch.float32, "triton"), (torch.float32, "reference"), (torch.float64, "reference")):
        leaves = [(t.detach() * (gain if t is base else 1)).to(TRITON_DEVICE, dtype).requires_grad_()
                  for t in (base, weight, bias, *values)]
        current, w, b, *coefficients = leaves
        if engine == "triton":
            out, spk = neuron_linear(family, current, steps, tuple(coefficients), reset, surrogate.get("atan"), w, b,
                                     fixed=fixed, record=True, engine="triton")
        else:
            spk = _pair_reference(family, current, steps, coefficients, fixed, reset, "atan")
            out = torch.nn.functional.linear(spk, w, b)
        grads = torch.autograd.grad((out * weights_out.to(TRITON_DEVICE, dtype)).sum(), leaves)
        results[dtype, engine] = spk.detach(), out.detach(), grads
    (spk, out, fast), (ref_spk, ref_out, ref), (_, _, truth) = results.values()
    assert torch.equal(spk, ref_spk) and 0.05 < float(spk.mean()) < 0.9
    _close(out, ref_out, torch.float32, "out")
    for what, f, r, exact in zip(("current", "weight", "bias", *names), fast, ref, truth):
        _close(f, r, torch.float32, what, truth=exact)


@needs_triton
def test_triton_lif_linear_without_bias_and_record_and_with_one_output():
    # 3 samples of a block of 16, one output of a padded 16: the masks, not the sizes, bound every load and store.
    base, weight, _, weights_out, params = (
        t.to(TRITON_DEVICE).detach().requires_grad_(t.requires_grad) if isinstance(t, torch.Tensor) else t
        for t in _pair(1, 12, 3, 130, 1, torch.float32, "zero", "triangular", 0.9))
    out, spk = lif_linear(base, 12, 0.9, 0.8, "zero", params.surrogate, weight, None, engine="triton")
    assert spk is None and out.shape == (12, 3, 1)
    ref_spk, _, _ = lif_sequence(base.unsqueeze(0).expand(12, 3, 130), None, params, backend="reference")
    ref_out = ref_spk @ weight.t()
    assert ref_spk.sum() > 0
    _close(out.detach(), ref_out.detach(), torch.float32, "out")
    fast = torch.autograd.grad((out * weights_out).sum(), (base, weight))
    ref = torch.autograd.grad((ref_out * weights_out).sum(), (base, weight))
    for what, f, r in zip(("current", "weight"), fast, ref):
        _close(f, r, torch.float32, what)


@needs_triton
def test_triton_lif_linear_covers_only_what_it_computes_exactly():
    atan = surrogate.get("atan")
    current, weight = torch.rand(4, 8, device=TRITON_DEVICE), torch.rand(3, 8, device=TRITON_DEVICE)
    assert lif_linear_supported(current, 0.9, 1.0, "subtract", atan, weight, "triton")
    assert not lif_linear_supported(current.double(), 0.9, 1.0, "subtract", atan, weight.double(), "triton")
    assert not lif_linear_supported(current, 0.9, 1.0, "subtract", atan, torch.rand(65, 8, device=TRITON_DEVICE),
                                    "triton")  # more outputs than the weight block in registers holds
    with pytest.raises(ValueError, match="lif_linear of lif on .triton. does not cover this input"):
        lif_linear(current.double(), 5, 0.9, 1.0, "subtract", atan, weight.double(), None, engine="triton")


def test_running_a_kernel_keeps_torchs_thread_count():
    # torchrun sets OMP_NUM_THREADS=1 per process; numba's thread pool must not raise torch's count behind it.
    code = (
        "import torch\n"
        "from spikevision.neurons.lif import LIFParams, lif_sequence\n"
        "before = torch.get_num_threads()\n"
        "lif_sequence(torch.rand(5, 4, 3), None, LIFParams(), backend='numba')\n"
        "print(before, torch.get_num_threads())\n"
    )
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "SPIKEVISION_CPU_LOOPS": "parallel"}  # the threaded build
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]


# --- half precision: float16/bfloat16 currents are integrated in float32 ------------------------------------

HALF_ULP = {torch.bfloat16: 2.0 ** -7, torch.float16: 2.0 ** -10}  # one unit in the last place, relative


def _half_run(backend, current, leaf, weights):
    spk, mem, state = lif_sequence(current, None, LIFParams(0.9, 1.0, "subtract", "atan"), backend=backend)
    loss = (spk.float() * weights).sum() + mem.sum() + state.mem.sum()
    return spk, mem, state.mem, torch.autograd.grad(loss, leaf)[0]


@pytest.mark.parametrize("backend", [pytest.param("triton", marks=needs_triton), "auto"])
@pytest.mark.parametrize("constant", [True, False])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_currents_keep_float32_membranes_and_equal_the_upcast_reference(dtype, constant, backend):
    g = _gen(11)
    device = TRITON_DEVICE if backend == "triton" else "cpu"
    shape = (20, 4, 300)
    if constant:
        leaf = (torch.rand(shape[1:], generator=g) * 1.2 - 0.1).to(device, dtype).requires_grad_()
        current = leaf.unsqueeze(0).expand(shape)
    else:
        leaf = current = (torch.rand(shape, generator=g) * 1.4 - 0.2).to(device, dtype).requires_grad_()
    weights = torch.randn(shape, generator=g).to(device)
    spk, mem, last, grad = _half_run(backend, current, leaf, weights)
    # The reference, written out: the exact float32 copy of the half current through the float32 loop.
    up = leaf.detach().float().requires_grad_()
    ref = _half_run("reference", up.unsqueeze(0).expand(shape) if constant else up, up, weights)
    assert spk.dtype == dtype and mem.dtype == last.dtype == torch.float32
    assert torch.equal(spk.float(), ref[0]) and torch.equal(mem, ref[1]) and torch.equal(last, ref[2])
    assert grad.dtype == dtype
    # The gradient is computed in float32 and rounded once to the half dtype: within one unit in its last place.
    torch.testing.assert_close(grad.float(), ref[3], rtol=HALF_ULP[dtype],
                               atol=HALF_ULP[dtype] * float(ref[3].abs().max()))


# --- the spikes' gradient, read as it arrives ---------------------------------------------------------


def _spikes_of(family: str, current: torch.Tensor, backend: str) -> torch.Tensor:
    """The spikes of a LIF, CubaLIF or ALIF sequence over ``current`` through ``backend``."""
    from spikevision.neurons import alif, cuba

    if family == "cuba":
        return cuba.cuba_sequence(current, None, cuba.CubaParams(alpha=0.8, beta=0.9), backend=backend,
                                  need_mem=False)[0]
    if family == "alif":
        return alif.alif_sequence(current, None, alif.ALIFParams(beta=0.9), backend=backend, need_mem=False)[0]
    return lif_sequence(current, None, LIFParams(beta=0.9), backend=backend, need_mem=False)[0]


def _peak_bytes_of(call, device: str, tmp_path) -> int:
    """The most bytes ``call`` had allocated at once on ``device`` beyond what existed before it (on the CPU,
    the allocator's own events as torch.profiler records them; on CUDA, the caching allocator's peak)."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        call()
        return torch.cuda.max_memory_allocated() - before
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    prof.export_chrome_trace(str(tmp_path / "trace.json"))
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    totals = [(e["args"]["Total Allocated"], e["args"]["Bytes"]) for e in events if e.get("name") == "[memory]"]
    return max(total for total, _ in totals) - (totals[0][0] - totals[0][1])


@pytest.mark.parametrize("family", ["lif", "cuba", "alif"])
@pytest.mark.parametrize("engine", ["numba", pytest.param("triton", marks=needs_triton)])
def test_a_spike_gradient_the_same_at_every_step_is_read_once_not_copied_per_step(family, engine, tmp_path):
    # spk.sum() and losses on spike counts hand back the spikes' gradient expanded over time (stride 0): the
    # kernels read its one row at every step, so the backward holds d_cur and no [T, M] copy beside it (and on
    # Triton its recomputed states: about 2 sqrt(T) rows of each, a tenth of T rows at T=400).
    device = TRITON_DEVICE if engine == "triton" else "cpu"
    steps, batch, neurons = 400, 2, 128
    current = (torch.randn(steps, batch, neurons, generator=_gen(3)) * 1.5).to(device).requires_grad_()
    weights = torch.randn(batch, neurons, generator=_gen(4)).to(device)
    one_step = steps * batch * neurons * 4
    for loss in (lambda s: s.sum(), lambda s: (s.sum(0) * weights).sum()):
        expected = torch.autograd.grad(loss(_spikes_of(family, current, "reference")), current)[0]
        spikes = _spikes_of(family, current, engine)
        summed = loss(spikes)
        got = []
        peak = _peak_bytes_of(lambda got=got, summed=summed: got.append(torch.autograd.grad(summed, current)[0]),
                              device, tmp_path)
        _close(got[0], expected, torch.float32, f"{family} on {engine}")  # a GPU may round its division apart
        assert one_step <= peak < 1.5 * one_step, (peak / one_step, family, engine)
