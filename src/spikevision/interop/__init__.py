"""Exchange trained networks with other simulators through NIR, the Neuromorphic Intermediate Representation.

    >>> from spikevision.interop import to_nir, from_nir, save_nir, load_nir
    >>> graph = to_nir(model, config)          # a trained SpikingMLP / SpikingCNN -> nir.NIRGraph
    >>> save_nir(graph, "net.nir")             # HDF5, written atomically
    >>> model2 = from_nir(load_nir("net.nir")) # a SpikingMLP / SpikingCNN with the same spikes

See ``docs/INTEROP.md`` for the parameter mapping and what other libraries reproduce.
"""

from spikevision.interop.nir import DT, export_run, from_nir, load_nir, save_nir, to_nir

__all__ = ["DT", "export_run", "from_nir", "load_nir", "save_nir", "to_nir"]
