"""The neuron models: each a layer module (parameters only, state in and out) with its step, its time loop
over a whole sequence (the reference loop, or a fused kernel where one is exact) and its state.

- ``base``: what every model's time loop shares: the checks of a current and the one sequence skeleton
  (``run_sequence``: T = 0 refused, half precision integrated in float32 keeping a constant current a view,
  the backend chosen and run);
- ``surrogate``: spike functions, Heaviside forward and a named surrogate gradient backward;
- ``lif``: leaky integrate-and-fire (snnTorch's ``Leaky``; integrate-and-fire at beta = 1; PLIF's learned
  time constant), ``lif_sequence`` the time loop;
- ``cuba``: current-based LIF (a synaptic current feeds the membrane; snnTorch's ``Synaptic``);
- ``alif``: adaptive threshold (LSNN's neuron);
- ``recurrent``: recurrent LIF and ALIF layers (each step fed the layer's own spikes of the step before);
- ``readout``: the leaky-integrator readout (membranes, no spikes).

This layer imports only the base modules and ``kernels`` (tests/test_layers.py).
"""
