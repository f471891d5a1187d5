"""Names the command line lists before any work starts: datasets, encodings, presets and the sweep's defaults.

Imports nothing heavy, so that ``spikevision --help`` builds every subcommand's parser without loading torch;
the modules that do the work (``data``, ``config``, ``sweep``) take these names from here.
"""

from __future__ import annotations

from pathlib import Path

DATASETS = ("mnist", "fashion-mnist")
# event streams (data.datasets.EVENT_DATASETS); a network reads their frames
EVENT_DATASETS = ("nmnist-sim", "nmnist", "dvsgesture", "shd")
TRAIN_DATASETS = (*DATASETS, *EVENT_DATASETS)
IMAGE_ENCODINGS = ("direct", "rate", "latency")  # the whole image at every step: as currents, or as spikes
SPIKE_ENCODINGS = ("rate", "latency")
# rows: one image row per step, a sequence task (inputs.rows); frames: an event dataset's samples cut into
# num_steps time bins, the ON and OFF counts of each as 2 channels (inputs.EventFrames)
ENCODINGS = (*IMAGE_ENCODINGS, "rows", "frames")
ROW_STEPS = 28  # the rows of the datasets' 28x28 images: the steps of a "rows" run
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
