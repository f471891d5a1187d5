"""Run configuration: dataclass defaults <- preset TOML <- command-line overrides.

A run's config has two sections, ``model`` (``model.ModelConfig``) and ``train`` (``TrainConfig``).
Unknown keys are errors; the resolved config is saved beside every checkpoint as ``config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

import torch

# DATASETS, ENCODINGS, PRESET_DIR and available_presets are re-exported: config.DATASETS and so on, as before.
from spikevision.catalog import DATASETS as DATASETS
from spikevision.catalog import ENCODINGS as ENCODINGS
from spikevision.catalog import EVENT_DATASETS, ROW_STEPS, SPIKE_ENCODINGS, TRAIN_DATASETS
from spikevision.catalog import PRESET_DIR as PRESET_DIR
from spikevision.catalog import available_presets as available_presets
from spikevision.data import datasets as data_datasets
from spikevision.data import encoding
from spikevision.errors import InvalidValue
from spikevision.metrics import PREDICTION_RULES
from spikevision.model import ModelConfig
from spikevision.runs import devices
from spikevision.runs.precision import PRECISIONS
from spikevision.validators import check_choice, check_number, is_whole_number

LOSSES = ("membrane_ce", "mean_membrane_ce", "count_ce", "rate_mse")
MEMBRANE_LOSSES = ("membrane_ce", "mean_membrane_ce")  # what a readout without spikes can learn from
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("none", "cosine", "onecycle")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: data, input encoding, loss, optimiser and schedule. Defaults are the handout's."""

    dataset: str = "mnist"
    encoding: str = "direct"          # direct: the image as a constant input current at every step
    encoding_options: dict = field(default_factory=dict)  # e.g. {"gain": 0.5} or {"tau": 5, "linear": true}
    num_steps: int = 200
    batch_size: int = 512
    drop_last: bool = True            # the handout's train loader drops the last partial batch
    epochs: int = 3
    optimizer: str = "adam"
    lr: float = 5e-4
    betas: tuple = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: str = "none"
    loss: str = "membrane_ce"         # the handout's: sum over steps of cross-entropy of the output membrane
    correct_rate: float = 0.8         # rate_mse targets, as fractions of num_steps
    incorrect_rate: float = 0.2
    augment_shift: int = 0            # random translation of training images by up to this many pixels
    augment_flip: bool = False        # mirror half the training images left-right (clothes, not digits)
    augment_rotate: float = 0.0       # rotate training images by up to this many degrees either way
    augment_scale: float = 0.0        # scale them by a factor in [1 - s, 1 + s]
    augment_stroke: float = 0.0       # the chance that an image's strokes are made thicker or thinner
    augment_elastic: float = 0.0      # bend them by a smooth random field of up to this many pixels
    augment_erase: float = 0.0        # the chance that a random rectangle of an image is blanked (random erasing)
    augment_event_drop: float = 0.0   # event data: drop this share of each training sample's events (EventDrop)
    augment_time_jitter: float = 0.0  # event data: move each event in time by a Gaussian of this sd, microseconds
    augment_time_reverse: float = 0.0  # event data: the chance that a training sample is played backwards
    augment_polarity_flip: float = 0.0  # event data: the chance that a training sample's ON and OFF are swapped
    train_subset: int = 0             # >0: train on the first N images only (quick runs and tests)
    test_subset: int = 0              # >0: evaluate on the first N test images only (quick runs and tests)
    eval_batch_size: int = 1000
    checkpoint_every: int = 0         # >0: also checkpoint every N steps, not only at epoch ends
    seed: int = 0
    device: str = "auto"              # auto (CUDA when there is one), cpu, cuda, cuda:N; --device overrides it
    precision: str = "fp32"           # fp32, or bf16 / fp16 autocast (on a GPU, for speed)
    prediction: str = "spikes_then_membrane"  # how a class is read from the output (metrics.PREDICTION_RULES)

    def __post_init__(self) -> None:
        try:
            devices.check_name(self.device)
        except ValueError as exc:
            raise InvalidValue(f"train.{exc}") from None
        check_choice("train.precision", self.precision, PRECISIONS)
        check_choice("train.prediction", self.prediction, PREDICTION_RULES)
        check_choice("train.dataset", self.dataset, TRAIN_DATASETS)
        check_choice("train.encoding", self.encoding, ENCODINGS)
        check_choice("train.loss", self.loss, LOSSES)
        check_choice("train.optimizer", self.optimizer, OPTIMIZERS)
        check_choice("train.schedule", self.schedule, SCHEDULES)
        # bool is an int to Python; `epochs = true` in a preset is a mistake, not 1 epoch.
        for name in ("num_steps", "batch_size", "epochs", "eval_batch_size"):
            if not is_whole_number(getattr(self, name)) or getattr(self, name) < 1:
                raise InvalidValue(f"train.{name} must be a whole number >= 1, got {getattr(self, name)!r}")
        for name in ("augment_shift", "train_subset", "test_subset", "checkpoint_every", "seed"):
            if not is_whole_number(getattr(self, name)) or getattr(self, name) < 0:
                raise InvalidValue(f"train.{name} must be a whole number >= 0, got {getattr(self, name)!r}")
        check_number("train.lr", self.lr, lambda v: v > 0, "a positive number")
        check_number("train.weight_decay", self.weight_decay, lambda v: v >= 0, "a number >= 0")
        check_number("train.augment_rotate", self.augment_rotate, lambda v: 0 <= v <= 180, "degrees in [0, 180]")
        check_number("train.augment_scale", self.augment_scale, lambda v: 0 <= v < 1, "a number in [0, 1)")
        check_number("train.augment_stroke", self.augment_stroke, lambda v: 0 <= v <= 1, "a number in [0, 1]")
        check_number("train.augment_elastic", self.augment_elastic, lambda v: 0 <= v <= 10, "pixels in [0, 10]")
        check_number("train.augment_erase", self.augment_erase, lambda v: 0 <= v <= 1, "a number in [0, 1]")
        self._check_event_options()
        for name in ("correct_rate", "incorrect_rate"):
            check_number(f"train.{name}", getattr(self, name), lambda v: 0 <= v <= 1, "a number in [0, 1]")
        betas = self.betas
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise InvalidValue(f"train.betas must be two numbers like [0.9, 0.999], got {betas!r}")
        for beta in betas:
            check_number("train.betas", beta, lambda v: 0 <= v < 1, "two numbers in [0, 1) like [0.9, 0.999]")
        object.__setattr__(self, "betas", tuple(float(b) for b in betas))
        for name in ("drop_last", "augment_flip"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidValue(f"train.{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.encoding_options, dict):
            raise InvalidValue("train.encoding_options must be a table, e.g. {gain = 0.5}")
        if self.encoding == "rows" and (self.num_steps != ROW_STEPS or self.encoding_options):
            raise InvalidValue(f"train.encoding = rows feeds one image row per step: it needs train.num_steps = "
                               f"{ROW_STEPS} and no encoding_options (got {self.num_steps}, {self.encoding_options})")
        if (self.encoding == "frames") != (self.dataset in EVENT_DATASETS):
            raise InvalidValue(f"train.encoding = frames reads event datasets ({', '.join(EVENT_DATASETS)}), and "
                               f"they are read only as frames; got dataset {self.dataset!r} with encoding "
                               f"{self.encoding!r}")
        if self.encoding in SPIKE_ENCODINGS:
            # Encode a tiny input now, so a bad option is an error before a run directory is made.
            try:
                encoding.encode(torch.full((1, 2), 0.5), self.encoding, self.num_steps, **self.encoding_options)
            except (ValueError, TypeError) as exc:
                raise InvalidValue(f"train.encoding_options {self.encoding_options!r}: {exc}") from None

    def _check_event_options(self) -> None:
        """The event-only options: how frames are cut (``encoding_options``) and the augmentations on events."""
        for name in EVENT_AUGMENTATIONS:
            top = 10_000 if name == "augment_time_jitter" else 1
            check_number(f"train.{name}", getattr(self, name), lambda v, top=top: 0 <= v <= top,
                         f"a number in [0, {top}]")
            if getattr(self, name) and self.encoding != "frames":
                raise InvalidValue(f"train.{name} changes events: it needs an event dataset "
                                   f"({', '.join(EVENT_DATASETS)}), got {self.dataset!r}")
        if self.encoding != "frames" or not isinstance(self.encoding_options, dict):
            return
        unknown = set(self.encoding_options) - {"window_us"}
        window = self.encoding_options.get("window_us", 1)
        if unknown or not is_whole_number(window) or window < 1:
            raise InvalidValue(f"train.encoding = frames takes one option, window_us (whole microseconds >= 1: each "
                               f"step's window from a sample's first event; without it, the sample's span in "
                               f"num_steps equal bins); got {self.encoding_options}")


EVENT_AUGMENTATIONS = ("augment_event_drop", "augment_time_jitter", "augment_time_reverse", "augment_polarity_flip")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = ""

    def __post_init__(self) -> None:
        if self.model.readout == "li":  # no output spikes: nothing to count, in the loss or the prediction
            if self.train.loss not in MEMBRANE_LOSSES or self.train.prediction != "membrane":
                raise InvalidValue("model.readout = li has no output spikes: it needs train.loss = membrane_ce or "
                                   "mean_membrane_ce and "
                                   f"train.prediction = membrane (got {self.train.loss!r}, {self.train.prediction!r})")
        if self.train.encoding == "frames":
            record = data_datasets.EVENT_DATASETS[self.train.dataset]
            shape = [record.sensor[2], record.sensor[1], record.sensor[0]]
            if list(self.model.input_shape) != shape:
                raise InvalidValue(f"{self.train.dataset}'s frames are {shape} (polarities, height, width): it "
                                   f"needs model.input_shape = {shape} (got {list(self.model.input_shape)})")
            if self.model.num_classes != len(record.classes):
                raise InvalidValue(f"{self.train.dataset} has {len(record.classes)} classes: it needs "
                                   f"model.num_classes = {len(record.classes)} (got {self.model.num_classes})")
        row = [self.model.input_shape[0], 1, ROW_STEPS]
        if self.train.encoding == "rows" and list(self.model.input_shape) != row:
            raise InvalidValue(f"train.encoding = rows feeds one image row per step: it needs model.input_shape = "
                               f"{row} (got {list(self.model.input_shape)})")

    def to_dict(self) -> dict:
        return {"preset": self.preset, "model": self.model.to_dict(), "train": _dataclass_dict(self.train)}

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        # config.json may have been edited by hand: say what is wrong instead of failing deep inside.
        if not isinstance(data, dict):
            raise InvalidValue(f"a run config must be a table with model and train sections, got {type(data).__name__}")
        for section in ("model", "train"):
            if not isinstance(data.get(section, {}), dict):
                raise InvalidValue(f"config section {section!r} must be a table of key = value, "
                                   f"got {type(data[section]).__name__}")
        unknown = set(data) - {"preset", "model", "train"}
        if unknown:
            raise InvalidValue(f"unknown config section(s) {sorted(unknown)}; valid: model, train")
        return cls(
            model=ModelConfig.from_dict(dict(data.get("model", {}))),
            train=train_config_from_dict(dict(data.get("train", {}))),
            preset=str(data.get("preset", "")),
        )

    def save(self, path: Path) -> None:
        from spikevision.runs.checkpoint import write_atomic  # local: checkpoint imports config

        write_atomic(Path(path), (json.dumps(self.to_dict(), indent=2) + "\n").encode())


def train_config_from_dict(data: dict) -> TrainConfig:
    valid = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - valid
    if unknown:
        raise InvalidValue(f"unknown train key(s) {sorted(unknown)}; valid: {', '.join(sorted(valid))}")
    return TrainConfig(**data)


def load_preset(name_or_path: str) -> dict:
    """The raw dict of a preset: a name from ``configs/`` or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        found = path.is_file()
    else:
        # A bare name is only ever one of the shipped presets, never a way out of configs/ ("../x").
        path = PRESET_DIR / f"{name_or_path}.toml"
        found = name_or_path in available_presets()
    if not found:
        raise InvalidValue(
            f"unknown preset {name_or_path!r}; valid presets: {', '.join(available_presets())} "
            "(or a path to a .toml file)"
        )
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(f"preset {path} is not valid TOML: {exc}") from None
    data.setdefault("preset", path.stem)
    return data


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key=value`` overrides (``train.lr=1e-3``, ``model.beta=0.9`` or a key unique to one section).

    Values are read as TOML (``3``, ``1e-3``, ``true``, ``[784, 100, 10]``, ``"atan"``, ``{omega = 0.3}``);
    anything that is not valid TOML is taken as a plain string. ``model.neuron_options.NAME=VALUE`` sets one of
    the neuron's own options.
    """
    data = {**data, "model": dict(data.get("model", {})), "train": dict(data.get("train", {}))}
    sections = {"model": _field_names(ModelConfig), "train": _field_names(TrainConfig)}
    for item in overrides:
        if "=" not in item:
            raise InvalidValue(f"--set takes key=value, got {item!r} (e.g. --set train.lr=1e-3)")
        key, raw = (s.strip() for s in item.split("=", 1))
        if key.startswith("model.neuron_options."):  # one of the neuron's own options: model.neuron_options.omega=0.3
            options = dict(data["model"].get("neuron_options", {}))
            options[key.removeprefix("model.neuron_options.")] = _parse_value(raw)
            data["model"]["neuron_options"] = options
            continue
        section, _, name = key.rpartition(".")
        if not section:
            owners = [s for s, names in sections.items() if name in names]
            if len(owners) != 1:
                raise InvalidValue(
                    f"unknown key {key!r}; valid: "
                    + ", ".join(f"{s}.{n}" for s, names in sections.items() for n in sorted(names))
                )
            section = owners[0]
        if section not in sections or name not in sections[section]:
            raise InvalidValue(f"unknown key {key!r}; valid {section or 'model/train'} keys: "
                               + ", ".join(sorted(sections.get(section, sections["train"]))))
        data[section][name] = _parse_value(raw)
    return data


def resolve(preset: str, overrides: list[str] = (), **direct: Any) -> RunConfig:
    """Preset <- overrides <- direct train keys (e.g. ``epochs=1`` from ``--epochs``) -> a checked RunConfig."""
    data = apply_overrides(load_preset(preset), list(overrides))
    for name, value in direct.items():
        if value is not None:
            data["train"][name] = value
    return RunConfig.from_dict(data)


def differences(saved: dict, wanted: dict, prefix: str = "") -> list[str]:
    """Keys whose values differ between two nested config dicts, as "key: <saved> there, <wanted> now"."""
    out = []
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key != "encoding_options":
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} there, {b!r} now")
    return out


def resume_config(saved: RunConfig, preset: str | None, overrides: list[str] = (), **direct: Any) -> RunConfig:
    """``saved``, once the options of a resumed command are checked against it: options equal to the saved
    config are accepted (the command that started the run, with ``--resume`` added), differing ones refused.

    Args:
        saved: the run's ``config.json``.
        preset: the preset named on the command line, or None (then the overrides apply to ``saved``).
        overrides, direct: as for ``resolve``.
    """
    if preset is None and not overrides and all(v is None for v in direct.values()):
        return saved
    if preset is not None:
        wanted = resolve(preset, overrides, **direct)
    else:
        data = apply_overrides(saved.to_dict(), list(overrides))
        data["train"].update({k: v for k, v in direct.items() if v is not None})
        wanted = RunConfig.from_dict(data)
    changed = differences(saved.to_dict(), wanted.to_dict())
    if changed:
        raise InvalidValue("--resume continues the run with its saved config.json, and these options differ from "
                           f"it: {'; '.join(changed[:4])}; leave them out, or start a new run with another --out")
    return saved


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _field_names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _dataclass_dict(obj) -> dict:
    out = dataclasses.asdict(obj)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
