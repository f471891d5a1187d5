"""One neuron driven by a chosen input current: section 5 of the lab handout, as data.

``input_current`` makes the step, pulse or random-spike current; ``simulate_kind`` runs any registered neuron
on it step by step (``spikevision.neurons.REGISTRY``) and returns every state over time; ``simulate`` is the
LIF's (``lif.lif_sequence``, reset by subtraction, as snnTorch's ``Leaky``), ``simulate_cuba`` and
``simulate_alif`` the current-based and adaptive ones; ``compared_betas`` / ``compared_thresholds`` choose the
settings the comparison figure sets beside the given ones (``pictures.lab`` draws them).
"""

from __future__ import annotations

import math

import torch

from spikevision import neurons
from spikevision.catalog import NEURON_AMPLITUDE, NEURON_INPUTS, NEURON_RATE_PROBABILITY
from spikevision.errors import InvalidValue
from spikevision.neurons import alif, base, cuba, lif

# The inputs, their default strengths and the rate input's spike chance (in catalog: the parser lists them).
INPUTS, AMPLITUDE, RATE_PROBABILITY = NEURON_INPUTS, NEURON_AMPLITUDE, NEURON_RATE_PROBABILITY


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
    spk, mem, _ = lif.lif_sequence(current[:, None], None, lif.LIFParams(beta, threshold))  # (T, 1)
    return spk[:, 0], mem[:, 0]


def simulate_alif(current, beta: float, threshold: float, adapt_decay: float, adapt_step: float):
    """One adaptive-threshold LIF neuron over ``current`` ``[T]``: ``(spk [T], mem [T], thr [T])``, its
    threshold at each step beside the membrane (``alif.alif_sequence``)."""
    params = alif.ALIFParams(beta, threshold, adapt_decay, adapt_step)
    spk, mem, _ = alif.alif_sequence(current[:, None], None, params)  # (T, 1)
    return spk[:, 0], mem[:, 0], alif.threshold_trace(spk, params)[:, 0]


def simulate_cuba(current, alpha: float, beta: float, threshold: float):
    """One current-based LIF neuron over ``current`` ``[T]``, step by step (``cuba.cuba_step``).

    Returns:
        ``(spk [T], mem [T], syn [T])``: spikes, membrane and the synaptic current that feeds it.
    """
    params, state, out = cuba.CubaParams(alpha, beta, threshold), None, []
    for value in current[:, None].unbind(0):  # (1,) per step
        spk, state = cuba.cuba_step(value, state, params)
        out.append((spk, state.mem, state.syn))
    spk, mem, syn = (torch.cat(column) for column in zip(*out))
    return spk, mem, syn


def simulate_kind(name: str, current, beta: float, threshold: float, options=None):
    """One neuron of the registered kind ``name`` over ``current`` ``[T]``, step by step.

    Args:
        options: the kind's own options by name (``NeuronKind.options``; defaults for those left out).
    Returns:
        ``(spk [T], mem [T], states)``: ``states`` maps each field of the neuron's state to its values ``[T]``.
    """
    kind = neurons.kind(name)
    params = kind.params(beta, threshold, kind.checked_options(options or {}))
    state, rows = None, []
    for value in current[:, None].unbind(0):  # (1,) per step
        spk, state = base.step(kind.dynamics, value, state, params)
        rows.append((spk, *state))
    spk, *fields = (torch.cat(column) for column in zip(*rows))
    states = dict(zip(kind.dynamics.state._fields, fields))
    return spk, states["mem"], states


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


def time_constant(beta: float) -> str:
    """tau = -1 / ln(beta) steps: the time the membrane takes to decay to 1/e without input."""
    if beta == 1:
        return "no leak"
    if beta == 0:
        return "no memory"
    return f"tau {-1.0 / math.log(beta):.3g} steps"


def spikes_text(n: int) -> str:
    return f"{n} spike{'s' if n != 1 else ''}"


def describe(kind: str, amplitude: float, num_steps: int) -> str:
    """The input in words, for titles: "step input 0.3 from step 10"."""
    start = onset(num_steps)
    if kind == "step":
        return f"step input {amplitude:g} from step {start}"
    if kind == "pulse":
        return f"pulse input {amplitude:g} for steps {start}-{start + max(1, num_steps // 4) - 1}"
    return f"rate input: {amplitude:g} per input spike, probability {RATE_PROBABILITY:g} per step"
