"""Runs: what training writes and inference reads, and the machinery of training.

- ``config``: ``RunConfig`` (model + train), presets, ``--set`` overrides; ``rundir``: the run directory's one
  owner; ``checkpoint``: the safetensors checkpoint and the atomic writer;
- ``inputs``: what a network is fed; ``losses``; ``evaluation``; ``train``: ``fit``; ``sweep``: a grid of runs;
- ``progress``, ``devices``, ``precision``, ``distributed``, ``threads``: what a run needs of the machine.

Nothing here draws or imports the command line (tests/test_layers.py); this package's ``__init__`` imports
nothing, so that ``import spikevision`` (which applies ``threads``) stays light.
"""
