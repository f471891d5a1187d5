"""`spikevision events show FILE | --dataset NAME --index I`: the pictures of one sample of events.

A file is read by its suffix: ``.bin`` (ATIS: N-MNIST, N-Caltech101 with ``--sensor 240x180``), ``.aedat``
(AEDAT 3.1: DVS128 Gesture's recordings; ``--sensor`` for another camera), ``.aedat4`` (DV cameras; the sensor from
the file) or ``.h5`` (SHD; ``--index`` picks the sample). A dataset's sample comes from the event cache
(``--split``, ``--index``). It writes the ON/OFF movie (.gif and .mp4), the event raster, the (x, y, t) point
cloud and a grid of frames (``pictures.events``), and prints what the sample holds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spikevision import catalog
from spikevision.errors import InvalidValue


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "events", help="pictures of event-camera data: ON/OFF movie, raster, point cloud, frames",
        description="Draw one sample of events, from a file (.bin ATIS, .aedat AEDAT 3.1, .aedat4, .h5 SHD) or "
                    "from an event dataset's cache: its ON/OFF movie (.gif, .mp4), the event raster, the "
                    "(x, y, t) point cloud and a grid of frames.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="write the pictures of one sample")
    show.add_argument("file", nargs="?", type=Path, default=None, help="an event file (.bin, .aedat, .aedat4, .h5)")
    show.add_argument("--dataset", choices=catalog.EVENT_DATASETS, default=None,
                      help="a sample of this event dataset instead of a file")
    show.add_argument("--split", choices=("train", "test"), default="test", help="the dataset's split (default test)")
    show.add_argument("--index", type=int, default=0, help="which sample of the dataset or .h5 file (default 0)")
    show.add_argument("--sensor", default=None, metavar="WxH",
                      help="the camera's size for .bin and .aedat files (default 34x34 and 128x128)")
    show.add_argument("--bins", type=int, default=30, help="time bins of the movie (default 30)")
    show.add_argument("--fps", type=float, default=10, help="movie frames per second (default 10)")
    show.add_argument("--root", type=Path, default=None, help="data root (default $SPIKEVISION_DATA or the cache)")
    show.add_argument("--out", type=Path, required=True, help="directory for the pictures")
    show.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikevision.pictures import events as pictures

    if (args.file is None) == (args.dataset is None):
        raise InvalidValue("give an event FILE or --dataset NAME (one of them)")
    if not 1 <= args.bins <= 1000:
        raise InvalidValue(f"--bins must be in [1, 1000]; got {args.bins}")
    events, sensor, name, title = _from_dataset(args) if args.dataset else _from_file(args)
    written = pictures.save_all(events, sensor, args.out, name, title=title, bins=args.bins, fps=args.fps)
    span = (int(events["t"][-1]) - int(events["t"][0])) / 1000
    on = int((events["p"] > 0).sum())
    print(f"{title}: {len(events):,} events ({on:,} ON, {len(events) - on:,} OFF) over {span:.1f} ms on a "
          f"{sensor.width}x{sensor.height} sensor -> {args.out}")
    print("  " + ", ".join(path.name for path in written))
    return 0


def _from_dataset(args: argparse.Namespace):
    from spikevision.data import event_datasets

    split = event_datasets.load(args.dataset, args.split, args.root, download_missing=False)
    if not 0 <= args.index < len(split):
        raise InvalidValue(f"--index {args.index} is out of range; {args.dataset} {args.split} has samples "
                           f"0..{len(split) - 1}")
    label = split.classes[split.labels[args.index]]
    name = f"{args.dataset}-{args.split}{args.index}"
    return split.sample(args.index), split.sensor, name, f"{args.dataset} {args.split} sample {args.index} ({label})"


def _from_file(args: argparse.Namespace):
    from spikevision.data import aedat3, aedat4, atis, shd

    path, suffix = args.file, args.file.suffix.lower()
    if not path.is_file():
        raise InvalidValue(f"{path}: no such file")
    if suffix == ".bin":
        sensor = _sensor(args.sensor, atis.NMNIST)
        events = atis.read(path, sensor)
    elif suffix == ".aedat":
        sensor = _sensor(args.sensor, aedat3.DVS128)
        events = aedat3.read(path, sensor)
    elif suffix == ".aedat4":
        events, sensor = aedat4.read(path)
    elif suffix in (".h5", ".hdf5"):
        samples, labels = shd.read(path)
        if not 0 <= args.index < len(samples):
            raise InvalidValue(f"--index {args.index} is out of range; {path} has samples 0..{len(samples) - 1}")
        title = f"{path.name} sample {args.index} (label {labels[args.index]})"
        return samples[args.index], shd.SENSOR, f"{path.stem}-{args.index}", title
    else:
        raise InvalidValue(f"{path}: unknown event file suffix {suffix!r}; use .bin, .aedat, .aedat4 or .h5")
    return events, sensor, path.stem, path.name


def _sensor(text: str | None, default):
    from spikevision.data import events as ev

    if text is None:
        return default
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise InvalidValue(f"--sensor must be WIDTHxHEIGHT in pixels, e.g. 240x180; got {text!r}")
    return ev.Sensor(int(width), int(height))
