"""The CPU engine: each kernel family's compiled numba loops (``numba/<family>.py``) called on zero-copy views of
torch tensors, with their arguments in the order the family's record gives (``kernels.families``).

numba is imported (and a family's loops compiled, or loaded from its on-disk cache) on the first call only.
Each loop has a serial and a parallel build (``common.Loop``); ``build`` picks one per call. The parallel
build uses as many threads as torch does (``torch.get_num_threads()``).
"""

from __future__ import annotations

import functools
import importlib
import os

import numpy as np
import torch

# Below this many neurons (batch x neurons) threads buy nothing: the quick network's 10 outputs, for one.
PARALLEL_MIN = 16384
# Which build runs: "auto" (below), or "serial" / "parallel" everywhere (tests and benchmarks).
LOOPS_ENV = "SPIKEVISION_CPU_LOOPS"


@functools.cache
def loops(name: str):
    """The compiled loops of kernel family ``name`` (``numba/<name>.py``; imports numba)."""
    return importlib.import_module(f"spikevision.kernels.numba.{name}")


@functools.cache
def available() -> bool:
    """Whether numba can be imported here (the engine is skipped, never required, when it cannot)."""
    try:
        importlib.import_module("spikevision.kernels.numba.common")
    except ImportError:
        return False
    return True


def threads() -> int:
    """Give numba's loops as many threads as torch uses; returns that number."""
    import numba

    wanted = torch.get_num_threads()
    count = max(1, min(wanted, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]  # set at import
    numba.set_num_threads(count)
    if torch.get_num_threads() != wanted:
        # Starting numba's OpenMP pool resets the OpenMP thread count torch shares with it (e.g. torchrun's
        # OMP_NUM_THREADS=1 per process would silently become all cores): put torch's back.
        torch.set_num_threads(wanted)
    return count


def build(loop, size: int):
    """The build of ``loop`` to run on ``size`` neurons: the parallel one where threads pay and it is compiled
    (in this process, or in numba's cache); else the serial one, while a ``warm`` process compiles the
    parallel one in the background for the calls after it (``cache``)."""
    from spikevision.errors import InvalidValue
    from spikevision.kernels.numba import cache

    wanted = os.environ.get(LOOPS_ENV, "auto")
    if wanted not in ("auto", "serial", "parallel"):
        raise InvalidValue(f"{LOOPS_ENV}={wanted!r} is not a choice; use auto, serial or parallel, or unset it")
    if wanted == "serial" or (wanted == "auto" and (size < PARALLEL_MIN or torch.get_num_threads() == 1
                                                    or not cache.parallel_ready(loop.family))):
        return loop.serial
    threads()
    return loop.parallel


def run(loop, count: int, size: int, *args) -> None:
    """``loop`` over all its ``count`` chunks (of ``size`` neurons in all), in the build ``build`` picks."""
    build(loop, size)(0, count, *args)


def chunks(size: int, chunk: int) -> int:
    """How many chunks of ``chunk`` neurons cover ``size``."""
    return (size + chunk - 1) // chunk


def one(like: torch.Tensor):
    """1 as a numpy scalar of ``like``'s dtype: the loops take their constants' dtype from it."""
    return like.numpy().dtype.type(1)


def constants(like: torch.Tensor, surrogate_constants) -> np.ndarray:
    """``(1, 0, a, b)`` in ``like``'s dtype, as the backward loops take them."""
    return np.array([1, 0, *surrogate_constants], dtype=like.numpy().dtype)


def array(tensor: torch.Tensor | None, like: torch.Tensor, ndim: int) -> np.ndarray:
    """A numpy view of ``tensor``; an empty array of ``like``'s dtype stands in for None."""
    if tensor is None:
        return np.empty((0,) * ndim, dtype=like.numpy().dtype)
    return tensor.numpy()


def fixed_or_one(fixed, like: torch.Tensor):
    """What the loops take after the reset mode: ``[1, *fixed]`` in ``like``'s dtype for a family with fixed
    constants, else the number 1 in that dtype."""
    return np.array([1, *fixed], dtype=like.numpy().dtype) if fixed else one(like)


def forward(family, cur, cur_step, states0, coefficients, fixed, mode, spk, mem, lasts) -> None:
    """A family's forward loop (see ``fused``); ``mem`` may be None (membranes not wanted)."""
    module, like = loops(family.name), states0[0]
    size = like.shape[0]
    run(module.forward, chunks(size, module.FORWARD_CHUNK), size, cur.numpy(), cur_step,
        *(s.numpy() for s in states0), *(c.numpy() for c in coefficients), mode, fixed_or_one(fixed, like),
        spk.numpy(), array(mem, spk, 2), mem is not None, *(last.numpy() for last in lasts))


def backward(family, steps, cur, cur_step, states0, coefficients, fixed, mode, code, surrogate_constants,
             g_spk, g_mem, g_lasts, d_cur, d_states0, d_coefficients) -> None:
    """A family's backward loop (see ``fused``); absent gradients are None, unwanted ones empty."""
    module, like = loops(family.name), states0[0]
    size = like.shape[0]
    run(module.backward, chunks(size, module.BACKWARD_CHUNK), size, steps, cur.numpy(), cur_step,
        *(s.numpy() for s in states0), *(c.numpy() for c in coefficients), mode,
        *([fixed_or_one(fixed, like)] if fixed else []), constants(like, surrogate_constants), code,
        array(g_spk, like, 2), g_spk is not None, array(g_mem, like, 2), g_mem is not None,
        *(x for g in g_lasts for x in (array(g, like, 1), g is not None)), d_cur.numpy(),
        *(d.numpy() for d in d_states0), *(x for d in d_coefficients for x in (d.numpy(), d.numel() > 0)))
