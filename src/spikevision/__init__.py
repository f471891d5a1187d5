"""spikevision: images -> spike trains -> spiking networks -> metrics and pictures.

The names most scripts need are here, as ``spikevision.fit`` or ``from spikevision import build_model``; each
module stays importable on its own (``spikevision.runs.train``, ``spikevision.neurons.lif``, ...). They load on
first use (PEP 562), so that ``import spikevision`` stays light (the command line's ``--help`` loads no torch)::

    >>> import spikevision as sv
    >>> net = sv.build_model(sv.ModelConfig(kind="mlp", hidden=(512,)))
    >>> summary = sv.fit(sv.resolve_preset("quick"), "runs/quick")

Importing spikevision before torch gives a Python script the thread policy the commands have
(``spikevision.runs.threads``: on a machine that other work keeps busy, threads that sleep when idle, on the
free cores); a script that imported torch first, or set a thread variable, keeps torch's own choice.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public name -> (module, attribute): the curated face of the package; everything else lives in its module.
_PUBLIC = {
    "SpikevisionError": ("spikevision.errors", "SpikevisionError"),
    "load_dataset": ("spikevision.data", "load"),
    "encode": ("spikevision.data.encoding", "encode"),
    "LIF": ("spikevision.neurons.lif", "LIF"),
    "LIFParams": ("spikevision.neurons.lif", "LIFParams"),
    "lif_sequence": ("spikevision.neurons.lif", "lif_sequence"),
    "CubaLIF": ("spikevision.neurons.cuba", "CubaLIF"),
    "ALIF": ("spikevision.neurons.alif", "ALIF"),
    "LI": ("spikevision.neurons.readout", "LI"),
    "ModelConfig": ("spikevision.model", "ModelConfig"),
    "build_model": ("spikevision.model", "build_model"),
    "RunConfig": ("spikevision.runs.config", "RunConfig"),
    "resolve_preset": ("spikevision.runs.config", "resolve"),
    "fit": ("spikevision.runs.train", "fit"),
    "load_run": ("spikevision.runs.rundir", "load_run"),
    "evaluate": ("spikevision.runs.evaluation", "evaluate"),
}
__all__ = ["__version__", "SpikevisionError", "load_dataset", "encode", "LIF", "LIFParams", "lif_sequence", "CubaLIF",
           "ALIF", "LI", "ModelConfig", "build_model", "RunConfig", "resolve_preset", "fit", "load_run", "evaluate"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'spikevision' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


def _thread_policy() -> None:
    import sys

    if "torch" not in sys.modules:  # torch's pools read their settings once, when torch loads
        from spikevision.runs import threads

        threads.AT_IMPORT.update(threads.apply())


_thread_policy()
