"""Does another simulator reproduce a run? Export it to NIR, run the graph in snnTorch, SpikingJelly or Norse
(``interop.readers``), compare on the test set.

The readers are development dependencies, imported only when called (``make install-dev``). Predictions
follow the run's rule (``train.prediction``) on both sides; only snnTorch exposes the output membrane that
the default rule's tie-break needs, so the other readers count spikes.

Command line (what docs/INTEROP.md's figures come from)::

    spikevision agreement runs/quick-zero [--reader spikingjelly] [--device cuda]
    {"images": 10000, "prediction_agreement": 1.0, "identical_spike_trains": 1.0, ...}
"""

from __future__ import annotations

from pathlib import Path

import nir
import torch
from torch import nn

from spikevision import data, metrics
from spikevision.errors import InvalidValue
from spikevision.interop import readers
from spikevision.interop.nir import to_nir
from spikevision.runs import rundir
from spikevision.runs.evaluation import model_device
from spikevision.runs.inputs import TensorData

Tensor = torch.Tensor


def spikevision_outputs(model: nn.Module, images: Tensor, steps: int, batch: int = 2000,
                        rule: str = "spikes_then_membrane") -> tuple[Tensor, Tensor]:
    """Predictions ``[N]`` by ``rule`` and output spikes ``[T, N, classes]`` of a spikevision model on static images,
    run on the model's device; both on the CPU."""
    model.eval()
    device = model_device(model)
    preds, spikes = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            out = model(images[start : start + batch].to(device), num_steps=steps)
            preds.append(metrics.predict(out.spk, out.mem, rule).cpu())
            spikes.append(out.spk.cpu())
    return torch.cat(preds), torch.cat(spikes, 1)


def snntorch_outputs(net: nn.Module, images: Tensor, steps: int, batch: int = 2000) -> tuple[Tensor, Tensor]:
    """Predictions ``[N]`` (most spikes, ties to the higher mean membrane) and output spikes ``[T, N, classes]`` of
    a network snnTorch imported (``readers.snntorch_import``), the image fed at every step."""
    spikes, membranes = readers.snntorch_outputs(net, images, steps, batch)
    return metrics.predict_from_output(spikes, membranes), spikes


def compare(run_dir: Path, *, graph: nir.NIRGraph | None = None, limit: int = 0,
            data_root: Path | None = None, reader: str = "snntorch", device: str | torch.device = "cpu") -> dict:
    """Run ``run_dir``'s network (or its NIR ``graph``) in spikevision and in ``reader`` on the test set, both
    on ``device``.

    Each side predicts by the run's rule (``train.prediction``); a reader other than snnTorch exposes no
    membrane, so a membrane tie-break is not available to it and it counts spikes (ties to the lowest index).
    Returns a dict: images, prediction_agreement, identical_spike_trains (samples whose output spikes are
    equal at every step), each side's test accuracy, and the reader's rule.
    """
    run_config, model = rundir.load_run(run_dir, device)
    if run_config.train.encoding != "direct":
        raise InvalidValue("the comparison feeds the image at every step: it needs a run trained with "
                           "train.encoding=direct")
    test = TensorData.from_split(data.load(run_config.train.dataset, "test", root=data_root))
    images, labels = (test.images[:limit], test.labels[:limit]) if limit else (test.images, test.labels)
    steps, rule = run_config.train.num_steps, run_config.train.prediction
    ours_pred, ours_spk = spikevision_outputs(model, images, steps, rule=rule)
    graph = graph if graph is not None else to_nir(model, run_config, pool="sum" if reader == "norse" else "avg")
    if reader == "snntorch":
        net = readers.snntorch_import(graph).to(model_device(model))
        theirs_spk, theirs_mem = readers.snntorch_outputs(net, images, steps)
    else:
        theirs_spk = readers.output_spikes(reader, graph, images, steps, device=model_device(model))
        theirs_mem, rule = None, "spikes"
    theirs_pred = metrics.predict(theirs_spk, theirs_mem, rule)
    return {
        "run": str(run_dir),
        "reader": reader,
        "images": len(labels),
        "prediction_agreement": float((ours_pred == theirs_pred).double().mean()),
        "identical_spike_trains": float((ours_spk == theirs_spk).flatten(2).all(2).all(0).double().mean()),
        "spikevision_accuracy": float((ours_pred == labels).double().mean()),
        f"{reader}_accuracy": float((theirs_pred == labels).double().mean()),
        "reader_rule": rule,
        "reset": run_config.model.reset,
    }


def nir_reader_view(run_dir: Path, *, data_root: Path | None = None, limit: int = 0, batch: int = 1000,
                    device: str | torch.device = "cpu") -> dict:
    """What a reader of the run's NIR export predicts, measured without one: NIR's only reset (to zero) on the
    same weights, and the class read by spike counts alone (ties to the lowest index), against spikevision's
    own predictions (the run's rule, its own reset) on the test images, both networks on ``device``. Direct
    input only.

    Returns a dict: images, prediction_agreement, reader_accuracy, spikevision_accuracy, reset, prediction.
    """
    import dataclasses

    from spikevision.analysis.inspection import run_model
    from spikevision.model import build_model

    run_config, model = rundir.load_run(run_dir, device)
    cfg = run_config.train
    if cfg.encoding != "direct":
        raise InvalidValue(f"{run_dir} uses {cfg.encoding} input; the reader view covers direct input only")
    reader = build_model(dataclasses.replace(run_config.model, reset="zero")).to(model_device(model))
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
