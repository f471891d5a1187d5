"""Recurrent LIF neurons (snnTorch's ``RLeaky``) and recurrent adaptive-threshold neurons (Bellec et al.'s LSNN):
each layer also feeds its own spikes of the previous step back through a learned all-to-all weight.

Dynamics, for a layer of ``N`` neurons with recurrent weight ``W [N, N]`` and bias ``b``::

    R_t   = W S_{t-1} + b                                   (the recurrent current; S_{-1} = 0)
    mem_t = beta * mem_{t-1} + I_t + R_t - S_{t-1} * thr    reset="subtract"
    mem_t = beta * (1 - S_{t-1}) * mem_{t-1} + I_t + R_t    reset="zero" (the old membrane, as our LIF)
    mem_t = beta * mem_{t-1} + I_t + R_t                    reset="none"
    S_t   = H(mem_t - thr)

Unlike the reset, the recurrent spikes carry their gradient (surrogate) back through time, as in snnTorch.
Subtract and none are snnTorch 1.0.0's ``RLeaky(all_to_all=True)`` to the bit (tests/test_recurrent.py).

``RecurrentALIF`` adds the same recurrent current to ``alif``'s neuron (``I_t + R_t`` is its input; the threshold
rises with each spike), the recurrent adaptive network of LSNN.

Why no fused kernel: each step needs the whole layer's spikes of the step before (a ``[B, N] x [N, N]``
product), so the time loop cannot run neuron by neuron as the elementwise kernels do. The loop below makes that
one matmul per step (``torch.addmm``, already multithreaded) and the rest elementwise; its cost is measured in
``docs/PERFORMANCE.md``.
"""

from __future__ import annotations

import torch
from torch import nn

from spikevision.errors import InvalidValue
from spikevision.neurons import alif
from spikevision.neurons import surrogate as surrogates
from spikevision.neurons.base import check_current, check_state
from spikevision.neurons.lif import LIF, LIFState, coefficients, fired, initial_state

Tensor = torch.Tensor


class _Recurrence(nn.Module):
    """What every recurrent layer shares: ``N`` neurons, the recurrent ``nn.Linear(N, N)``, the input check."""

    kernel_family: str | None = None  # the recurrent loop below, never an elementwise kernel

    def _add_recurrence(self, size: int) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise InvalidValue(f"a recurrent layer needs a whole number of neurons >= 1; got {size!r}")
        self.size = size
        self.recurrent = nn.Linear(size, size)

    def _check_sequence(self, current: Tensor) -> None:
        check_current(current, "current", min_dim=3)
        if current.shape[-1] != self.size:
            raise InvalidValue(f"a recurrent layer of {self.size} neurons takes currents [T, B, {self.size}]; "
                               f"got {list(current.shape)}")

    def step(self, current: Tensor, state=None):
        raise InvalidValue("a recurrent layer needs its spikes of the step before: run it over a sequence "
                           "(layer(current [T, B, N]))")

    def extra_repr(self) -> str:
        return f"size={self.size}, " + super().extra_repr()


class RecurrentLIF(_Recurrence, LIF):
    """A layer of recurrent LIF neurons: ``lif.LIF`` plus an all-to-all recurrent ``nn.Linear(N, N)``.

    Args:
        size: the number of neurons ``N`` (flat layers only).
        beta, threshold, reset, surrogate, learn_beta, learn_threshold, learn_tau: as ``lif.LIF``.
    """

    def __init__(self, size: int, beta: float = 0.95, threshold: float = 1.0, **options) -> None:
        super().__init__(beta, threshold, shape=options.pop("shape", (size,)), **options)
        self._add_recurrence(size)

    def forward(self, current: Tensor, state: LIFState | None = None, *, backend: str = "auto",
                need_mem: bool = True):
        """The recurrent time loop over ``current`` ``[T, B, N]`` -> ``(spk, mem, LIFState)`` (``backend`` unused:
        there is one implementation)."""
        self._check_sequence(current)
        params = self.params
        mem = initial_state(current[0]).mem if state is None else state.mem
        beta, threshold = coefficients(params, current[0])
        reset = fired(mem, threshold)
        spk = torch.zeros_like(current[0])
        spikes, mems = [], []
        weight, bias = self.recurrent.weight, self.recurrent.bias
        for cur in current.unbind(0):
            drive = torch.addmm(bias, spk, weight.t())  # W S_{t-1} + b: the one matmul per step
            if params.reset == "subtract":
                mem = ((beta * mem + cur) + drive) - reset * threshold
            elif params.reset == "zero":
                mem = (beta * ((1 - reset) * mem) + cur) + drive
            else:
                mem = (beta * mem + cur) + drive
            spk = surrogates.get(params.surrogate)(mem - threshold)
            reset = spk.detach()
            spikes.append(spk)
            mems.append(mem)
        return torch.stack(spikes), (torch.stack(mems) if need_mem else None), LIFState(mem)


class RecurrentALIF(_Recurrence, alif.ALIF):
    """A layer of recurrent adaptive-threshold neurons (LSNN): ``alif.ALIF`` plus a recurrent ``nn.Linear(N, N)``.

    Args:
        size: the number of neurons ``N`` (flat layers only).
        beta, threshold, adapt_decay, adapt_step, reset, surrogate, learn_*: as ``alif.ALIF``.
    """

    def __init__(self, size: int, beta: float = 0.9, threshold: float = 1.0, **options) -> None:
        super().__init__(beta, threshold, shape=options.pop("shape", (size,)), **options)
        self._add_recurrence(size)

    def forward(self, current: Tensor, state: alif.ALIFState | None = None, *, backend: str = "auto",
                need_mem: bool = True):
        """The recurrent time loop over ``current`` ``[T, B, N]`` -> ``(spk, mem, ALIFState)`` (``backend`` unused)."""
        self._check_sequence(current)
        params = self.params
        beta, threshold = coefficients(params, current[0])
        state = alif.initial_state(current[0], threshold) if state is None else check_state(state, alif.ALIFState,
                                                                                             current[0])
        reset = fired(state.mem, state.thr)
        spk = torch.zeros_like(current[0])
        spikes, mems = [], []
        weight, bias = self.recurrent.weight, self.recurrent.bias
        for cur in current.unbind(0):
            drive = torch.addmm(bias, spk, weight.t())  # W S_{t-1} + b, with its gradient through time
            spk, state = alif.advance(cur + drive, state, reset, (beta, threshold), params)
            reset = spk.detach()
            spikes.append(spk)
            mems.append(state.mem)
        return torch.stack(spikes), (torch.stack(mems) if need_mem else None), state
