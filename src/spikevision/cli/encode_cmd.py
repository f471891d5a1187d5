"""`spikevision encode`: section 4 of the lab handout: digits as spike trains, as animations and rasters.

For each chosen digit it writes (names say what they are, e.g. ``digit0-label7-rate.gif``):

- ``<digit>.gif`` and ``<digit>.mp4``: the spike movie, one frame per time step;
- ``<digit>-raster.png``: raster of all 784 input neurons; ``<digit>-neuron<i>.png``: one lit input neuron;
- rate: ``<digit>-reconstruction.png``: the image, and the mean over time at gain 1 beside the chosen gain;
- latency: ``<digit>-variants.png``: rasters of the log, linear and linear+normalize+clip codes;
- delta: ``<digit>-saccade.png``: the moving digit at its first moves and the ON/OFF spikes each makes;

and ``digits-<dataset>-<split>.png``, the chosen digits with their labels. It prints a table of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spikevision.errors import InvalidValue

# Options that belong to one coding: (option name on the command line, encoder keyword, codings).
_CODING_OPTIONS = (
    ("--gain", "gain", ("rate",)),
    ("--offset", "offset", ("rate",)),
    ("--tau", "tau", ("latency",)),
    ("--threshold", "threshold", ("latency", "delta")),
    ("--linear", "linear", ("latency",)),
    ("--normalize", "normalize", ("latency",)),
    ("--clip", "clip", ("latency",)),
    ("--off-spike", "off_spike", ("delta",)),
    ("--amplitude", "amplitude", ("delta",)),
)

_DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
# When the chosen gain is 1, the reconstruction compares it with the handout's low gain.
_LOW_GAIN = 0.25


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "encode",
        help="encode digits as spike trains; write animations, rasters and reconstructions",
        description="Encode a few digits with rate, latency or delta coding and write, per digit, the spike "
        "movie (.gif and .mp4, one frame per time step), a raster of all input neurons, the raster of "
        "one lit input neuron, and the coding's own figure (rate: the image its mean rate reconstructs; "
        "latency: the log, linear and normalized codes; delta: the moving digit and the spikes of each move); "
        "plus a grid of the digits.",
    )
    p.add_argument("--coding", required=True, choices=("rate", "latency", "delta", "dvs"),
                   help="spike coding; dvs: the digit shown to an emulated event camera along N-MNIST's saccades "
                        "(data.nmnist_sim), with the event pictures (movie, raster, point cloud, frames)")
    p.add_argument("--num-steps", type=int, default=200, help="time steps per digit (default 200)")
    rate = p.add_argument_group("rate coding")
    rate.add_argument("--gain", type=float, default=None, help="spike probability = gain * pixel + offset (default 1)")
    rate.add_argument("--offset", type=float, default=None, help="added to the spike probability (default 0)")
    lat = p.add_argument_group("latency coding")
    lat.add_argument("--tau", type=float, default=None, help="RC time constant in steps (default 5, as in the handout)")
    lat.add_argument("--threshold", type=float, default=None,
                     help="latency: pixels below it fire last (default 0.01); delta: smallest change that spikes "
                          "(default 0.1)")
    lat.add_argument("--linear", action="store_true", default=None, help="linear instead of logarithmic spike times")
    lat.add_argument("--normalize", action="store_true", default=None, help="stretch spike times over the whole window")
    lat.add_argument("--clip", action="store_true", default=None, help="drop pixels below the threshold")
    dlt = p.add_argument_group("delta coding (the digit moves along a small triangle, as in N-MNIST)")
    dlt.add_argument("--off-spike", action="store_true", default=None,
                     help="also emit -1 spikes where brightness falls")
    dlt.add_argument("--amplitude", type=int, default=None, help="largest shift of the digit in pixels (default 2)")
    p.add_argument("--samples", type=int, default=4, help="encode the first N digits of the split (default 4)")
    p.add_argument("--index", type=int, nargs="+", default=None, metavar="I",
                   help="encode these digits of the split instead of the first --samples")
    p.add_argument("--split", choices=("train", "test"), default="test", help="dataset split (default test)")
    p.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist", help="dataset (default mnist)")
    p.add_argument("--seed", type=int, default=0, help="seed of the rate code's random draws (default 0)")
    p.add_argument("--fps", type=float, default=25, help="animation frames per second (default 25)")
    p.add_argument("--root", type=Path, default=None,
                   help="data directory (default $SPIKEVISION_DATA or the user cache)")
    p.add_argument("--out", type=Path, required=True, help="directory for the pictures")
    p.set_defaults(func=run)


def coding_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The encoder keywords given on the command line; an option of another coding is an error."""
    kwargs = {}
    for flag, key, codings in _CODING_OPTIONS:
        value = getattr(args, key)
        if value is None:
            continue
        if args.coding not in codings:
            raise InvalidValue(f"{flag} applies to --coding {' or '.join(codings)}, not {args.coding}; leave it out")
        kwargs[key] = value
    if args.coding == "latency":
        from spikevision.data.encoding import HANDOUT_LATENCY

        kwargs = {**HANDOUT_LATENCY, **kwargs}
    return kwargs


def _chosen(args: argparse.Namespace, size: int) -> list[int]:
    if args.index is not None:
        bad = [i for i in args.index if not 0 <= i < size]
        if bad:
            raise InvalidValue(f"--index {bad[0]} is out of range; the {args.split} split has digits 0..{size - 1}")
        return list(dict.fromkeys(args.index))
    if not 1 <= args.samples <= size:
        raise InvalidValue(f"--samples must be in [1, {size}] for the {args.split} split; got {args.samples}")
    return list(range(args.samples))


def _describe(coding: str, kwargs: dict[str, Any]) -> str:
    shown = ", ".join(k if v is True else f"{k}={v:g}" for k, v in kwargs.items())
    return f"{coding} coding" + (f" ({shown})" if shown else "")


def run(args: argparse.Namespace) -> int:
    import torch

    from spikevision import data
    from spikevision.data import encoding
    from spikevision.pictures import plotting

    kwargs = coding_kwargs(args)
    if args.num_steps < 1:
        raise InvalidValue(f"--num-steps must be >= 1; got {args.num_steps}")
    if not 0 < args.fps <= 100:
        raise InvalidValue(f"--fps must be in (0, 100]; got {args.fps:g}")
    split = data.load(args.dataset, args.split, args.root)
    chosen = _chosen(args, len(split))
    images = split.images[chosen]  # (S, 28, 28) uint8
    labels = split.labels[chosen]
    x = data.to_float(images)  # (S, 1, 28, 28)

    if args.coding == "dvs":
        return _dvs(args, split, chosen)
    generator = torch.Generator().manual_seed(args.seed)
    if args.coding == "rate":
        kwargs["generator"] = generator
    spikes = encoding.encode(x, args.coding, args.num_steps, **kwargs)  # (T, S, 1, 28, 28)
    kwargs.pop("generator", None)
    comparison = _gain_comparison(x, spikes, args, kwargs, generator) if args.coding == "rate" else None

    args.out.mkdir(parents=True, exist_ok=True)
    description = _describe(args.coding, kwargs)
    signed = bool((spikes < 0).any())  # one colour scale for every digit's movie
    rows = [(index, label, int(spikes[:, s, 0].count_nonzero()),
             _digit_files(s, index, label, x, spikes[:, s, 0], signed, comparison, args, kwargs, description))
            for s, (index, label) in enumerate(zip(chosen, labels.tolist()))]

    grid = plotting.digit_grid_figure(images, labels, split.classes,
                                      title=f"{_DATASET_NAMES.get(split.dataset, split.dataset)} {args.split} set: "
                                      f"images {', '.join(map(str, chosen))} with their labels")
    grid_path = plotting.save_figure(grid, args.out / f"digits-{split.dataset}-{args.split}.png")

    print(f"{description}, {args.num_steps} steps, {len(chosen)} {split.dataset} {args.split} digits -> {args.out}")
    print(format_table(rows))
    print(f"grid of the digits: {grid_path.name}")
    return 0


def _dvs(args: argparse.Namespace, split, chosen: list[int]) -> int:
    """``--coding dvs``: each digit through the emulated event camera, and its event pictures."""
    from spikevision.data import nmnist_sim
    from spikevision.pictures import events as event_pictures

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in chosen:
        label = int(split.labels[index])
        events, _ = nmnist_sim.emulate_digits(split.images[index: index + 1].numpy(), seed=args.seed)
        title = f"{args.split.capitalize()} image {index} (label {label}) seen by an emulated event camera"
        files = event_pictures.save_all(events, nmnist_sim.SENSOR, args.out, f"digit{index}-label{label}-dvs",
                                        title=title, bins=args.num_steps, fps=args.fps)
        rows.append((index, label, len(events), [f.name for f in files]))
    print(f"dvs coding (emulated event camera, N-MNIST's saccades, {nmnist_sim.SENSOR.width}x"
          f"{nmnist_sim.SENSOR.height}), movies of {args.num_steps} time bins, {len(chosen)} {split.dataset} "
          f"{args.split} digits -> {args.out}")
    print(format_table(rows).replace("spikes", "events", 1))
    return 0


def _gain_comparison(x, spikes, args: argparse.Namespace, kwargs: dict, generator) -> dict:
    """Rate-coded spikes at gain 1 and at the other gain the lab compares (the run's own is one of the two)."""
    from spikevision.data import encoding

    gain = kwargs.get("gain", 1.0)
    other = _LOW_GAIN if gain == 1.0 else 1.0
    other_spikes = encoding.rate(x, args.num_steps, **{**kwargs, "gain": other}, generator=generator)
    return {1.0: other_spikes, gain: spikes} if other == 1.0 else {1.0: spikes, other: other_spikes}


def _digit_files(s: int, index: int, label: int, x, digit, signed: bool, comparison: dict | None,
                 args: argparse.Namespace, kwargs: dict, description: str) -> list[str]:
    """Write digit ``s``'s movie, raster, one input neuron and the coding's extra picture; their file names.

    ``digit``: its spikes ``(T, 28, 28)``; ``signed``: whether any digit's spikes are negative (delta coding).
    """
    from spikevision.pictures import animation, lab, plotting

    movie = {"cmap": plotting.ON_OFF_CMAP, "vmin": -1, "vmax": 1} if signed else {"cmap": "gray", "vmin": 0, "vmax": 1}
    out, stem = args.out, f"digit{index}-label{label}-{args.coding}"
    image = f"{args.split.capitalize()} image {index} (label {label})"
    what = f"{image}, {description}"
    written = [
        animation.save_animation(digit, out / f"{stem}.gif", fps=args.fps, **movie),
        animation.save_animation(digit, out / f"{stem}.mp4", fps=args.fps, **movie),
        lab.raster_file(digit, f"{what}: {int(digit.count_nonzero())} spikes", out / f"{stem}-raster.png"),
    ]
    neuron = lab.pick_neuron(digit.reshape(args.num_steps, -1), x[s, 0].reshape(-1))
    written.append(lab.input_neuron_file(digit, neuron, what, out / f"{stem}-neuron{neuron}.png"))
    if comparison is not None:
        by_gain = {g: sp[:, s, 0] for g, sp in comparison.items()}
        written.append(lab.reconstruction_file(x[s, 0], by_gain, image, out / f"{stem}-reconstruction.png"))
    if args.coding == "latency":
        written.append(lab.latency_variants_file(x[s : s + 1], args.num_steps, kwargs, image,
                                                out / f"{stem}-variants.png"))
    if args.coding == "delta":
        written.append(lab.saccade_file(x[s], digit, kwargs.get("amplitude"), what, out / f"{stem}-saccade.png"))
    return [p.name for p in written]


def format_table(rows: list[tuple[int, int, int, list[str]]]) -> str:
    """Table of digit index, label, spikes emitted and files written, one row per digit."""
    lines = [f"{'digit':>6}  {'label':>5}  {'spikes':>8}  files"]
    for index, label, count, files in rows:
        lines.append(f"{index:>6}  {label:>5}  {count:>8,}  {', '.join(files)}")
    return "\n".join(lines)
