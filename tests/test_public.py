"""The package's public face: ``spikevision.<name>`` for what most scripts need, loaded on first use."""

from __future__ import annotations

import subprocess
import sys

import spikevision


def test_every_public_name_is_the_object_its_module_defines():
    import importlib

    for name in spikevision.__all__:
        if name == "__version__":
            continue
        module, attribute = spikevision._PUBLIC[name]
        assert getattr(spikevision, name) is getattr(importlib.import_module(module), attribute), name
    assert set(spikevision.__all__) == {"__version__", *spikevision._PUBLIC}
    assert set(spikevision.__all__) <= set(dir(spikevision))


def test_importing_the_package_loads_no_torch_and_an_unknown_name_is_an_attribute_error():
    code = ("import sys, spikevision; loaded = 'torch' in sys.modules\n"
            "try:\n    spikevision.no_such_name\nexcept AttributeError as exc:\n    print(loaded, exc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False module 'spikevision' has no attribute 'no_such_name'"


def test_the_public_names_build_and_run_a_network_and_resolve_a_preset():
    import torch

    net = spikevision.build_model(spikevision.ModelConfig(kind="mlp", hidden=(8,)), seed=0)
    out = net(torch.rand(2, 1, 28, 28), num_steps=3)
    assert out.spk.shape == (3, 2, 10) and isinstance(net.stages[0].lif, spikevision.LIF)
    assert spikevision.resolve_preset("quick").model.hidden == (512,)
