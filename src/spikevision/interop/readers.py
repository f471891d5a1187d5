"""Other simulators running a NIR graph: snnTorch 1.0.0, SpikingJelly 2.0.0 and Norse 1.1.0 through their own
NIR importers, with each importer's known bugs worked around here (and named in docs/INTEROP.md).

These libraries are development dependencies, imported only when a reader is called (``make install-dev``).
Every reader's network is fed the image (direct input) at every step from rest and gives its output spikes
``[T, N, classes]``; snnTorch also gives its output membrane. A network runs on the device its parameters are
on (``output_spikes`` moves it to ``device``); the images may be anywhere, the outputs come back on the CPU.

- snnTorch: its importer maps NIR's ``Flatten(start_dim=0)`` (the batch excluded, NIR's convention) to
  ``torch.nn.Flatten(0)``, which flattens the batch into the features; we set ``start_dim = 1``.
- SpikingJelly: none needed; pass it the graph's ``dt``.
- Norse: the same flatten bug; it also ignores a LIF node's ``r`` (it simulates ``r = 1``) and defaults to
  ``dt = 1e-3``. We fold ``r`` into the synapse before each LIF node (weights times r, r = 1: the same network
  in exact arithmetic) and pass the graph's ``dt``. It reads ``SumPool2d``, not ``AvgPool2d``: export with
  ``pool="sum"``. Its update ``v + dt/tau (r I - v)`` rounds differently from ours (``beta v + I``), so a
  spike a hair from threshold can differ.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Callable

import nir
import numpy as np
import torch
from torch import nn

from spikevision.errors import InvalidValue
from spikevision.interop.nir import DT, in_edge_order
from spikevision.runs import devices
from spikevision.runs.evaluation import model_device

Tensor = torch.Tensor
READERS = ("snntorch", "spikingjelly", "norse")


def import_graph(reader: str, graph: nir.NIRGraph) -> nn.Module:
    """``reader``'s own NIR importer applied to ``graph``, its bugs worked around; called
    ``out, state = net(x, state)``."""
    if reader not in _IMPORTERS:
        raise InvalidValue(f"unknown NIR reader {reader!r}; valid: {', '.join(READERS)}")
    return _IMPORTERS[reader](graph)


def output_spikes(reader: str, graph: nir.NIRGraph, images: Tensor, steps: int, batch: int = 1000,
                  device: str | torch.device = "cpu") -> Tensor:
    """Output spikes ``[steps, N, classes]`` of ``graph`` run by ``reader`` on ``device`` on ``images``, each
    batch from rest."""
    net = import_graph(reader, graph).to(devices.resolve(device))
    spikes = [_run(net, images[start : start + batch], steps)[0] for start in range(0, len(images), batch)]
    return torch.cat(spikes, 1)


def snntorch_import(graph: nir.NIRGraph) -> nn.Module:
    """snnTorch's NIR importer; ``tests/test_interop.py`` pins its flatten bug so that it says once it is fixed."""
    import_from_nir = _need("snntorch.import_nir", "snnTorch").import_from_nir
    with contextlib.redirect_stdout(sys.stderr):  # its "[warning]" lines, kept off our JSON on stdout
        net = import_from_nir(in_edge_order(graph))
    _flatten_per_sample(net)
    return net


def snntorch_outputs(net: nn.Module, images: Tensor, steps: int, batch: int = 2000) -> tuple[Tensor, Tensor]:
    """Output spikes and membranes ``[T, N, classes]`` of a network snnTorch imported, the image fed at every step."""
    spikes, membranes = [], []
    for start in range(0, len(images), batch):
        spk, mem = _run(net, images[start : start + batch], steps)
        spikes.append(spk)
        membranes.append(mem)
    return torch.cat(spikes, 1), torch.cat(membranes, 1)


def spikingjelly_import(graph: nir.NIRGraph) -> nn.Module:
    _need("spikingjelly.activation_based.nir_exchange", "SpikingJelly")
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    return import_from_nir(in_edge_order(graph), dt=_graph_dt(graph))


def norse_import(graph: nir.NIRGraph) -> nn.Module:
    norse = _need("norse.torch", "Norse")
    if any(isinstance(node, nir.AvgPool2d) for node in graph.nodes.values()):
        raise InvalidValue("Norse 1.1.0 reads SumPool2d but not AvgPool2d: export with pool='sum' "
                           "(spikevision export --pool sum)")
    net = norse.from_nir(_r_folded(in_edge_order(graph)), dt=_graph_dt(graph), ignore_warnings=True)
    _flatten_per_sample(net)
    return net


_IMPORTERS: dict[str, Callable[[nir.NIRGraph], nn.Module]] = {
    "snntorch": snntorch_import, "spikingjelly": spikingjelly_import, "norse": norse_import}


# --- helpers ----------------------------------------------------------------------------------------


def _need(module: str, library: str):
    """Import a reader's module, or say in one line what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InvalidValue(f"running the graph in {library} needs it installed ({exc}); install the development "
                           "extras: make install-dev") from None


def _graph_dt(graph: nir.NIRGraph) -> float:
    return float(graph.metadata.get("dt", DT))


def _flatten_per_sample(net: nn.Module) -> None:
    """NIR's ``Flatten(start_dim=0)`` counts dimensions without the batch; torch's with it."""
    for module in net.modules():
        if isinstance(module, nn.Flatten) and module.start_dim == 0:
            module.start_dim = 1


def _r_folded(graph: nir.NIRGraph) -> nir.NIRGraph:
    """A copy of a chain graph in which each LIF node's uniform ``r`` is moved into the synapse before it."""
    graph = copy.deepcopy(graph)
    synapse = None
    for node in graph.nodes.values():  # in chain order (in_edge_order)
        if isinstance(node, (nir.Affine, nir.Linear, nir.Conv2d)):
            synapse = node
        elif isinstance(node, (nir.LIF, nir.CubaLIF)) and synapse is not None:
            r = np.unique(np.asarray(node.r))
            if r.size != 1 or not np.isfinite(r[0]):
                raise InvalidValue("Norse ignores a LIF node's r; this graph's r is not one finite value per layer, "
                                   "so it cannot be folded into the weights for Norse")
            synapse.weight = (np.asarray(synapse.weight) * r[0]).astype(np.asarray(synapse.weight).dtype)
            if getattr(synapse, "bias", None) is not None:
                synapse.bias = (np.asarray(synapse.bias) * r[0]).astype(np.asarray(synapse.bias).dtype)
            node.r = np.ones_like(np.asarray(node.r))
    return graph


def _run(net: nn.Module, x: Tensor, steps: int) -> tuple[Tensor, Tensor | None]:
    """Feed ``x`` for ``steps`` steps from rest, on the net's device; output spikes, and snnTorch's last-layer
    membrane if it has one, on the CPU."""
    x = x.to(model_device(net))
    leaky = _snntorch_neurons(net)
    for layer in leaky:
        layer.reset_mem()
    state, spikes, membranes = None, [], []
    with torch.no_grad():
        for _ in range(steps):
            out, state = net(x, state)
            spikes.append(out.float())
            if leaky:
                membranes.append(leaky[-1].mem.clone())
    return torch.stack(spikes).cpu(), (torch.stack(membranes).cpu() if leaky else None)


def _snntorch_neurons(net: nn.Module) -> list[nn.Module]:
    try:
        import snntorch as snn
    except ImportError:
        return []
    return [m for m in net.modules() if isinstance(m, (snn.Leaky, snn.Synaptic))]  # LIF and CubaLIF nodes
