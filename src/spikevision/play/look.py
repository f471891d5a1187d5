"""One picture and a coding -> what the play page draws, through ``inference.trace`` as ``predict`` runs it.

The page may feed the network another way than it was trained (another coding, more or fewer steps): the
query names it, and with none the run's own coding is used, so the page's prediction is then exactly what
``spikevision predict RUN PICTURE`` prints. Spikes travel as bits (``numpy.packbits``, base64): a conv run's
feature maps are hundreds of thousands of them per picture.
"""

from __future__ import annotations

import base64
import inspect
import math
from collections.abc import Mapping

import numpy as np
import torch

from spikevision.analysis import inference
from spikevision.analysis.inspection import output_threshold
from spikevision.catalog import ENCODINGS
from spikevision.data import encoding as encoding_mod
from spikevision.data import preprocess
from spikevision.errors import InvalidValue
from spikevision.runs.config import TrainConfig

MAX_STEPS = 100  # time steps a page may ask for
# The options the page may set for each coding, and how each is read from the query string.
CODING_OPTIONS: dict[str, dict[str, type]] = {
    "direct": {},
    "rows": {},
    "rate": {"gain": float},
    "latency": {"tau": float, "threshold": float, "linear": bool, "normalize": bool, "clip": bool},
    "frames": {},
}
# The page's range of each number, (low, high]: what a picture of up to MAX_STEPS steps can show.
OPTION_RANGES = {"gain": (0.0, 1.0), "tau": (0.0, 100.0), "threshold": (0.0, 0.99)}
QUERY_KEYS = {"run", "encoding", "steps"} | {k for options in CODING_OPTIONS.values() for k in options}


def coding_defaults() -> dict[str, dict]:
    """Each coding's options at the encoder's own defaults, for the page's controls."""
    return {name: {key: inspect.signature(getattr(encoding_mod, name)).parameters[key].default for key in options}
            for name, options in CODING_OPTIONS.items() if options}


def coding_from_query(cfg: TrainConfig, query: Mapping[str, str]) -> TrainConfig:
    """The run's ``TrainConfig`` fed as the query says (``encoding``, ``steps`` and that coding's options).

    Options the query leaves out keep the run's own when it asks for the run's coding, else the coding's
    defaults. Unknown keys and options of another coding are refused, so a typo is never silently ignored.
    """
    unknown = sorted(set(query) - QUERY_KEYS)
    if unknown:
        raise InvalidValue(f"unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(QUERY_KEYS))}")
    encoding = query.get("encoding", cfg.encoding)
    if encoding not in ENCODINGS:
        raise InvalidValue(f"encoding must be one of {', '.join(ENCODINGS)}; got {encoding!r}")
    _check_input_kind(cfg.encoding, encoding)
    steps = _parse(query.get("steps", str(cfg.num_steps)), int, "steps")
    if not 1 <= steps <= MAX_STEPS:
        raise InvalidValue(f"steps must be a whole number from 1 to {MAX_STEPS}; got {steps}")
    options = dict(cfg.encoding_options) if encoding == cfg.encoding else {}
    for key in sorted(set(query) - {"run", "encoding", "steps"}):
        if key not in CODING_OPTIONS[encoding]:
            raise InvalidValue(f"{key} is not an option of {encoding} coding")
        options[key] = _parse(query[key], CODING_OPTIONS[encoding][key], key)
        low, high = OPTION_RANGES.get(key, (-math.inf, math.inf))
        if not low < options[key] <= high:
            raise InvalidValue(f"{key} must be above {low:g} and at most {high:g}; got {options[key]:g}")
    return inference.with_coding(cfg, encoding, options, steps)


def _check_input_kind(trained: str, asked: str) -> None:
    """A network reads what it was trained on: whole images (direct, rate, latency), rows, or events (frames)."""
    if (trained == "rows") != (asked == "rows"):
        raise InvalidValue("this network reads a picture row by row (train.encoding = rows): choose rows" if
                           trained == "rows" else "rows feeds one image row per step: only a network trained "
                           "on rows (train.encoding = rows) reads it; choose direct, rate or latency")
    if (trained == "frames") != (asked == "frames"):
        raise InvalidValue("this network reads events (train.encoding = frames): choose frames" if
                           trained == "frames" else "frames feeds the picture's events: only a network trained on "
                           "events (train.encoding = frames) reads them; choose direct, rate or latency")


def _parse(text: str, kind: type, name: str):
    """A query value as ``kind``: int, float or bool (``true`` / ``false``, ``1`` / ``0``)."""
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        return kind(text)
    except ValueError:
        words = {int: "a whole number", float: "a number", bool: "true or false"}[kind]
        raise InvalidValue(f"{name} must be {words}; got {text!r}") from None


def look(model: torch.nn.Module, cfg: TrainConfig, picture: bytes, *, max_pixels: int) -> dict:
    """Preprocess ``picture`` (an image file's bytes) as ``predict`` does, run it, and describe it for the page."""
    image = preprocess.to_mnist(preprocess.image_bytes(picture, name="the picture", max_pixels=max_pixels))
    return page_view(inference.trace(model, cfg, image), cfg, output_threshold(model))


def page_view(trace: inference.Trace, cfg: TrainConfig, threshold: float | None) -> dict:
    """A trace as JSON for the page: the picture, spikes as bits, output membranes, counts and the top three."""
    return {
        "prediction": trace.prediction,
        "top": _top(trace, cfg.prediction),
        "counts": trace.spike_counts,
        "image": [round(float(v), 3) for v in trace.image.flatten()],
        "input": bits(trace.input) if trace.input_is_spikes else None,
        "layers": [{"name": name, **bits(spikes)} for name, spikes in zip(trace.hidden_names, trace.hidden)],
        "output": {**bits(trace.spk), "mem": [[round(float(v), 4) for v in row] for row in trace.mem],
                   "threshold": threshold},
        "coding": {"encoding": cfg.encoding, "options": cfg.encoding_options, "steps": cfg.num_steps},
    }


def _top(trace: inference.Trace, rule: str) -> list[dict]:
    """The three best classes, the prediction first: by spike count, or by mean membrane where the run reads its
    class from membranes (a leaky-integrator readout never spikes)."""
    if rule != "membrane":  # ties in the count go as the rule breaks them (the membrane), never by class number
        return [{"class": c, "count": n} for c, n in trace.top(3, rule)]
    means = trace.mem.float().mean(0)
    return [{"class": c, "mean_membrane": round(float(means[c]), 3)} for c in trace.ranking(rule)[:3]]


def bits(spikes: torch.Tensor) -> dict:
    """Spikes ``[T, ...]`` as ``{"shape": [...], "bits": base64 of packbits}``, big-endian bit order."""
    packed = np.packbits(spikes.detach().cpu().numpy().reshape(-1) > 0)
    return {"shape": list(spikes.shape), "bits": base64.b64encode(packed.tobytes()).decode("ascii")}
