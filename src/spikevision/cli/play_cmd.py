"""`spikevision play [RUN]`: a local web page to draw a digit on and watch it travel through the network as spikes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikevision.cli._options import add_device, add_threads


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "play", help="draw a digit in the browser and watch it become spikes inside a trained network",
        description="Start a local web page: draw a digit (mouse, pen or touch) or upload a photo, and see the "
        "28x28 picture the network receives, its input spikes, every layer's raster, the output membranes and "
        "spike counts step by step, and the prediction (the same as spikevision predict). Without RUN it uses "
        "a network made for drawn digits, trained on first use (about two minutes) and kept in the data cache.")
    p.add_argument("run", type=Path, nargs="?", default=None,
                   help="a run directory, or a folder of runs to choose from on the page (default: the drawn network)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free port)")
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")
    p.add_argument("--root", type=Path, default=None, help="data directory (where the drawn network is kept)")
    add_device(p)
    add_threads(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikevision.play import server
    from spikevision.play.runs import RunEntry, RunLibrary, find_runs

    if not 0 <= args.port <= 65535:
        from spikevision.errors import InvalidValue

        raise InvalidValue(f"--port must be from 0 to 65535; got {args.port}")
    entries = find_runs(args.run) if args.run is not None else [RunEntry("drawn", _drawn_network(args.root))]
    library = RunLibrary(entries, args.device)
    library.get(library.names[0])  # load the first now: a broken run is an error here, not on the page
    sock = server.bind(args.host, args.port)
    address = server.address(sock, args.host)
    if args.host not in server.LOOPBACK:
        print(f"spikevision play: note: listening on {args.host}: anyone who can reach this machine can use the "
              "page; the default --host 127.0.0.1 keeps it to this machine", file=sys.stderr)
    runs = f"{len(entries)} runs" if len(entries) > 1 else entries[0].name
    app = server.create_app(library)

    def opened() -> None:
        if args.open:
            import webbrowser

            webbrowser.open(address)

    try:  # from the moment the address is out, Ctrl-C is how the server is meant to stop
        print(f"spikevision play: {address}  ({runs}; Ctrl-C stops)", flush=True)
        server.serve(app, sock, on_ready=opened)
    except KeyboardInterrupt:
        pass
    print("spikevision play: stopped", flush=True)
    return 0


def _drawn_network(root: Path | None) -> Path:
    """The drawn network's run directory, trained now (with progress) if the cache has none."""
    from spikevision.play import drawn_network
    from spikevision.runs.progress import ProgressPrinter

    path = drawn_network.cached(root)
    if path is not None:
        return path
    print("spikevision play: training the network for drawn digits (first use only; it is kept in "
          f"{drawn_network.network_dir(root).parent})", file=sys.stderr, flush=True)
    bar = ProgressPrinter()
    try:
        path = drawn_network.ensure(root, on_event=bar)
    except KeyboardInterrupt:
        bar.close()
        print("spikevision play: the drawn network's training stopped; the next spikevision play resumes it",
              file=sys.stderr)
        raise
    finally:
        bar.close()
    summary = drawn_network.summary(path)
    print(f"spikevision play: drawn network ready: {summary['test_accuracy'] * 100:.2f} % on MNIST's test set, "
          f"{summary['drawn_accuracy'] * 100:.1f} % on {summary['drawn_samples']} drawn digits", file=sys.stderr)
    return path
