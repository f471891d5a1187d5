"""Looking inside trained networks: ``inference`` (one picture through a run: a ``Trace``, the code path of
``predict`` and ``play``), ``inspection`` (chosen test images with every layer's spikes recorded) and
``single_neuron`` (section 5 of the lab: one neuron under a chosen input current)."""
