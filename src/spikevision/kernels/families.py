"""What a kernel family is: the record every engine and the one autograd node (``fused``) read to run it.

A family is one neuron model's recurrence compiled for the engines: its loops are
``kernels/numba/<name>.py`` and ``kernels/triton/<name>.py``, and every one of them takes its arguments in the
order this record gives (``numba.runtime`` and ``triton.runtime`` call them from it, with nothing written per
family)::

    forward:  cur, cur_step, *states0, *coefficients, [fixed], spk, mem, *last states
    backward: cur, cur_step, *states0, *coefficients, [fixed], ..., g_spk, g_mem, *g_last (trained states),
              d_cur, *d_states0 (trained states), *d_coefficients

- ``states``: the state tensors a step carries, the membrane ``mem`` among them (what ``need_mem`` returns);
- ``trained``: the states whose final value and initial value carry gradients (the others, such as an
  adaptive threshold that follows from the detached spikes alone, are marked non-differentiable);
- ``coefficients``: per-neuron numbers or tensors (learnable: their gradients are summed per neuron);
- ``fixed``: numbers the loops read as constants (``[fixed]`` above is present only where the family has some);
- ``reads_half``: the engines that read a float16/bfloat16 current themselves (the others get float32).

Adding a fused family: its loops in both engine folders, one record here; a neuron names it in its
``kernel_family``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One neuron model's fused recurrence, as the engines take it (see the module docstring)."""

    name: str
    states: tuple[str, ...]
    coefficients: tuple[str, ...]
    trained: tuple[str, ...] = ("mem",)
    fixed: tuple[str, ...] = ()
    reads_half: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if "mem" not in self.states or not set(self.trained) <= set(self.states):
            raise ValueError(f"family {self.name!r}: a membrane 'mem' among the states, and trained states are states")


LIF = Family("lif", states=("mem",), coefficients=("beta", "thr"), reads_half=("triton",))
CUBA = Family("cuba", states=("syn", "mem"), coefficients=("alpha", "beta", "thr"), trained=("syn", "mem"))
ALIF = Family("alif", states=("mem", "thr"), coefficients=("beta",), fixed=("threshold", "rho", "gamma"))

FAMILIES: dict[str, Family] = {family.name: family for family in (LIF, CUBA, ALIF)}
