"""Options that several subcommands share, spelled and explained once."""

from __future__ import annotations


def add_device(parser, default: str | None = "auto", help_default: str = "auto") -> None:
    """``--device auto|cpu|cuda|cuda:N``: where the network runs (checked when the command runs)."""
    parser.add_argument("--device", default=default, metavar="DEVICE",
                        help=f"where the network runs: auto (a CUDA GPU when there is one), cpu, cuda or cuda:N "
                             f"(default: {help_default})")
