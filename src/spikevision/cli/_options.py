"""Options that several subcommands share, spelled and explained once."""

from __future__ import annotations


def add_device(parser, default: str | None = "auto", help_default: str = "auto") -> None:
    """``--device auto|cpu|cuda|cuda:N``: where the network runs (checked when the command runs)."""
    parser.add_argument("--device", default=default, metavar="DEVICE",
                        help=f"where the network runs: auto (a CUDA GPU when there is one), cpu, cuda or cuda:N "
                             f"(default: {help_default})")


def add_threads(parser) -> None:
    """``--threads N``: CPU threads for torch and the numba kernels, instead of spikevision.runs.threads' choice."""
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads to use (default: all cores on a quiet machine, the free ones with "
                             "waiting threads asleep when other work keeps cores busy; OMP_NUM_THREADS too)")
