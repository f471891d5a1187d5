"""Does another simulator reproduce a run? Export it to NIR, run the graph in snnTorch, compare on the test set.

snnTorch (with nirtorch) is a development dependency, imported only here and only when called:
``pip install -e '.[dev]'``. Predictions are the output neuron with the most spikes, ties broken by the mean
output membrane, on both sides (``metrics.predict_from_output``).

Command line (what docs/INTEROP.md's figures come from)::

    spikevision agreement runs/quick-zero
    {"images": 10000, "prediction_agreement": 1.0, "identical_spike_trains": 1.0, ...}
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import nir
import torch
from torch import nn

from spikevision import data, metrics, rundir
from spikevision.errors import InvalidValue
from spikevision.inputs import TensorData
from spikevision.interop.nir import to_nir

Tensor = torch.Tensor


def spikevision_outputs(model: nn.Module, images: Tensor, steps: int, batch: int = 2000) -> tuple[Tensor, Tensor]:
    """Predictions ``[N]`` and output spikes ``[T, N, classes]`` of a spikevision model on static images."""
    model.eval()
    preds, spikes = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            out = model(images[start : start + batch], num_steps=steps)
            preds.append(metrics.predict_from_output(out.spk, out.mem))
            spikes.append(out.spk)
    return torch.cat(preds), torch.cat(spikes, 1)


def snntorch_import(graph: nir.NIRGraph) -> nn.Module:
    """snnTorch's NIR importer, with its one bug worked around (see docs/INTEROP.md).

    It maps NIR's ``Flatten(start_dim=0)`` (batch excluded) to ``torch.nn.Flatten(0)``, which flattens the
    batch into the features; ``tests/test_interop.py`` pins the bug so that it tells us once it is fixed.
    """
    try:
        from snntorch.import_nir import import_from_nir
    except ImportError as exc:
        raise InvalidValue(f"the agreement check runs the graph in snnTorch, which is not installed here ({exc}); "
                           "install the development extras: pip install -e '.[dev]' (or make install-dev)") from None

    with contextlib.redirect_stdout(sys.stderr):  # its "[warning]" lines, kept off our JSON on stdout
        net = import_from_nir(graph)
    if hasattr(net, "flatten"):
        net.flatten = nn.Flatten()
    return net


def snntorch_outputs(net: nn.Module, images: Tensor, steps: int, batch: int = 2000) -> tuple[Tensor, Tensor]:
    """Predictions and output spikes of a network snnTorch imported, the image fed at every step."""
    import snntorch as snn

    leaky = [m for m in net.modules() if isinstance(m, (snn.Leaky, snn.Synaptic))]  # LIF and CubaLIF nodes
    preds, spikes = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images[start : start + batch]
            for layer in leaky:
                layer.reset_mem()
            state, spk, mem = None, [], []
            for _ in range(steps):
                out, state = net(x, state)
                spk.append(out)
                mem.append(leaky[-1].mem.clone())
            spk = torch.stack(spk)
            preds.append(metrics.predict_from_output(spk, torch.stack(mem)))
            spikes.append(spk)
    return torch.cat(preds), torch.cat(spikes, 1)


def compare(run_dir: Path, *, graph: nir.NIRGraph | None = None, limit: int = 0,
            data_root: Path | None = None) -> dict:
    """Run ``run_dir``'s network (or its NIR ``graph``) in spikevision and in snnTorch on the test set.

    Returns a dict: images, prediction_agreement, identical_spike_trains (samples whose output spikes are
    equal at every step), and each side's test accuracy.
    """
    run_config, model = rundir.load_run(run_dir)
    if run_config.train.encoding != "direct":
        raise InvalidValue("the comparison feeds the image at every step: it needs a run trained with "
                           "train.encoding=direct")
    test = TensorData.from_split(data.load(run_config.train.dataset, "test", root=data_root))
    images, labels = (test.images[:limit], test.labels[:limit]) if limit else (test.images, test.labels)
    steps = run_config.train.num_steps
    ours_pred, ours_spk = spikevision_outputs(model, images, steps)
    net = snntorch_import(graph if graph is not None else to_nir(model, run_config))
    theirs_pred, theirs_spk = snntorch_outputs(net, images, steps)
    return {
        "run": str(run_dir),
        "images": len(labels),
        "prediction_agreement": float((ours_pred == theirs_pred).double().mean()),
        "identical_spike_trains": float((ours_spk == theirs_spk).flatten(2).all(2).all(0).double().mean()),
        "spikevision_accuracy": float((ours_pred == labels).double().mean()),
        "snntorch_accuracy": float((theirs_pred == labels).double().mean()),
        "reset": run_config.model.reset,
    }


def nir_reader_view(run_dir: Path, *, data_root: Path | None = None, limit: int = 0, batch: int = 1000) -> dict:
    """What a reader of the run's NIR export predicts, measured without one: NIR's only reset (to zero) on the
    same weights, and the class read by spike counts alone (ties to the lowest index), against spikevision's
    own predictions (the run's rule, its own reset) on the test images. Direct input only.

    Returns a dict: images, prediction_agreement, reader_accuracy, spikevision_accuracy, reset, prediction.
    """
    import dataclasses

    from spikevision.inspection import run_model
    from spikevision.model import build_model

    run_config, model = rundir.load_run(run_dir)
    cfg = run_config.train
    if cfg.encoding != "direct":
        raise InvalidValue(f"{run_dir} uses {cfg.encoding} input; the reader view covers direct input only")
    reader = build_model(dataclasses.replace(run_config.model, reset="zero"))
    reader.load_state_dict(model.state_dict())
    reader.eval()
    test = TensorData.from_split(data.load(cfg.dataset, "test", root=data_root), limit)
    ours, theirs = [], []
    for start in range(0, len(test.labels), batch):
        images = test.images[start : start + batch]
        out, seen = run_model(model, images, cfg), run_model(reader, images, cfg)
        ours.append(metrics.predict(out.spk, out.mem, cfg.prediction))
        theirs.append(metrics.predict(seen.spk, seen.mem, "spikes"))
    ours, theirs = torch.cat(ours), torch.cat(theirs)
    return {"images": len(test.labels), "prediction_agreement": float((ours == theirs).double().mean()),
            "reader_accuracy": float((theirs == test.labels).double().mean()),
            "spikevision_accuracy": float((ours == test.labels).double().mean()),
            "reset": run_config.model.reset, "prediction": cfg.prediction}
