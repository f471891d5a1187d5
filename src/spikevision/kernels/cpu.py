"""The CPU engine: the compiled numba loops of ``_numba_loops`` called on zero-copy views of torch tensors.

numba is imported (and its loops compiled, or loaded from its on-disk cache) on the first call only. Each
loop has a serial and a parallel build (``_numba_loops.Loop``); ``build`` picks one per call. The parallel
build uses as many threads as torch does (``torch.get_num_threads()``).
"""

from __future__ import annotations

import functools
import os

import numpy as np
import torch

# Below this many neurons (batch x neurons) threads buy nothing: the quick network's 10 outputs, for one.
PARALLEL_MIN = 16384
# Which build runs: "auto" (below), or "serial" / "parallel" everywhere (tests and benchmarks).
LOOPS_ENV = "SPIKEVISION_CPU_LOOPS"


@functools.cache
def loops():
    """The ``_numba_loops`` module (imports numba)."""
    from spikevision.kernels import _numba_loops

    return _numba_loops


@functools.cache
def available() -> bool:
    """Whether numba can be imported here (the engine is skipped, never required, when it cannot)."""
    try:
        loops()
    except ImportError:
        return False
    return True


def threads() -> int:
    """Give numba's loops as many threads as torch uses; returns that number."""
    import numba

    wanted = torch.get_num_threads()
    count = max(1, min(wanted, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(count)
    if torch.get_num_threads() != wanted:
        # Starting numba's OpenMP pool resets the OpenMP thread count torch shares with it (e.g. torchrun's
        # OMP_NUM_THREADS=1 per process would silently become all cores): put torch's back.
        torch.set_num_threads(wanted)
    return count


def build(loop, size: int):
    """The build of ``loop`` to run on ``size`` neurons: the parallel one where threads pay and it is compiled
    (in this process, or in numba's cache); else the serial one, while a ``kernels.warm`` process compiles the
    parallel one in the background for the calls after it (``kernels.cache``)."""
    from spikevision.errors import InvalidValue
    from spikevision.kernels import cache

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


def _np(tensor: torch.Tensor | None, like: torch.Tensor, ndim: int) -> np.ndarray:
    """A numpy view of ``tensor``; an empty array of ``like``'s dtype stands in for None."""
    if tensor is None:
        return np.empty((0,) * ndim, dtype=like.numpy().dtype)
    return tensor.numpy()


def forward(cur, cur_step, mem0, beta, thr, mode, spk, mem, last) -> None:
    """See ``_numba_loops.forward``; ``mem`` may be None (membranes not wanted)."""
    size = mem0.shape[0]
    run(loops().forward, chunks(size, loops().FORWARD_CHUNK), size, cur.numpy(), cur_step, mem0.numpy(),
        beta.numpy(), thr.numpy(), mode, one(mem0), spk.numpy(), _np(mem, spk, 2), mem is not None, last.numpy())


def backward(steps, cur, cur_step, mem0, beta, thr, mode, code, surrogate_constants,
             g_spk, g_mem, g_last, d_cur, d_mem0, d_beta, d_thr) -> None:
    """See ``_numba_loops.backward``; absent gradients are None, unwanted ones empty."""
    size = mem0.shape[0]
    run(loops().backward, chunks(size, loops().BACKWARD_CHUNK), size, steps, cur.numpy(), cur_step, mem0.numpy(),
        beta.numpy(), thr.numpy(), mode, constants(mem0, surrogate_constants), code,
        _np(g_spk, mem0, 2), g_spk is not None, _np(g_mem, mem0, 2), g_mem is not None,
        _np(g_last, mem0, 1), g_last is not None, d_cur.numpy(), d_mem0.numpy(),
        d_beta.numpy(), d_beta.numel() > 0, d_thr.numpy(), d_thr.numel() > 0)
