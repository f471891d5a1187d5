"""The one sequence skeleton (``neurons.base.sequence``) that LIF, CubaLIF and ALIF share: the same checks
and messages, and a half-precision current integrated in float32 with a constant (stride-0) current kept a view,
for every model (CubaLIF and ALIF once made a ``[T, B, ...]`` float32 copy of it)."""

from __future__ import annotations

import pytest
import torch

from spikevision.neurons import alif, base, cuba, lif

MODELS = {
    "LIF": (lif, lif.lif_sequence, lif.LIFParams(0.9, 0.5)),
    "CubaLIF": (cuba, cuba.cuba_sequence, cuba.CubaParams(0.8, 0.9, 0.5)),
    "ALIF": (alif, alif.alif_sequence, alif.ALIFParams(0.9, 0.5)),
}


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_constant_half_current_reaches_the_loop_as_a_float32_view_and_equals_the_float32_run(kind, dtype,
                                                                                                monkeypatch):
    _, sequence, params = MODELS[kind]
    seen = []
    reference = base._reference
    monkeypatch.setattr(base, "_reference", lambda model, current, *rest: seen.append(current)
                        or reference(model, current, *rest))
    source = (torch.rand(3, 5) * 2).to(dtype)
    current = source.unsqueeze(0).expand(7, 3, 5)  # direct encoding: one current, every step
    spk, mem, _ = sequence(current, None, params, backend="reference")
    assert seen[0].dtype == torch.float32 and seen[0].stride(0) == 0  # a view over time, never a copy
    want_spk, want_mem, _ = sequence(source.float().unsqueeze(0).expand(7, 3, 5), None, params, backend="reference")
    assert spk.dtype == dtype and torch.equal(spk.float(), want_spk) and torch.equal(mem, want_mem)


@pytest.mark.parametrize("kind", MODELS)
def test_every_model_refuses_the_same_bad_input_in_the_same_words(kind):
    _, sequence, params = MODELS[kind]
    with pytest.raises(ValueError, match=r"current has no time steps \(shape\[0\] == 0\)"):
        sequence(torch.zeros(0, 2, 3), None, params)
    with pytest.raises(TypeError, match="current must be floating point"):
        sequence(torch.zeros(2, 2, 3, dtype=torch.int64), None, params)
    with pytest.raises(ValueError, match=rf"unknown {kind} backend 'fast'; valid: auto, reference"):
        sequence(torch.zeros(2, 2, 3), None, params, backend="fast")
