"""`spikevision neuron`: one neuron (LIF, or any registered one) driven by a chosen input current, and what beta
and threshold do.

Writes two figures into ``--out``:

- ``neuron-<input>.png``: input current, membrane potential with the threshold line, and output spikes
  on one time axis (the handout's ``plot_cur_mem_spk``);
- ``neuron-<input>-beta-threshold.png``: the same input through a faster and a slower leak (beta) and a
  lower and a higher threshold, side by side.

The neuron is any of ``spikevision.neurons.REGISTRY`` run step by step (``single_neuron.simulate_kind``): the
LIF with reset by subtraction, as in snnTorch's ``Leaky``, by default; ``--model cuba`` is snnTorch's
``Synaptic``, with its synaptic current drawn over the input; a neuron's other states are drawn as its
``NeuronKind.traces`` say.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from spikevision import neurons
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
    p.add_argument("--model", choices=tuple(neurons.REGISTRY), default="lif",
                   help="the neuron, by its registered name: lif (leaky, decays by beta), if (integrate-and-fire: "
                   "no leak, beta 1), cuba (current-based: the input charges a synaptic current that decays by "
                   "alpha), alif (adaptive threshold: each spike raises it, it decays back), rf "
                   "(resonate-and-fire: a damped oscillation) (default lif)")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="one of the neuron's own options, e.g. --option omega=0.3 for --model rf (repeatable)")
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


# The options spelled as flags of their own (the older neurons'); every other option comes by --option.
OPTION_FLAGS = {"alpha": "--alpha", "adapt_decay": "--adapt-decay", "adapt_step": "--adapt-step"}


def _check(args: argparse.Namespace, kind) -> float:
    """Check the numbers given and fill in ``args.options`` (the neuron's own, checked); return the amplitude."""
    if kind.fixed_beta is not None and args.beta not in (None, kind.fixed_beta):
        raise InvalidValue(f"--model {args.model} has no leak (beta {kind.fixed_beta:g}); leave out --beta "
                           f"{args.beta:g}, or use --model lif")
    args.beta = kind.fixed_beta if kind.fixed_beta is not None else (0.8 if args.beta is None else args.beta)
    if not 0 <= args.beta <= 1:
        raise InvalidValue(f"--beta must be in [0, 1]; got {args.beta:g}")
    args.options = kind.checked_options(_given_options(args, kind))
    if not 0 < args.threshold < math.inf:
        raise InvalidValue(f"--threshold must be a positive number; got {args.threshold:g}")
    if args.num_steps < 1:
        raise InvalidValue(f"--num-steps must be >= 1; got {args.num_steps}")
    amplitude = _AMPLITUDE[args.input] if args.amplitude is None else args.amplitude
    if args.amplitude is None:
        amplitude *= kind.drive(args.options)  # e.g. a synaptic current sums its input over ~1 / (1 - alpha) steps
    if not math.isfinite(amplitude):
        raise InvalidValue(f"--amplitude must be a finite number; got {amplitude:g}")
    return amplitude


def _given_options(args: argparse.Namespace, kind) -> dict:
    """The options given by their own flags and by --option NAME=VALUE; a flag of another neuron's is refused."""
    given = {}
    for name, flag in OPTION_FLAGS.items():
        value = getattr(args, name)
        if value is None:
            continue
        if name not in kind.options:
            owner = next(n for n in neurons.REGISTRY if name in neurons.kind(n).options)
            raise InvalidValue(f"{flag} belongs to --model {owner} ({neurons.kind(owner).options[name].help}); "
                               f"leave it out for --model {args.model}")
        given[name] = value
    for item in args.option:
        name, _, raw = item.partition("=")
        try:
            given[name.strip()] = float(raw)
        except ValueError:
            raise InvalidValue(f"--option takes NAME=VALUE with a number, e.g. --option omega=0.3; got {item!r}") \
                from None
    return given


def figure_title(model: str, settings: str, result: str) -> str:
    """The neuron figure's title, "MODEL neuron, settings: result", broken after the colon when it is long (the
    figure also wraps any title wider than itself, so nothing is cut)."""
    head = f"{model.upper()} neuron, {settings}:"
    return head + ("\n" if len(head) + len(result) > 75 else " ") + result


def run(args: argparse.Namespace) -> int:
    from spikevision.analysis import single_neuron as sn
    from spikevision.pictures import lab, plotting

    kind = neurons.kind(args.model)
    amplitude = _check(args, kind)
    current = sn.input_current(args.input, args.num_steps, amplitude, seed=args.seed)
    spk, mem, states = sn.simulate_kind(args.model, current, args.beta, args.threshold, args.options)
    what = sn.describe(args.input, amplitude, args.num_steps)
    count = int(spk.sum())
    first = int(spk.nonzero()[0, 0]) if count else None
    settings = ", ".join([f"beta {args.beta:g}", f"threshold {args.threshold:g}",
                          *(f"{name} {value:g}" for name, value in args.options.items())])
    title = figure_title(args.model, settings, f"{what}; {sn.spikes_text(count)}")
    stem = args.out / f"neuron-{args.input}"
    traces = [(panel, states[field], label) for field, panel, label in kind.traces]
    panels = "input current" + "".join(f" and {label}" for _, panel, label in kind.traces if panel == "current")
    threshold_text = "adaptive threshold" if any(panel == "threshold" for _, panel, _ in kind.traces) else "threshold"

    def simulate(current, beta, threshold):
        return sn.simulate_kind(args.model, current, beta, threshold, args.options)[:2]

    figure = lab.neuron_figure(current, spk, mem, args.threshold, title, traces=traces)
    written = [
        (plotting.save_figure(figure, f"{stem}.png"), f"{panels}, membrane with {threshold_text}, output spikes"),
        (plotting.save_figure(lab.neuron_comparison_figure(current, args.beta, args.threshold, what,
                                                           simulate=simulate),
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
