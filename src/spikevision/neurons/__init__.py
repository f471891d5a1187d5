"""The neuron models: each a layer module (parameters only, state in and out) with its step, its time loop
over a whole sequence (the reference loop, or a fused kernel where one is exact) and its state.

- ``base``: what every model shares: the checks of a current, the one step and the one sequence skeleton
  (``sequence`` over a model's ``Dynamics``: T = 0 refused, half precision integrated in float32 keeping a
  constant current a view, the backend chosen by ``kernels.select`` and run);
- ``surrogate``: spike functions, Heaviside forward and a named surrogate gradient backward;
- ``lif``: leaky integrate-and-fire (snnTorch's ``Leaky``; integrate-and-fire at beta = 1; PLIF's learned
  time constant), ``lif_sequence`` the time loop;
- ``cuba``: current-based LIF (a synaptic current feeds the membrane; snnTorch's ``Synaptic``);
- ``alif``: adaptive threshold (LSNN's neuron);
- ``recurrent``: recurrent LIF and ALIF layers (each step fed the layer's own spikes of the step before);
- ``resonate``: resonate-and-fire (a damped oscillation: it answers input at its own rhythm);
- ``readout``: the leaky-integrator readout (membranes, no spikes).

``REGISTRY`` names every neuron model ``model.neuron`` and ``spikevision neuron --model`` take, each by the module
that defines it (its ``KINDS``: a ``base.NeuronKind`` per name). Adding a neuron is one module and one line here.
Reading the names imports no torch (the command line lists them); ``kind(name)`` loads its module.

This layer imports only the base modules and ``kernels`` (tests/test_layers.py).
"""

from __future__ import annotations

import importlib

REGISTRY: dict[str, str] = {  # name -> its module in spikevision.neurons
    "lif": "lif",
    "if": "lif",
    "cuba": "cuba",
    "alif": "alif",
    "rf": "resonate",
}


def kind(name: str):
    """The ``base.NeuronKind`` registered as ``name``; a one-line refusal of a name that is not."""
    if name not in REGISTRY:
        from spikevision.errors import InvalidValue

        raise InvalidValue(f"unknown neuron {name!r}; valid: {', '.join(REGISTRY)}")
    return importlib.import_module(f"spikevision.neurons.{REGISTRY[name]}").KINDS[name]
