"""A leaky-integrator readout (LI, Spyx's and Norse's non-spiking output layer): the network's answer read from
membranes, not spikes (``model.readout = "li"``)::

    mem_t = beta * mem_{t-1} + I_t         (no threshold, no reset, no spikes)

The class is the output neuron with the highest mean membrane (``metrics`` rule "membrane"), so no tie needs
breaking. NIR writes it as an ``LI`` node (``tau = dt / (1 - beta)``, ``r = tau / dt``), which spikevision reads
back; snnTorch 1.0.0, SpikingJelly 2.0.0 and Norse 1.1.0 have no importer for LI (docs/INTEROP.md).
"""

from __future__ import annotations

import torch

from spikevision.neurons.base import check_current
from spikevision.neurons.lif import LIF, LIFState, coefficient, initial_state

Tensor = torch.Tensor


class LI(LIF):
    """A layer of leaky integrators: ``lif.LIF``'s decay (fixed, learnable or PLIF's) without its threshold.

    Args:
        beta: the membrane's decay per step, in [0, 1].
        surrogate, learn_beta, learn_tau, shape: as ``lif.LIF`` (the surrogate is unused: nothing spikes).
    """

    kernel_family = None  # its loop is its own: no kernel runs it

    def __init__(self, beta: float = 0.95, **options) -> None:
        options.pop("threshold", None)
        options.pop("learn_threshold", None)
        super().__init__(beta, 1.0, **{**options, "reset": "none"})

    def forward(self, current: Tensor, state: LIFState | None = None, *, backend: str = "auto",
                need_mem: bool = True):
        """The membranes over ``current`` ``[T, B, ...]`` -> ``(zeros, mem [T, B, ...], LIFState)`` (no spikes;
        ``backend`` and ``need_mem`` unused: a readout's membranes are what it is for)."""
        check_current(current, "current", min_dim=2)
        mem = initial_state(current[0]).mem if state is None else state.mem
        beta = coefficient("beta", self.beta, current[0], clamp=True)
        mems = []
        for cur in current:  # a readout layer is small ([B, classes]): one step is a few microseconds
            mem = beta * mem + cur
            mems.append(mem)
        mems = torch.stack(mems)
        return torch.zeros_like(mems), mems, LIFState(mem)

    def step(self, current: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        mem = initial_state(current).mem if state is None else state.mem
        mem = coefficient("beta", self.beta, current, clamp=True) * mem + current
        return torch.zeros_like(mem), LIFState(mem)

    def extra_repr(self) -> str:
        beta = "sigmoid(learnable)" if "beta_logit" in self._parameters else (
            f"{self.beta:g}" if isinstance(self.beta, float) else f"learnable{tuple(self.beta.shape)}")
        return f"beta={beta} (leaky integrator: no spikes)"
