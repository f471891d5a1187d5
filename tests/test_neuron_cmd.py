"""`spikevision neuron`: the figures open with their sizes, and what they show is snnTorch's Leaky neuron."""

from __future__ import annotations

import math
import re

import matplotlib
import numpy as np
import pytest
import snntorch as snn
import torch
from PIL import Image

from spikevision.analysis import single_neuron
from spikevision.cli import main, neuron_cmd
from spikevision.pictures import lab


def _run(capsys, *args):
    rc = main(["neuron", *args])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def _summary(out):
    """(spike count, first spike step or None) from the first printed line."""
    m = re.search(r": (\d+) spikes?, (?:first at step (\d+)|none)", out.splitlines()[0])
    assert m, out
    return int(m[1]), (int(m[2]) if m[2] else None)


def _png_size(path):
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def _leaky(current, beta, threshold):
    """snnTorch's own loop over a 1-D current: (spk [T], mem [T])."""
    leaky = snn.Leaky(beta=beta, threshold=threshold)
    mem = leaky.init_leaky()
    spikes, mems = [], []
    for cur in current:
        spk, mem = leaky(cur.reshape(1), mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.cat(spikes), torch.cat(mems)


def test_step_input_fires_first_when_the_charging_curve_crosses_the_threshold(capsys, tmp_path):
    before = dict(matplotlib.rcParams)
    beta, threshold, amplitude, steps = 0.9, 1.0, 0.25, 100
    out = _run(capsys, "--input", "step", "--beta", str(beta), "--threshold", str(threshold),
               "--amplitude", str(amplitude), "--num-steps", str(steps), "--out", str(tmp_path))
    assert dict(matplotlib.rcParams) == before
    count, first = _summary(out)
    # Independent fact: before its first spike the neuron charges as U_k = I (1 - beta^k) / (1 - beta),
    # k steps after the onset; it fires at the first k with U_k > threshold.
    start = steps // 20
    k = next(k for k in range(1, steps) if amplitude * (1 - beta**k) / (1 - beta) > threshold)
    assert first == start + k - 1
    current = torch.zeros(steps)
    current[start:] = amplitude
    assert count == int(_leaky(current, beta, threshold)[0].sum())
    assert _png_size(tmp_path / "neuron-step.png") == (800, 600)
    assert _png_size(tmp_path / "neuron-step-beta-threshold.png") == (1200, 800)
    assert str(tmp_path / "neuron-step.png") in out and str(tmp_path / "neuron-step-beta-threshold.png") in out
    assert {p.name for p in tmp_path.iterdir()} == {"neuron-step.png", "neuron-step-beta-threshold.png"}


def test_pulse_stops_the_spikes_soon_after_it_ends(capsys, tmp_path):
    out = _run(capsys, "--input", "pulse", "--num-steps", "80", "--out", str(tmp_path))
    count, first = _summary(out)
    current = single_neuron.input_current("pulse", 80, 0.5)
    start, width = 80 // 20, 80 // 4
    assert current[start : start + width].eq(0.5).all() and current.sum() == 0.5 * width
    spk, mem = _leaky(current, 0.8, 1.0)
    assert count == int(spk.sum()) > 0 and first == int(spk.nonzero()[0, 0])
    # Without input the membrane only decays (by beta each step): no spike two steps after the pulse.
    assert spk[start + width + 1 :].sum() == 0
    assert _png_size(tmp_path / "neuron-pulse.png") == (800, 600)


def test_rate_input_is_reproducible_with_a_seed(capsys, tmp_path):
    args = ["--input", "rate", "--num-steps", "120"]
    first = _run(capsys, *args, "--seed", "3", "--out", str(tmp_path / "a"))
    again = _run(capsys, *args, "--seed", "3", "--out", str(tmp_path / "b"))
    other = _run(capsys, *args, "--seed", "4", "--out", str(tmp_path / "c"))
    assert _summary(first) == _summary(again)
    current = single_neuron.input_current("rate", 120, 0.6, seed=4)
    assert current.unique().tolist() == pytest.approx([0.0, 0.6])
    assert _summary(other)[0] == int(_leaky(current, 0.8, 1.0)[0].sum())
    # Each step is an input spike with probability 1/2: within 5 standard deviations of 60 of 120.
    assert abs(int((current > 0).sum()) - 60) < 5 * math.sqrt(120 * 0.25)


def test_figures_draw_snntorch_membranes_and_thresholds():
    current = single_neuron.input_current("step", 60, 0.3)
    spk, mem = single_neuron.simulate(current, 0.8, 1.0)
    fig = lab.neuron_figure(current, spk, mem, 1.0, "title")
    ax_cur, ax_mem, ax_spk = fig.axes
    ref_spk, ref_mem = _leaky(current, 0.8, 1.0)
    np.testing.assert_allclose(ax_mem.lines[0].get_ydata(), ref_mem.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ax_cur.lines[0].get_ydata(), current.numpy())
    assert ax_mem.lines[1].get_ydata()[0] == 1.0  # the threshold line
    assert len(ax_spk.collections[0].get_offsets()) == int(ref_spk.sum())

    fig = lab.neuron_comparison_figure(current, 0.8, 1.0, "step")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    for beta in (0.6, 0.8, 0.9):
        n = int(_leaky(current, beta, 1.0)[0].sum())
        assert any(t.startswith(f"beta {beta:g} ") and t.endswith(f": {n} spike{'s' if n != 1 else ''}")
                   for t in titles)
    for threshold in (0.5, 1.0, 2.0):
        n = int(_leaky(current, 0.8, threshold)[0].sum())
        assert f"threshold {threshold:g}: {n} spike{'s' if n != 1 else ''}" in titles


def test_compared_values_halve_and_double_the_leak_and_the_threshold():
    assert single_neuron.compared_betas(0.8) == (0.6, 0.8, 0.9)
    assert single_neuron.compared_betas(0.95) == (0.9, 0.95, 0.975)
    assert single_neuron.compared_betas(0.0) == (0.0, 0.5)  # leak 1 cannot double: one panel fewer
    assert single_neuron.compared_betas(1.0) == (0.9, 0.95, 1.0)
    assert single_neuron.compared_thresholds(0.4) == (0.2, 0.4, 0.8)


def test_edge_betas_still_draw(capsys, tmp_path):
    for beta in ("0", "1"):
        out = _run(capsys, "--beta", beta, "--num-steps", "30", "--out", str(tmp_path / beta))
        assert _png_size(tmp_path / beta / "neuron-step-beta-threshold.png") == (1200, 800), out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--beta", "1.5"], "--beta must be in [0, 1]"),
        (["--threshold", "0"], "--threshold must be a positive number"),
        (["--num-steps", "0"], "--num-steps must be >= 1"),
        (["--amplitude", "inf"], "--amplitude must be a finite number"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, tmp_path, args, message):
    rc = main(["neuron", *args, "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spikevision neuron: error:") and message in lines[0], err
    assert not (tmp_path / "out").exists()


def test_the_parser_defaults_equal_the_librarys():
    # The command line keeps its own copy (its parser loads no torch); they must not drift apart.
    assert neuron_cmd.INPUTS == single_neuron.INPUTS and neuron_cmd._AMPLITUDE == single_neuron.AMPLITUDE
    assert neuron_cmd.RATE_PROBABILITY == single_neuron.RATE_PROBABILITY


def test_the_if_model_is_the_neuron_without_leak(tmp_path, capsys):
    assert main(["neuron", "--model", "if", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("IF neuron, step input 0.3 from step 10, beta 1, threshold 1, 200 steps: ")
    assert main(["neuron", "--model", "if", "--beta", "0.5", "--out", str(tmp_path)]) == 2
    assert "--model if has no leak (beta 1); leave out --beta 0.5" in capsys.readouterr().err


def test_the_cuba_model_draws_its_synaptic_current_and_is_snntorchs_synaptic(tmp_path, capsys):
    out = _run(capsys, "--model", "cuba", "--input", "pulse", "--alpha", "0.8", "--out", str(tmp_path))
    assert out.startswith("CUBA neuron, pulse input 0.1 for steps 10-59, beta 0.8, threshold 1, alpha 0.8, 200 steps: ")
    count, first = _summary(out)
    # The same pulse through snnTorch's Synaptic: the command's spikes are its spikes.
    current = single_neuron.input_current("pulse", 200, 0.5 * (1 - 0.8))
    synaptic = snn.Synaptic(alpha=0.8, beta=0.8, threshold=1.0)
    syn, mem = synaptic.init_synaptic()
    spikes = []
    for cur in current:
        spk, syn, mem = synaptic(cur.reshape(1), syn, mem)
        spikes.append(spk)
    spikes = torch.cat(spikes)
    assert count == int(spikes.sum()) > 0 and first == int(spikes.nonzero()[0, 0])
    assert _png_size(tmp_path / "neuron-pulse.png") == (800, 600)
    fig = lab.neuron_figure(current, *single_neuron.simulate_cuba(current, 0.8, 0.8, 1.0)[:2], 1.0, "t",
                            synaptic=single_neuron.simulate_cuba(current, 0.8, 0.8, 1.0)[2])
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["input current I", "synaptic current (decays by alpha)"]
    assert main(["neuron", "--model", "lif", "--alpha", "0.5", "--out", str(tmp_path)]) == 2
    assert "--alpha belongs to --model cuba (the synaptic current's decay per step); leave it out" in \
        capsys.readouterr().err


def test_the_alif_figure_keeps_its_whole_title_inside_and_its_legend_off_the_traces():
    """Seen: `neuron --model alif --adapt-step 0.2` cut "ALIF" and the spike count off the title, and the legend
    sat on the traces, which fill the membrane panel."""
    current = single_neuron.input_current("step", 200, 0.3)
    spk, mem, thr = single_neuron.simulate_alif(current, 0.8, 1.0, 0.95, 0.2)
    settings = "beta 0.8, threshold 1, adapt_decay 0.95, adapt_step 0.2"
    title = neuron_cmd.figure_title("alif", settings, f"step input 0.3 from step 10; {int(spk.sum())} spikes")
    fig = lab.neuron_figure(current, spk, mem, 1.0, title, adaptive=thr)
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    ax_cur, ax_mem, _ = fig.axes
    box = ax_cur.title.get_window_extent(renderer)
    assert ax_cur.get_title().startswith("ALIF neuron") and ax_cur.get_title().endswith("19 spikes")
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1, (box, fig.bbox)
    legend = ax_mem.get_legend().get_window_extent(renderer)
    for line in ax_mem.lines:  # membrane, threshold, adaptive threshold: no drawn point under the legend
        points = line.get_transform().transform(line.get_xydata())
        inside = ((points[:, 0] > legend.x0) & (points[:, 0] < legend.x1)
                  & (points[:, 1] > legend.y0) & (points[:, 1] < legend.y1))
        assert not inside.any(), line.get_label()


def test_any_registered_neuron_is_drawn_with_its_own_states_and_options(tmp_path, capsys):
    """The command knows no neuron by name: the registry's resonate-and-fire neuron comes with its option
    (--option omega=...) and its other state drawn over the membrane, from its NeuronKind alone."""
    out = _run(capsys, "--model", "rf", "--option", "omega=0.4", "--input", "pulse", "--out", str(tmp_path))
    assert out.startswith("RF neuron, pulse input 0.5 for steps 10-59, beta 0.8, threshold 1, omega 0.4, 200 steps: ")
    count, _ = _summary(out)
    current = single_neuron.input_current("pulse", 200, 0.5)
    spk, mem, states = single_neuron.simulate_kind("rf", current, 0.8, 1.0, {"omega": 0.4})
    assert count == int(spk.sum()) > 0 and set(states) == {"mem", "imag"} and states["imag"].abs().max() > 0
    fig = lab.neuron_figure(current, spk, mem, 1.0, "t", traces=[("membrane", states["imag"], "imaginary part")])
    assert "imaginary part" in [line.get_label() for line in fig.axes[1].get_lines()]
    assert _png_size(tmp_path / "neuron-pulse.png") == (800, 600)
    assert main(["neuron", "--model", "rf", "--option", "omega=9", "--out", str(tmp_path)]) == 2
    assert "omega must be a number in [0, pi], got 9.0" in capsys.readouterr().err
    assert main(["neuron", "--model", "lif", "--option", "omega=0.3", "--out", str(tmp_path)]) == 2
    assert "neuron 'lif' has no option 'omega'; its options: none" in capsys.readouterr().err


def test_the_generic_simulation_of_each_older_neuron_is_its_own_simulation():
    current = single_neuron.input_current("rate", 120, 0.6, seed=3)
    spk, mem = single_neuron.simulate(current, 0.8, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(single_neuron.simulate_kind("lif", current, 0.8, 1.0)[:2],
                                                 (spk, mem)))
    spk, mem, syn = single_neuron.simulate_cuba(current, 0.7, 0.8, 1.0)
    got = single_neuron.simulate_kind("cuba", current, 0.8, 1.0, {"alpha": 0.7})
    assert torch.equal(got[0], spk) and torch.equal(got[1], mem) and torch.equal(got[2]["syn"], syn)
    spk, mem, thr = single_neuron.simulate_alif(current, 0.8, 1.0, 0.9, 0.3)
    got = single_neuron.simulate_kind("alif", current, 0.8, 1.0, {"adapt_decay": 0.9, "adapt_step": 0.3})
    assert torch.equal(got[0], spk) and torch.equal(got[1], mem) and torch.equal(got[2]["thr"], thr)
