"""Spike functions: exact Heaviside forward, surrogate backward checked three ways.

1. gradcheck in float64: the backward of each spike function equals the numerical derivative of the
   surrogate's smooth antiderivative G (so the backward really is g = G').
2. The same backward equals snnTorch 1.0.0's for the surrogates snnTorch defines the same way.
3. Hand-computed values of g at chosen points (the peak heights and the triangle's corners).
"""

from __future__ import annotations

import math

import pytest
import torch
from snntorch import surrogate as sn_surrogate

from spikevision.neurons import surrogate

SNNTORCH = {  # our name -> snnTorch's function with the same default parameters
    "atan": sn_surrogate.atan,
    "fast_sigmoid": sn_surrogate.fast_sigmoid,
    "sigmoid": sn_surrogate.sigmoid,
    "straight_through": sn_surrogate.straight_through_estimator,
}


def _backward(spike: surrogate.Surrogate, x: torch.Tensor, grad_out: torch.Tensor | None = None) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_()
    out = spike(leaf)
    (grad,) = torch.autograd.grad(out, leaf, torch.ones_like(out) if grad_out is None else grad_out)
    return grad


def _antiderivative_with_spike_backward(spike: surrogate.Surrogate):
    """A function whose forward is the smooth G and whose backward is the spike function's real backward."""

    class Twin(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return spike.primitive(x)

        @staticmethod
        def backward(ctx, grad_out):
            (x,) = ctx.saved_tensors
            with torch.enable_grad():
                return _backward(spike, x, grad_out)

    return Twin.apply


def test_the_table_has_the_five_surrogates_with_atan_default():
    assert set(surrogate.NAMES) == {"atan", "fast_sigmoid", "sigmoid", "triangular", "straight_through"}
    assert surrogate.DEFAULT == "atan"
    assert surrogate.get() == surrogate.get("atan") == surrogate.get("atan", alpha=2.0)


@pytest.mark.parametrize("name", surrogate.NAMES)
def test_forward_is_exactly_heaviside_with_h0_zero(name):
    x = torch.tensor([-3.0, -1e-30, -0.0, 0.0, 1e-30, 1e-7, 2.0], dtype=torch.float64)
    out = surrogate.get(name)(x)
    assert out.dtype == torch.float64
    assert out.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_forward_keeps_dtype_and_shape(dtype):
    x = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0)).to(dtype)
    out = surrogate.get()(x)
    assert out.dtype == dtype and out.shape == x.shape
    assert torch.equal(out, (x > 0).to(dtype))


@pytest.mark.parametrize("name", SNNTORCH)
def test_h0_convention_matches_snntorch(name):
    x = torch.tensor([-1.0, 0.0, 1.0])
    assert torch.equal(surrogate.get(name)(x), SNNTORCH[name]()(x))


@pytest.mark.parametrize("name", surrogate.NAMES)
def test_gradcheck_backward_is_the_derivative_of_the_antiderivative(name):
    spike = surrogate.get(name)
    # Points across the surrogate's support, including 0 and the triangle's corners at +-1.
    x = torch.linspace(-1.5, 1.5, 31, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(_antiderivative_with_spike_backward(spike), (x,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, params", [("atan", {"alpha": 5.0}), ("fast_sigmoid", {"slope": 3.0}),
                                          ("sigmoid", {"slope": 4.0}), ("triangular", {"width": 0.3})])
def test_gradcheck_with_non_default_parameters(name, params):
    spike = surrogate.get(name, **params)
    x = torch.linspace(-1.0, 1.0, 40, dtype=torch.float64).requires_grad_()  # misses the kinks at 0, +-w
    assert torch.autograd.gradcheck(_antiderivative_with_spike_backward(spike), (x,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", SNNTORCH)
def test_backward_equals_snntorch(name):
    # sigmoid only where snnTorch's formula does not overflow (see the next test).
    x = torch.linspace(-3.0, 3.0, 601)
    grad_out = torch.rand(601, generator=torch.Generator().manual_seed(1)) + 0.5
    ours = _backward(surrogate.get(name), x, grad_out)
    theirs = _backward(SNNTORCH[name](), x, grad_out)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


def test_sigmoid_backward_stays_finite_where_snntorchs_overflows():
    x = torch.tensor([-50.0, -5.0, 5.0, 50.0])
    ours = _backward(surrogate.get("sigmoid"), x)
    assert torch.isfinite(ours).all()
    assert torch.isnan(_backward(sn_surrogate.sigmoid(), x)[0])  # why we do not copy its formula
    k = 25.0
    expected = torch.tensor([k * math.exp(-k * abs(v)) / (1 + math.exp(-k * abs(v))) ** 2 for v in x.tolist()])
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=0.0)


@pytest.mark.parametrize("name, params, points, values", [
    ("atan", {}, [0.0, 1 / math.pi], [1.0, 1 / 2]),                  # alpha/2 / (1 + (pi x)^2)
    ("atan", {"alpha": 4.0}, [0.0], [2.0]),
    ("fast_sigmoid", {}, [0.0, 0.04, -0.04], [1.0, 0.25, 0.25]),   # 1 / (1 + 25|x|)^2
    ("sigmoid", {}, [0.0], [25.0 / 4]),                            # k s(kx) s(-kx), s(0) = 1/2
    ("triangular", {}, [-2.0, -1.0, -0.5, 0.0, 0.25, 1.0, 3.0], [0.0, 0.0, 0.5, 1.0, 0.75, 0.0, 0.0]),
    ("triangular", {"width": 0.5}, [0.0, 0.25, 0.5], [2.0, 1.0, 0.0]),
    ("straight_through", {}, [-100.0, 0.0, 100.0], [1.0, 1.0, 1.0]),
])
def test_derivative_at_hand_computed_points(name, params, points, values):
    x = torch.tensor(points, dtype=torch.float64)
    expected = torch.tensor(values, dtype=torch.float64)
    torch.testing.assert_close(_backward(surrogate.get(name, **params), x), expected)
    torch.testing.assert_close(surrogate.get(name, **params).derivative(x), expected)


@pytest.mark.parametrize("name", ["atan", "sigmoid", "triangular"])
def test_antiderivatives_rise_from_zero_to_one(name):
    # These three surrogates are densities of a smooth step: G goes 0 -> 1/2 -> 1.
    spike = surrogate.get(name)
    G = spike.primitive(torch.tensor([-1e6, 0.0, 1e6], dtype=torch.float64))
    torch.testing.assert_close(G, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64), atol=1e-6, rtol=0)


def test_gradient_flows_through_a_composite_expression():
    mem = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64, requires_grad=True)
    spk = surrogate.get("fast_sigmoid", slope=2.0)(mem - 1.0)
    (spk * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    expected = torch.tensor([1 / 4, 2.0, 3 / 4], dtype=torch.float64)  # w / (1 + 2|x|)^2
    torch.testing.assert_close(mem.grad, expected)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown surrogate 'tanh'; valid: atan, fast_sigmoid, sigmoid"):
        surrogate.get("tanh")
    with pytest.raises(ValueError, match="valid: atan"):
        surrogate.Surrogate("tanh")


def test_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="has no parameter.*'slope'.*valid: alpha"):
        surrogate.get("atan", slope=3)
    with pytest.raises(ValueError, match="valid: none"):
        surrogate.get("straight_through", alpha=1)
    for bad in (0, -1.0, float("nan"), float("inf"), "2", True):
        with pytest.raises(ValueError, match="alpha must be a positive number"):
            surrogate.get("atan", alpha=bad)
    with pytest.raises(ValueError, match="surrogate.get"):
        surrogate.Surrogate("atan")  # missing alpha


def test_get_passes_a_surrogate_through():
    spike = surrogate.get("sigmoid", slope=3.0)
    assert surrogate.get(spike) is spike
    with pytest.raises(ValueError, match="not both"):
        surrogate.get(spike, slope=4.0)
