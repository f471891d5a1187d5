"""The command line: the only place that parses arguments, prints, or exits.

Each subcommand lives in its own module ``<name>_cmd.py`` with two functions:
``register(subparsers)`` adds its parser and sets ``func``; ``func(args) -> int`` runs it.
Library errors (ValueError, TypeError, FileNotFoundError, ...) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from spikevision import __version__

# Subcommand modules, in the order `--help` lists them.
COMMANDS = ("data", "encode", "train", "evaluate", "predict", "neuron", "inspect", "report")

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, PermissionError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikevision",
        description="Spike encoding, spiking neural networks of LIF neurons, and pictures of what they do.",
    )
    parser.add_argument("--version", action="version", version=f"spikevision {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"spikevision.cli.{name}_cmd").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("spikevision: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        print(f"spikevision {args.command}: error: {exc}", file=sys.stderr)
        return 2
