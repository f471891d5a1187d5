"""The vector operations of the numba loops (``kernels/numba/simd.py``) equal plain scalar loops bit for bit."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from spikevision.kernels.lif_linear import LANES as PAIR_LANES
from spikevision.kernels.numba import simd as _simd


@numba.njit
def _word(mem, thr, start):
    return _simd.spike_word(mem, thr, start)


@numba.njit
def _sum_rows(words, rows, acc):
    for lane in range(0, acc.shape[0], _simd.LANES):
        _simd.sum_spiking_rows(words, rows, lane, acc)


@numba.njit
def _add_to_rows(words, rows, g_rows, t):
    width = g_rows.shape[1]
    for w in range(words.shape[0]):
        for lane in range(0, width, _simd.LANES):
            _simd.add_to_word_rows(words[w], rows, w * 64, lane, g_rows, t * width)


def _bits(spikes: np.ndarray) -> np.ndarray:
    """0/1 per neuron -> words of bits, neuron ``64 w + i`` as bit ``i`` of word ``w``."""
    return np.packbits(spikes.astype(bool), bitorder="little").view(np.uint64).copy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spike_word_is_the_comparison_of_each_neuron(dtype):
    rng = np.random.default_rng(0)
    thr = rng.uniform(0.5, 1.5, 192).astype(dtype)
    mem = rng.uniform(0.0, 2.0, 192).astype(dtype)
    mem[[3, 70, 131]] = thr[[3, 70, 131]]  # at the threshold exactly: no spike
    mem[[5, 90]] = np.nan  # NaN compares false, as in the scalar loop
    mem[[6, 91]] = np.inf
    for start in (0, 64, 100):
        expected = int(_bits(mem[start:start + 64] - thr[start:start + 64] > 0)[0])
        assert int(_word(mem, thr, start)) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lanes", [16, 32])
def test_summed_rows_are_the_sequential_sum_of_the_spiking_rows(dtype, lanes):
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((200, lanes)).astype(dtype)
    spikes = rng.random(200) < 0.3
    acc = rng.standard_normal(lanes).astype(dtype)
    expected = acc.copy()
    for j in np.flatnonzero(spikes):  # one row after another, as the scalar loop added them
        expected += rows[j]
    _sum_rows(_bits(np.pad(spikes, (0, 56))), rows, acc)
    assert np.array_equal(acc, expected) and spikes.sum() > 40


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adding_to_the_spiking_rows_touches_those_rows_only(dtype):
    rng = np.random.default_rng(2)
    rows = rng.standard_normal((130, 32)).astype(dtype)
    g_rows = rng.standard_normal((3, 32)).astype(dtype)
    spikes = np.zeros(192, bool)
    spikes[[0, 63, 64, 127, 129]] = True
    expected = rows.copy()
    expected[[0, 63, 64, 127, 129]] += g_rows[2]  # the row of g that the flat index names, every lane
    _add_to_rows(_bits(spikes), rows, g_rows, 2)
    assert np.array_equal(rows, expected)


def test_the_fused_pair_pads_its_rows_to_whole_vectors():
    assert PAIR_LANES % _simd.LANES == 0
