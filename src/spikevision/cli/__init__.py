"""The command line: the only place that parses arguments, prints, or exits.

Each subcommand lives in its own module ``<name>_cmd.py`` with two functions:
``register(subparsers)`` adds its parser and sets ``func``; ``func(args) -> int`` runs it.
The library's own errors (``errors.SpikevisionError``) and the operating system's (``OSError``: a full disk,
a read-only directory) become one line on stderr and exit code 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import warnings

from spikevision import __version__
from spikevision.errors import SpikevisionError, SpikevisionWarning

# Subcommand modules, in the order `--help` lists them.
COMMANDS = ("data", "encode", "events", "train", "evaluate", "predict", "neuron", "inspect", "report", "sweep",
            "export", "agreement", "play")

USER_ERRORS = (SpikevisionError, OSError)
# The errors of a place that cannot be written (an OSError naming it), and where each command writes, for
# one advice in every command's words; commands not named write into the run directory they are given.
_UNWRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ENOSPC,
               errno.EDQUOT, errno.EFBIG}
_WRITES_TO = {"data": "--root", "encode": "--out", "events": "--out", "neuron": "--out", "inspect": "--out",
              "sweep": "--out", "export": "--out", "train": "--out",
              "play": "--root"}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit code 2), like every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="spikevision",
        description="Spike encoding, spiking neural networks (LIF, IF, current-based, adaptive, recurrent), and "
        "pictures of what they do.",
    )
    parser.add_argument("--version", action="version", version=f"spikevision {__version__}")
    # Subparsers are made with the parent's class, so they share the one-line errors.
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"spikevision.cli.{name}_cmd").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error already reported in one line
        return stop.code if isinstance(stop.code, int) else 2
    if args.command is None:  # bare `spikevision`: what it can do, not an error
        parser.print_help()
        return 0
    try:
        with _OneLineNotes(args.command):
            _choose_threads(args)
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("spikevision: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        return _report(args.command, _unwritable(exc, args.command) if isinstance(exc, OSError) else exc)
    except MemoryError as exc:
        return _report(args.command, exc, "out of memory; use fewer time steps, a smaller batch or smaller images")
    except RuntimeError as exc:
        if "can't allocate memory" not in str(exc):  # torch's allocator; anything else is a bug to see in full
            raise
        return _report(args.command, exc, "out of memory; use fewer time steps, a smaller batch or smaller images")


def _choose_threads(args: argparse.Namespace) -> None:
    """The thread policy (``spikevision.runs.threads``), set before the command loads torch; said when it acts."""
    if args.command == "data":  # downloads and checks files: no thread pools
        return
    from spikevision.runs import threads

    asked = getattr(args, "threads", None)  # the policy itself was applied when the package was imported
    chosen = threads.apply(asked) if asked is not None else threads.AT_IMPORT
    if chosen and asked is None and sys.stderr.isatty():
        print(f"spikevision {args.command}: note: other work keeps the cores busy, so this run uses "
              f"{chosen['OMP_NUM_THREADS']} thread(s) that sleep when idle (--threads N to choose)", file=sys.stderr)


class _OneLineNotes:
    """Show the library's own warnings as one "note:" line each (no Python source line); others as usual."""

    def __init__(self, command: str):
        self.command = command

    def __enter__(self):
        self.previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, SpikevisionWarning):
                return self.previous(message, category, filename, lineno, file, line)
            print(f"spikevision {self.command}: note: {message}", file=sys.stderr)

        warnings.showwarning = show

    def __exit__(self, *exc):
        warnings.showwarning = self.previous
        return False


def _unwritable(exc: OSError, command: str) -> str | OSError:
    """An OSError about a place that cannot be written, said the same way by every command; others as they are."""
    if exc.filename is None or exc.errno not in _UNWRITABLE:
        return exc
    option = _WRITES_TO.get(command)
    advice = (f"choose a writable {option} directory" if option else
              "the run directory must be writable: copy it to a writable place and run the command there")
    return f"cannot write {exc.filename}: {exc.strerror}; {advice}"


def _report(command: str, exc: BaseException | str, advice: str = "") -> int:
    """Print ``exc`` as one line on stderr and return exit code 2."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
    print(f"spikevision {command}: error: {advice + ': ' if advice else ''}{text}", file=sys.stderr)
    return 2
