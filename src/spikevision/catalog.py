"""Names the command line lists before any work starts: datasets, encodings, presets and the sweep's defaults.

Imports nothing heavy, so that ``spikevision --help`` builds every subcommand's parser without loading torch;
the modules that do the work (``data``, ``config``, ``sweep``) take these names from here.
"""

from __future__ import annotations

from pathlib import Path

DATASETS = ("mnist", "fashion-mnist")
ENCODINGS = ("direct", "rate", "latency")
PRESET_DIR = Path(__file__).parent / "configs"

# spikevision sweep: the grid and the size of each point's training, by default.
SWEEP_ENCODINGS = ("direct", "rate", "latency")
SWEEP_STEPS = (5, 10, 25)
SWEEP_TRAIN_SUBSET = 10_000
SWEEP_EPOCHS = 1

# spikevision neuron: the input currents, the strength that makes the default neuron (beta 0.8, threshold 1)
# fire regularly with each, and the chance of an input spike per step of the rate input.
NEURON_INPUTS = ("step", "pulse", "rate")
NEURON_AMPLITUDE = {"step": 0.3, "pulse": 0.5, "rate": 0.6}
NEURON_RATE_PROBABILITY = 0.5


def available_presets() -> list[str]:
    """The shipped presets' names (``configs/*.toml``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
