"""A leaky-integrator readout (LI, Spyx's and Norse's non-spiking output layer): the network's answer read from
membranes, not spikes (``model.readout = "li"``)::

    mem_t = beta * mem_{t-1} + I_t         (no threshold, no reset, no spikes)

The class is the output neuron with the highest mean membrane (``metrics`` rule "membrane"), so no tie needs
breaking. NIR writes it as an ``LI`` node (``tau = dt / (1 - beta)``, ``r = tau / dt``), which spikevision reads
back; snnTorch 1.0.0, SpikingJelly 2.0.0 and Norse 1.1.0 have no importer for LI (docs/INTEROP.md).
"""

from __future__ import annotations

import torch

from spikevision.neurons.base import check_current, coefficient
from spikevision.neurons.layer import Decaying
from spikevision.neurons.lif import LIFState, initial_state

Tensor = torch.Tensor


class LI(Decaying[None, LIFState]):
    """A layer of leaky integrators: ``lif.LIF``'s decay (fixed, learnable or PLIF's) without a threshold.

    Args:
        beta: the membrane's decay per step, in [0, 1].
        learn_beta, learn_tau, shape: as ``layer.Decaying``.
    """

    def __init__(self, beta: float = 0.95, *, learn_beta: str = "none", learn_tau: str = "none",
                 shape: tuple[int, ...] | None = None) -> None:
        super().__init__(beta, learn_beta=learn_beta, learn_tau=learn_tau, shape=shape)

    def forward(self, current: Tensor, state: LIFState | None = None, *, backend: str = "auto",
                need_mem: bool = True) -> tuple[Tensor, Tensor, LIFState]:
        """The membranes over ``current`` ``[T, B, ...]`` -> ``(zeros, mem [T, B, ...], LIFState)`` (no spikes;
        ``backend`` and ``need_mem`` unused: a readout's membranes are what it is for)."""
        check_current(current, "current", min_dim=2)
        mem = initial_state(current[0]).mem if state is None else state.mem
        beta = coefficient("beta", self.beta, current[0], clamp=True)
        rows = []
        for cur in current:  # a readout layer is small ([B, classes]): one step is a few microseconds
            mem = beta * mem + cur
            rows.append(mem)
        mems = torch.stack(rows)
        return torch.zeros_like(mems), mems, LIFState(mem)

    def step(self, current: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        mem = initial_state(current).mem if state is None else state.mem
        mem = coefficient("beta", self.beta, current, clamp=True) * mem + current
        return torch.zeros_like(mem), LIFState(mem)

    def extra_repr(self) -> str:
        return f"beta={self._shown_beta()} (leaky integrator: no spikes)"
