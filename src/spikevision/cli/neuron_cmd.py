"""`spikevision neuron`: one LIF neuron driven by a chosen input current, and what beta and threshold do.

Writes two figures into ``--out``:

- ``neuron-<input>.png``: input current, membrane potential with the threshold line, and output spikes
  on one time axis (the handout's ``plot_cur_mem_spk``);
- ``neuron-<input>-beta-threshold.png``: the same input through a faster and a slower leak (beta) and a
  lower and a higher threshold, side by side.

The neuron is ``neuron.lif_sequence`` with reset by subtraction, as in snnTorch's ``Leaky``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from spikevision.errors import InvalidValue

INPUTS = ("step", "pulse", "rate")
# Default strength per input: each drives the default neuron (beta 0.8, threshold 1) to fire regularly.
_AMPLITUDE = {"step": 0.3, "pulse": 0.5, "rate": 0.6}
# Chance of an input spike per step for --input rate.
RATE_PROBABILITY = 0.5


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "neuron",
        help="simulate one LIF neuron; plot current, membrane and spikes, and what beta and threshold do",
        description="Drive one leaky integrate-and-fire neuron with an input current and plot the current, "
        "the membrane potential with its threshold, and the output spikes; and compare the same input "
        "through other betas and thresholds. Dynamics: U[t] = beta*U[t-1] + I[t] - S[t-1]*threshold, "
        "S[t] = 1 when U[t] > threshold.",
    )
    p.add_argument("--input", choices=INPUTS, default="step",
                   help="step: 0, then a constant current from step T/20 on; pulse: the current for T/4 steps, "
                   f"then 0; rate: random input spikes with probability {RATE_PROBABILITY} per step (default step)")
    p.add_argument("--amplitude", type=float, default=None,
                   help="input current (per input spike for rate); default " +
                   ", ".join(f"{k} {v:g}" for k, v in _AMPLITUDE.items()))
    p.add_argument("--beta", type=float, default=0.8, help="membrane decay per step, in [0, 1] (default 0.8)")
    p.add_argument("--threshold", type=float, default=1.0, help="firing threshold, > 0 (default 1)")
    p.add_argument("--num-steps", type=int, default=200, help="time steps (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input spikes of --input rate (default 0)")
    p.add_argument("--out", type=Path, required=True, help="directory for the figures")
    p.set_defaults(func=run)


def onset(num_steps: int) -> int:
    """First step of the step and pulse inputs: after a short silence that shows the resting neuron."""
    return num_steps // 20


def input_current(kind: str, num_steps: int, amplitude: float, *, seed: int = 0):
    """The input current of one neuron over time.

    Args:
        kind: "step" (0 until ``onset``, then ``amplitude``), "pulse" (``amplitude`` for ``num_steps // 4``
            steps from ``onset``, at least one) or "rate" (``amplitude`` at each step with probability
            ``RATE_PROBABILITY``, drawn from a generator seeded with ``seed``).
        num_steps: T.
        amplitude: the current's strength.

    Returns:
        float32 ``[T]``.
    """
    import torch

    current = torch.zeros(num_steps)
    start = onset(num_steps)
    if kind == "step":
        current[start:] = amplitude
    elif kind == "pulse":
        current[start : start + max(1, num_steps // 4)] = amplitude
    elif kind == "rate":
        draws = torch.rand(num_steps, generator=torch.Generator().manual_seed(seed))
        current = (draws < RATE_PROBABILITY).float() * amplitude
    else:
        raise InvalidValue(f"unknown input {kind!r}; choose one of {', '.join(INPUTS)}")
    return current


def simulate(current, beta: float, threshold: float):
    """One LIF neuron (reset by subtraction) over ``current`` ``[T]`` -> ``(spk [T], mem [T])``."""
    from spikevision import neuron

    spk, mem, _ = neuron.lif_sequence(current[:, None], None, neuron.LIFParams(beta, threshold))  # (T, 1)
    return spk[:, 0], mem[:, 0]


def compared_betas(beta: float) -> tuple[float, ...]:
    """``beta`` with twice and half its leak ``1 - beta`` (about half and twice its time constant).

    beta = 1 has no leak to scale, so it is shown beside 0.9 and 0.95.
    """
    if beta == 1:
        return (0.9, 0.95, 1.0)
    leak = 1.0 - beta
    return tuple(dict.fromkeys(round(1.0 - v, 6) for v in (min(1.0, 2 * leak), leak, leak / 2)))


def compared_thresholds(threshold: float) -> tuple[float, ...]:
    """Half, the same and twice ``threshold``."""
    return (threshold / 2, threshold, threshold * 2)


def _time_constant(beta: float) -> str:
    """tau = -1 / ln(beta) steps: the time the membrane takes to decay to 1/e without input."""
    if beta == 1:
        return "no leak"
    if beta == 0:
        return "no memory"
    return f"tau {-1.0 / math.log(beta):.3g} steps"


def _spikes(n: int) -> str:
    return f"{n} spike{'s' if n != 1 else ''}"


def figure_neuron(current, spk, mem, threshold: float, title: str):
    """Current, membrane with threshold and spikes of one neuron (8 x 6 inches)."""
    from spikevision import plotting

    fig, axes = plotting.new_figure(3, 1, figsize=(8, 6), sharex=True, height_ratios=[1, 1, 0.4])
    plotting.current_membrane_spikes(axes, current, mem, spk, threshold, title=title)
    return fig


def figure_comparison(current, beta: float, threshold: float, what: str):
    """Membrane and spikes for three betas (top) and three thresholds (bottom) on the same input (12 x 8 inches)."""
    from spikevision import plotting

    runs = [[(b, threshold) for b in compared_betas(beta)], [(beta, t) for t in compared_thresholds(threshold)]]
    ncols = max(len(r) for r in runs)
    fig, axes = plotting.new_figure(4, ncols, figsize=(4 * ncols, 8), sharex=True,
                                    height_ratios=[1, 0.22, 1, 0.22])
    for row, settings in enumerate(runs):
        mem_axes, spk_axes = axes[2 * row], axes[2 * row + 1]
        results = [simulate(current, b, t) for b, t in settings]
        # One y range per row, threshold lines included, so the panels compare at a glance.
        top = max(max(float(mem.max()) for _, mem in results), max(t for _, t in settings)) * 1.08
        bottom = min(0.0, min(float(mem.min()) for _, mem in results)) * 1.08
        for col, ((b, t), (spk, mem)) in enumerate(zip(settings, results)):
            varied = f"beta {b:g} ({_time_constant(b)})" if row == 0 else f"threshold {t:g}"
            plotting.membrane_traces(mem_axes[col], mem, t, title=f"{varied}: {_spikes(int(spk.sum()))}")
            plotting.neuron_raster(spk_axes[col], spk, title="")
            mem_axes[col].set_ylim(bottom, top)
            mem_axes[col].set_xlabel("")
            if row == 0:
                spk_axes[col].set_xlabel("")
            if col:
                mem_axes[col].set_ylabel("")
        for ax in (*mem_axes[len(settings):], *spk_axes[len(settings):]):
            ax.set_axis_off()
    fig.suptitle(f"What beta and threshold do: {what}; top: threshold {threshold:g}, bottom: beta {beta:g}",
                 fontsize=plotting.STYLE["title_size"])
    return fig


def _check(args: argparse.Namespace) -> float:
    """Check the numbers given; return the amplitude to use."""
    if not 0 <= args.beta <= 1:
        raise InvalidValue(f"--beta must be in [0, 1]; got {args.beta:g}")
    if not 0 < args.threshold < math.inf:
        raise InvalidValue(f"--threshold must be a positive number; got {args.threshold:g}")
    if args.num_steps < 1:
        raise InvalidValue(f"--num-steps must be >= 1; got {args.num_steps}")
    amplitude = _AMPLITUDE[args.input] if args.amplitude is None else args.amplitude
    if not math.isfinite(amplitude):
        raise InvalidValue(f"--amplitude must be a finite number; got {amplitude:g}")
    return amplitude


def _describe(kind: str, amplitude: float, num_steps: int) -> str:
    start = onset(num_steps)
    if kind == "step":
        return f"step input {amplitude:g} from step {start}"
    if kind == "pulse":
        return f"pulse input {amplitude:g} for steps {start}-{start + max(1, num_steps // 4) - 1}"
    return f"rate input: {amplitude:g} per input spike, probability {RATE_PROBABILITY:g} per step"


def run(args: argparse.Namespace) -> int:
    from spikevision import plotting

    amplitude = _check(args)
    current = input_current(args.input, args.num_steps, amplitude, seed=args.seed)
    spk, mem = simulate(current, args.beta, args.threshold)
    what = _describe(args.input, amplitude, args.num_steps)
    count = int(spk.sum())
    first = int(spk.nonzero()[0, 0]) if count else None
    title = f"LIF neuron, beta {args.beta:g}, threshold {args.threshold:g}: {what}; {_spikes(count)}"
    stem = args.out / f"neuron-{args.input}"
    written = [
        (plotting.save_figure(figure_neuron(current, spk, mem, args.threshold, title), f"{stem}.png"),
         "input current, membrane with threshold, output spikes"),
        (plotting.save_figure(figure_comparison(current, args.beta, args.threshold, what), f"{stem}-beta-threshold.png"),
         "betas " + ", ".join(f"{b:g}" for b in compared_betas(args.beta)) + " and thresholds "
         + ", ".join(f"{t:g}" for t in compared_thresholds(args.threshold)) + " side by side"),
    ]
    when = f"first at step {first}" if first is not None else "none: the membrane never crossed the threshold"
    print(f"LIF neuron, {what}, beta {args.beta:g}, threshold {args.threshold:g}, {args.num_steps} steps: "
          f"{_spikes(count)}, {when}")
    for path, content in written:
        print(f"  {path}  ({content})")
    return 0
