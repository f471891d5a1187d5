"""`spikevision neuron`: one LIF neuron driven by a chosen input current, and what beta and threshold do.

Writes two figures into ``--out``:

- ``neuron-<input>.png``: input current, membrane potential with the threshold line, and output spikes
  on one time axis (the handout's ``plot_cur_mem_spk``);
- ``neuron-<input>-beta-threshold.png``: the same input through a faster and a slower leak (beta) and a
  lower and a higher threshold, side by side.

The neuron is ``lif.lif_sequence`` with reset by subtraction, as in snnTorch's ``Leaky`` (``--model cuba``:
``cuba.cuba_step``, snnTorch's ``Synaptic``, with its synaptic current drawn over the input).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from spikevision.catalog import NEURON_AMPLITUDE as _AMPLITUDE
from spikevision.catalog import NEURON_INPUTS as INPUTS
from spikevision.catalog import NEURON_RATE_PROBABILITY as RATE_PROBABILITY
from spikevision.errors import InvalidValue


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "neuron",
        help="simulate one neuron (LIF, IF, current-based, adaptive); plot current, membrane and spikes, "
        "and what beta and threshold do",
        description="Drive one neuron (leaky integrate-and-fire unless --model says otherwise) with an input "
        "current and plot the current (and a cuba neuron's synaptic current), the membrane potential with its "
        "threshold (an alif neuron's moving one), and the output spikes; and compare the same input through "
        "other betas and thresholds. LIF dynamics: U[t] = beta*U[t-1] + I[t] - S[t-1]*threshold, "
        "S[t] = 1 when U[t] > threshold.",
    )
    p.add_argument("--input", choices=INPUTS, default="step",
                   help="step: 0, then a constant current from step T/20 on; pulse: the current for T/4 steps, "
                   f"then 0; rate: random input spikes with probability {RATE_PROBABILITY} per step (default step)")
    p.add_argument("--amplitude", type=float, default=None,
                   help="input current (per input spike for rate); default " +
                   ", ".join(f"{k} {v:g}" for k, v in _AMPLITUDE.items()) + " (times 1 - alpha, at least 0.1, "
                   "for --model cuba)")
    p.add_argument("--model", choices=("lif", "if", "cuba", "alif"), default="lif",
                   help="lif (leaky, decays by beta), if (integrate-and-fire: no leak, beta 1), cuba "
                   "(current-based: the input charges a synaptic current that decays by alpha and feeds the "
                   "membrane) or alif (adaptive threshold: each spike raises it, it decays back) (default lif)")
    p.add_argument("--alpha", type=float, default=None,
                   help="--model cuba: the synaptic current's decay per step, in [0, 1] (default 0.9)")
    p.add_argument("--adapt-decay", type=float, default=None,
                   help="--model alif: the threshold's decay back per step, in [0, 1] (default 0.95)")
    p.add_argument("--adapt-step", type=float, default=None,
                   help="--model alif: how much each spike raises the threshold, >= 0 (default 0.2)")
    p.add_argument("--beta", type=float, default=None,
                   help="membrane decay per step, in [0, 1] (default 0.8; always 1 for --model if)")
    p.add_argument("--threshold", type=float, default=1.0, help="firing threshold, > 0 (default 1)")
    p.add_argument("--num-steps", type=int, default=200, help="time steps (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input spikes of --input rate (default 0)")
    p.add_argument("--out", type=Path, required=True, help="directory for the figures")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> float:
    """Check the numbers given; return the amplitude to use."""
    if args.model == "if" and args.beta not in (None, 1):
        raise InvalidValue(f"--model if has no leak (beta 1); leave out --beta {args.beta:g}, or use --model lif")
    args.beta = 1.0 if args.model == "if" else (0.8 if args.beta is None else args.beta)
    if not 0 <= args.beta <= 1:
        raise InvalidValue(f"--beta must be in [0, 1]; got {args.beta:g}")
    if args.model != "cuba" and args.alpha is not None:
        raise InvalidValue(f"--alpha is the synaptic decay of --model cuba; leave it out for --model {args.model}")
    args.alpha = (0.9 if args.alpha is None else args.alpha) if args.model == "cuba" else None
    if args.alpha is not None and not 0 <= args.alpha <= 1:
        raise InvalidValue(f"--alpha must be in [0, 1]; got {args.alpha:g}")
    _check_adaptation(args)
    if not 0 < args.threshold < math.inf:
        raise InvalidValue(f"--threshold must be a positive number; got {args.threshold:g}")
    if args.num_steps < 1:
        raise InvalidValue(f"--num-steps must be >= 1; got {args.num_steps}")
    amplitude = _AMPLITUDE[args.input] if args.amplitude is None else args.amplitude
    if args.amplitude is None and args.alpha is not None:
        # The synaptic current sums the input over about 1 / (1 - alpha) steps: the same drive as the LIF's.
        amplitude *= max(0.1, 1 - args.alpha)
    if not math.isfinite(amplitude):
        raise InvalidValue(f"--amplitude must be a finite number; got {amplitude:g}")
    return amplitude


def _simulator(args: argparse.Namespace, sn):
    """``simulate(current, beta, threshold) -> (spk, mem)`` for the chosen model, its other settings bound."""
    if args.model == "alif":
        return lambda current, beta, threshold: sn.simulate_alif(current, beta, threshold, args.adapt_decay,
                                                                 args.adapt_step)[:2]
    if args.model == "cuba":
        return lambda current, beta, threshold: sn.simulate_cuba(current, args.alpha, beta, threshold)[:2]
    return sn.simulate


def _check_adaptation(args: argparse.Namespace) -> None:
    """--adapt-decay and --adapt-step: for --model alif only, with their defaults and ranges."""
    for option, name, default, ok, rule in (("--adapt-decay", "adapt_decay", 0.95, lambda v: 0 <= v <= 1, "in [0, 1]"),
                                            ("--adapt-step", "adapt_step", 0.2, lambda v: 0 <= v < math.inf, ">= 0")):
        value = getattr(args, name)
        if args.model != "alif":
            if value is not None:
                raise InvalidValue(f"{option} belongs to --model alif; leave it out for --model {args.model}")
            continue
        value = default if value is None else value
        if not ok(value):
            raise InvalidValue(f"{option} must be {rule}; got {value:g}")
        setattr(args, name, value)


def figure_title(model: str, settings: str, result: str) -> str:
    """The neuron figure's title, "MODEL neuron, settings: result", broken after the colon when it is long (the
    figure also wraps any title wider than itself, so nothing is cut)."""
    head = f"{model.upper()} neuron, {settings}:"
    return head + ("\n" if len(head) + len(result) > 75 else " ") + result


def run(args: argparse.Namespace) -> int:
    from spikevision.analysis import single_neuron as sn
    from spikevision.pictures import lab, plotting

    amplitude = _check(args)
    current = sn.input_current(args.input, args.num_steps, amplitude, seed=args.seed)
    syn = adaptive = None
    if args.model == "alif":
        spk, mem, adaptive = sn.simulate_alif(current, args.beta, args.threshold, args.adapt_decay, args.adapt_step)
    elif args.alpha is None:
        spk, mem = sn.simulate(current, args.beta, args.threshold)
    else:
        spk, mem, syn = sn.simulate_cuba(current, args.alpha, args.beta, args.threshold)
    what = sn.describe(args.input, amplitude, args.num_steps)
    count = int(spk.sum())
    first = int(spk.nonzero()[0, 0]) if count else None
    settings = (("" if args.alpha is None else f"alpha {args.alpha:g}, ")
                + f"beta {args.beta:g}, threshold {args.threshold:g}")
    if args.model == "alif":
        settings += f", adapt_decay {args.adapt_decay:g}, adapt_step {args.adapt_step:g}"
    title = figure_title(args.model, settings, f"{what}; {sn.spikes_text(count)}")
    stem = args.out / f"neuron-{args.input}"
    panels = "input current" + (" and synaptic current" if syn is not None else "")
    threshold_text = "adaptive threshold" if adaptive is not None else "threshold"
    figure = lab.neuron_figure(current, spk, mem, args.threshold, title, synaptic=syn, adaptive=adaptive)
    written = [
        (plotting.save_figure(figure, f"{stem}.png"), f"{panels}, membrane with {threshold_text}, output spikes"),
        (plotting.save_figure(lab.neuron_comparison_figure(current, args.beta, args.threshold, what,
                                                           simulate=_simulator(args, sn)),
                              f"{stem}-beta-threshold.png"),
         "betas " + ", ".join(f"{b:g}" for b in sn.compared_betas(args.beta)) + " and thresholds "
         + ", ".join(f"{t:g}" for t in sn.compared_thresholds(args.threshold)) + " side by side"),
    ]
    when = f"first at step {first}" if first is not None else "none: the membrane never crossed the threshold"
    print(f"{args.model.upper()} neuron, {what}, {settings}, {args.num_steps} steps: "
          f"{sn.spikes_text(count)}, {when}")
    for path, content in written:
        print(f"  {path}  ({content})")
    return 0
