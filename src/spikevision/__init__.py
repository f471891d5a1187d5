"""spikevision: images -> spike trains -> spiking networks of LIF neurons -> metrics and pictures."""

__version__ = "0.1.0"
