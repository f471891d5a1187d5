"""The experiment after the lab: one network trained with each input encoding over several numbers of time steps.

Each point of the grid (encoding x time steps) is an ordinary run directory ``<out>/<encoding>-<T>steps``
made by ``train.fit`` from the same preset and overrides, so every run can be inspected or reported on
like any other. A point whose ``summary.json`` exists is reused, and one stopped part-way is resumed
from its checkpoint: re-running an interrupted sweep continues where it stopped. After each point the
sweep writes ``sweep.csv`` and ``sweep.json`` into ``<out>``; ``spikevision sweep`` then draws ``sweep.png``
from them (``pictures.figures.sweep_picture``: test accuracy against time steps and against spikes per test
image, one line per encoding).

Encoding options: a point whose encoding is the preset's own keeps the preset's ``encoding_options``;
the others use :data:`DEFAULT_OPTIONS` (rate: gain 1; latency: linear, normalized to the window,
below-threshold pixels clipped, so any number of steps holds every spike).

Example::

    >>> points = run_sweep("runs/sweep", encodings=("direct", "rate"), steps=(5, 10), train_subset=2048)
    >>> print(format_table(points))
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from spikevision import catalog
from spikevision.errors import InvalidValue, NotFound
from spikevision.runs import config as config_mod
from spikevision.runs import rundir, train
from spikevision.runs.checkpoint import write_atomic
from spikevision.validators import is_whole_number

ENCODINGS = catalog.IMAGE_ENCODINGS  # a rows input needs its own network shape: not a sweep axis
DEFAULT_ENCODINGS = catalog.SWEEP_ENCODINGS
DEFAULT_STEPS = catalog.SWEEP_STEPS
# Small enough for a few minutes on 2 CPU cores with the quick preset (784-512-10), big enough to rank encodings.
DEFAULT_TRAIN_SUBSET = catalog.SWEEP_TRAIN_SUBSET
DEFAULT_EPOCHS = catalog.SWEEP_EPOCHS
DEFAULT_OPTIONS = {
    "direct": {},
    "rate": {},
    "latency": {"linear": True, "normalize": True, "clip": True},
}
# Train keys the sweep sets itself; a --set of one of them would be silently overwritten.
SWEPT_KEYS = {
    "encoding": "--encodings",
    "num_steps": "--steps",
    "encoding_options": "a preset file whose encoding is the one to change",
    "epochs": "--epochs",
    "train_subset": "--train-subset",
}
CSV_NAME, JSON_NAME, PLOT_NAME = "sweep.csv", "sweep.json", "sweep.png"
SUMMARY_NAME = rundir.SUMMARY

EventHandler = Callable[[str, dict], None]


@dataclass(frozen=True)
class SweepPoint:
    """One trained point of the sweep, as the table shows it.

    Fields:
        encoding, num_steps: what was varied.
        test_accuracy: fraction of all test images classified right (output neuron with most spikes).
        spikes_per_sample: spikes of the network's LIF layers (hidden + output) per test image.
        input_spikes_per_sample: spikes of the encoded input per test image (None for direct input,
            where the pixels are a current, not spikes).
        synops_per_sample: synaptic operations (a spike reaching a synapse) per test image.
        train_seconds: time spent in training steps (evaluation excluded).
        run: the point's run directory, relative to the sweep directory.
    """

    encoding: str
    num_steps: int
    test_accuracy: float
    spikes_per_sample: float
    input_spikes_per_sample: float | None
    synops_per_sample: float
    train_seconds: float
    run: str


COLUMNS = tuple(f.name for f in dataclasses.fields(SweepPoint))


def point_name(encoding: str, num_steps: int) -> str:
    """The run directory name of one point, e.g. ``rate-10steps``."""
    return f"{encoding}-{num_steps}steps"


def check_grid(encodings: Sequence[str], steps: Sequence[int]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Check the swept values; return the encodings in the given order and the steps in increasing order."""
    encodings, steps = tuple(encodings), tuple(steps)
    if not encodings:
        raise InvalidValue(f"no encodings to sweep; give some of {', '.join(ENCODINGS)}")
    unknown = [e for e in encodings if e not in ENCODINGS]
    if unknown:
        raise InvalidValue(f"unknown encoding(s) {', '.join(map(repr, unknown))}; choose from {', '.join(ENCODINGS)}")
    if not steps:
        raise InvalidValue("no numbers of time steps to sweep; give whole numbers >= 1, e.g. 5,10,25")
    bad = [s for s in steps if not is_whole_number(s) or s < 1]
    if bad:
        raise InvalidValue(f"numbers of time steps must be whole numbers >= 1; got {', '.join(map(repr, bad))}")
    for name, values in (("encoding", encodings), ("number of time steps", steps)):
        twice = sorted({v for v in values if values.count(v) > 1}, key=str)
        if twice:
            raise InvalidValue(f"each {name} may be swept once; repeated: {', '.join(map(str, twice))}")
    return encodings, tuple(sorted(steps))


def point_configs(
    preset: str = "quick",
    overrides: Sequence[str] = (),
    *,
    encodings: Sequence[str] = DEFAULT_ENCODINGS,
    steps: Sequence[int] = DEFAULT_STEPS,
    epochs: int = DEFAULT_EPOCHS,
    train_subset: int = DEFAULT_TRAIN_SUBSET,
) -> dict[tuple[str, int], config_mod.RunConfig]:
    """The resolved config of every point, checked before anything is trained.

    Args:
        preset: preset name or .toml path; overrides: ``key=value`` as ``spikevision train --set``.
        encodings, steps: the grid. epochs, train_subset: for every point (train_subset 0: all images).

    Returns:
        ``{(encoding, num_steps): RunConfig}`` in sweep order (encodings outer, steps inner).
    """
    encodings, steps = check_grid(encodings, steps)
    for item in overrides:
        key = item.split("=", 1)[0].strip().rpartition(".")[2]
        if key in SWEPT_KEYS:
            raise InvalidValue(f"--set {item!r}: the sweep sets train.{key} itself; use {SWEPT_KEYS[key]} instead")
    base = config_mod.resolve(preset, overrides, epochs=epochs, train_subset=train_subset)
    configs = {}
    for enc in encodings:
        options = base.train.encoding_options if enc == base.train.encoding else DEFAULT_OPTIONS[enc]
        for num_steps in steps:
            configs[enc, num_steps] = config_mod.resolve(
                preset, overrides, epochs=epochs, train_subset=train_subset,
                encoding=enc, num_steps=num_steps, encoding_options=dict(options),
            )
    return configs


def run_sweep(
    out_dir: str | Path,
    *,
    preset: str = "quick",
    overrides: Sequence[str] = (),
    encodings: Sequence[str] = DEFAULT_ENCODINGS,
    steps: Sequence[int] = DEFAULT_STEPS,
    epochs: int = DEFAULT_EPOCHS,
    train_subset: int = DEFAULT_TRAIN_SUBSET,
    data_root: str | Path | None = None,
    on_event: EventHandler | None = None,
    device: str = "auto",
) -> list[SweepPoint]:
    """Train (or reuse) every point of the grid into ``out_dir`` and write the table and the plot.

    Args:
        out_dir: the sweep directory; one run directory per point is made inside it.
        preset, overrides, encodings, steps, epochs, train_subset: as in :func:`point_configs`.
        data_root: where the datasets are cached (``data.fetch`` decides when None).
        device: where each point trains (``devices`` names); not part of a point's config, so a sweep
            started on one device may be finished on another.
        on_event: called as ``on_event(kind, info)``: "point" before each point (info: index, total,
            encoding, num_steps, run_dir, reused), then train.fit's own events for a point that trains,
            and "point_done" (info: index, total, point).

    Returns:
        One :class:`SweepPoint` per grid point, in sweep order.

    Raises:
        ValueError: a bad grid or override, or a point directory that holds a run of other settings.
        train.TrainingInterrupted: Ctrl-C; finished points and the interrupted one's checkpoint are kept.
    """
    emit = on_event or (lambda kind, info: None)
    out_dir = Path(out_dir)
    configs = point_configs(preset, overrides, encodings=encodings, steps=steps, epochs=epochs,
                            train_subset=train_subset)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidValue(f"the sweep directory {out_dir} is a file; choose another --out")
    # Every existing point is checked before the first one trains, so a wrong --out fails at once.
    states = {key: _point_state(out_dir / point_name(*key), cfg) for key, cfg in configs.items()}
    points: list[SweepPoint] = []
    for index, ((enc, num_steps), cfg) in enumerate(configs.items()):
        run_dir = out_dir / point_name(enc, num_steps)
        state = states[enc, num_steps]
        emit("point", {"index": index, "total": len(configs), "encoding": enc, "num_steps": num_steps,
                       "run_dir": str(run_dir), "reused": state == "finished"})
        if state != "finished":
            train.fit(cfg, run_dir, data_root=data_root, resume=state == "started", on_event=on_event,
                      device=device)
        points.append(read_point(run_dir, out_dir))
        write_results(out_dir, points, _meta(configs, preset, overrides, epochs, train_subset))
        emit("point_done", {"index": index, "total": len(configs), "point": points[-1]})
    return points


def _point_state(run_dir: Path, cfg: config_mod.RunConfig) -> str:
    """"new" (nothing there yet), "started" (config saved, not finished) or "finished" (summary.json there).

    Raises ValueError when the directory holds a run of other settings, which reusing would misreport.
    """
    if not (run_dir / rundir.CONFIG).is_file():
        if (run_dir / rundir.CHECKPOINT).exists():
            raise InvalidValue(f"{run_dir} holds a checkpoint but no config.json; delete it or choose another --out")
        return "new"
    saved = rundir.load_config(run_dir)
    differences = config_mod.differences(saved.to_dict(), cfg.to_dict())
    if differences:
        raise InvalidValue(f"{run_dir} holds a run with other settings ({'; '.join(differences[:4])}); "
                           "choose another --out, or delete that directory to train it again")
    return "finished" if (run_dir / SUMMARY_NAME).is_file() else "started"


def read_point(run_dir: str | Path, sweep_dir: str | Path) -> SweepPoint:
    """The table row of one finished run directory (its ``config.json``, ``summary.json`` and checkpoint)."""
    run_dir = Path(run_dir)
    cfg = rundir.load_config(run_dir).train
    path = run_dir / SUMMARY_NAME
    try:
        summary = json.loads(path.read_text())
        accuracy = float(summary["test_accuracy"])
        spikes = float(summary["spikes_per_sample"])
        synops = float(summary["synops_per_sample"])
        seconds = float(summary["train_seconds"])
    except FileNotFoundError:
        raise NotFound(f"{run_dir} has no {SUMMARY_NAME}: its training has not finished") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidValue(f"{path} is not a readable run summary ({exc!r}); "
                           f"delete {run_dir} to train it again") from None
    input_spikes = summary.get("input_spikes_per_sample")  # None for direct input
    return SweepPoint(
        encoding=cfg.encoding,
        num_steps=cfg.num_steps,
        test_accuracy=accuracy,
        spikes_per_sample=spikes,
        input_spikes_per_sample=None if input_spikes is None else float(input_spikes),
        synops_per_sample=synops,
        train_seconds=seconds,
        run=run_dir.relative_to(sweep_dir).as_posix() if run_dir.is_relative_to(sweep_dir) else str(run_dir),
    )


def _meta(configs: dict, preset: str, overrides: Sequence[str], epochs: int, train_subset: int) -> dict:
    first = next(iter(configs.values()))
    return {
        "preset": first.preset,
        "overrides": list(overrides),
        "epochs": epochs,
        "train_subset": train_subset,
        "dataset": first.train.dataset,
        "encodings": list(dict.fromkeys(enc for enc, _ in configs)),
        "steps": sorted({steps for _, steps in configs}),
        "encoding_options": {enc: cfg.train.encoding_options for (enc, _), cfg in configs.items()},
    }


def write_results(out_dir: str | Path, points: Sequence[SweepPoint], meta: dict | None = None) -> list[Path]:
    """Write ``sweep.csv`` and ``sweep.json`` (``meta`` and the points) into ``out_dir``; ``sweep.png`` is drawn
    from them by ``pictures.figures.sweep_picture`` (the command does, after each point).

    Returns:
        The two paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for point in points:
        writer.writerow({k: "" if v is None else v for k, v in dataclasses.asdict(point).items()})
    write_atomic(out_dir / CSV_NAME, text.getvalue().encode())
    payload = {**(meta or {}), "columns": list(COLUMNS), "points": [dataclasses.asdict(p) for p in points]}
    rundir.write_json(out_dir / JSON_NAME, payload)
    return [out_dir / CSV_NAME, out_dir / JSON_NAME]


def title(meta: dict) -> str:
    """The sweep picture's title: what was swept, and each point's training."""
    if not meta:
        return "Test accuracy by input encoding"
    subset, epochs = _budget(meta)
    return f"Test accuracy by input encoding: {meta.get('preset') or 'run'} preset, {subset}, {epochs}"


def _budget(meta: dict) -> tuple[str, str]:
    """Every point's training: its images ("10,000 training images") and its epochs ("1 epoch")."""
    subset = f"{meta['train_subset']:,} training images" if meta.get("train_subset") else "all training images"
    epochs = meta.get("epochs", 1)
    return subset, f"{epochs} epoch{'s' if epochs != 1 else ''}"


def budget_note(meta: dict) -> str | None:
    """What the picture's points have in common, said under it: the same training for every T, so that a line
    falling as T grows is not read as time steps doing harm."""
    if not meta:
        return None
    subset, epochs = _budget(meta)
    return (f"Every point had the same training ({epochs} on {subset}); a longer T gets no more of it. So this "
            "compares the encodings at one budget: it does not show that more time steps hurt (give every point "
            "more training with --epochs and --train-subset 0).")


def format_table(points: Sequence[SweepPoint]) -> str:
    """The sweep as a fixed-width text table, one row per point."""
    header = (f"{'encoding':<9} {'steps':>5} {'test acc':>8} {'spikes/img':>10} {'input spikes/img':>16} "
              f"{'SynOps/img':>11} {'train s':>8}  run")
    lines = [header]
    for p in points:
        inp = "-" if p.input_spikes_per_sample is None else f"{p.input_spikes_per_sample:,.1f}"
        lines.append(f"{p.encoding:<9} {p.num_steps:>5} {p.test_accuracy * 100:>7.2f}% {p.spikes_per_sample:>10,.1f} "
                     f"{inp:>16} {p.synops_per_sample:>11,.0f} {p.train_seconds:>8.1f}  {p.run}")
    return "\n".join(lines)


def read_results(out_dir: str | Path) -> tuple[dict, list[SweepPoint]]:
    """``sweep.json`` of a sweep directory -> (its metadata, its points)."""
    path = Path(out_dir) / JSON_NAME
    if not path.is_file():
        raise NotFound(f"{out_dir} has no {JSON_NAME}; run spikevision sweep --out {out_dir} first")
    try:
        payload = json.loads(path.read_text())
        points = [SweepPoint(**p) for p in payload.pop("points")]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidValue(f"{path} is not a sweep table ({exc!r})") from None
    payload.pop("columns", None)
    return payload, points
