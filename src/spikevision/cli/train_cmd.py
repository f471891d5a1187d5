"""`spikevision train`: train a preset into a run directory, with a progress bar and resumable checkpoints."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from spikevision import catalog
from spikevision.cli._options import add_device, add_threads
from spikevision.errors import InvalidValue


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a spiking network from a preset",
        description="Train a spiking network from a preset (configs: "
        + ", ".join(catalog.available_presets()) + ").",
    )
    p.add_argument("--preset", default=None, help="preset name or path to a .toml file (default: seed)")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<preset>)")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    p.add_argument("--seed", type=int, default=None, help="override train.seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.lr=1e-3 --set model.beta=0.9 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--root", type=Path, default=None, help="data directory (default: $SPIKEVISION_DATA or the cache)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(p, default=None, help_default="the config's train.device, auto in every preset; "
               "a resumed run may change it")
    add_threads(p)
    p.add_argument("--dist-backend", choices=("auto", "gloo", "nccl"), default="auto",
                   help="under torchrun: the process group's backend (default auto: NCCL when each process has "
                        "a GPU of its own, else gloo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikevision.runs import config as config_mod  # heavy imports only when the command runs
    from spikevision.runs import distributed, rundir, train
    from spikevision.runs.progress import ProgressPrinter

    main_process = distributed.is_main_process()  # under torchrun only rank 0 prints and draws

    out = args.out or Path("runs") / _run_name(args.preset or "seed")
    if args.resume:
        # A resumed run replays its own config.json: the options that started it may be given again, but a
        # changed setting would be silently ignored, so it is refused.
        config = config_mod.resume_config(train.load_run_config(out), args.preset, args.overrides,
                                          epochs=args.epochs, seed=args.seed)
    elif (out / rundir.CHECKPOINT).exists():  # train.fit refuses it too, in Python's words (resume=True)
        raise InvalidValue(f"{out} already holds a run; continue it with --resume, or choose another --out")
    else:
        config = config_mod.resolve(args.preset or "seed", args.overrides, epochs=args.epochs, seed=args.seed)
    # A finished run resumed: fit still checks its checkpoint, clears what a kill left half written and
    # rewrites the summary (the command redraws the curves), but there is nothing to train, and it says so.
    state = rundir.training_state(out, config) if args.resume and (out / rundir.SUMMARY).is_file() else None
    finished = state is not None and state.finished
    bar = ProgressPrinter(disable=args.quiet or finished)
    try:
        summary = train.fit(config, out, data_root=args.root, resume=args.resume,
                            on_event=bar if main_process else None, device=args.device,
                            dist_backend=args.dist_backend)
    except train.TrainingInterrupted as stop:
        bar.close()
        if not main_process:
            return 130
        root = f" --root {shlex.quote(str(args.root))}" if args.root else ""
        print(f"\nInterrupted at step {stop.step}; checkpoint saved. Resume with:\n"
              f"  spikevision train --out {shlex.quote(str(out))}{root} --resume", file=sys.stderr)
        return 130
    finally:
        bar.close()
    if not main_process:
        return 0
    from spikevision.pictures import figures  # matplotlib only once the training is done

    figures.training_curves(out)  # loss.png, accuracy.png, from the run's metrics.jsonl
    if finished:
        print(f"{out} is already {state.describe(out)}; nothing left to train. "
              "Start another run with another --out.")
        return 0
    print(
        f"{config.preset}: test accuracy {summary['test_accuracy'] * 100:.2f}% on {summary['test_samples']:,} "
        f"images, {summary['train_seconds']:.0f} s training, {summary['spikes_per_sample']:.0f} spikes/sample, "
        f"{summary['synops_per_sample']:.3g} SynOps/sample -> {out}"
    )
    return 0


def _run_name(preset: str) -> str:
    """The default run directory's name: the preset's file stem, never a path step like ".."."""
    name = Path(preset).stem
    return name if name and not name.startswith(".") else "run"
