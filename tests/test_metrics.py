import math

import pytest
import torch

from spikevision import metrics


def test_prediction_is_the_neuron_with_most_spikes_even_against_a_higher_membrane():
    spk = torch.zeros(4, 1, 3)
    spk[:, 0, 2] = 1  # neuron 2 fires every step
    spk[0, 0, 0] = 1  # neuron 0 fires once
    mem = torch.zeros(4, 1, 3)
    mem[:, 0, 0] = 50.0  # huge membrane must not outweigh three extra spikes
    assert metrics.predict_from_output(spk, mem).tolist() == [2]


def test_ties_in_spike_count_go_to_the_higher_mean_membrane():
    spk = torch.zeros(5, 2, 3)
    mem = torch.zeros(5, 2, 3)
    mem[:, 0, 1] = 0.3
    mem[:, 1, 2] = -0.1  # all others at 0 for sample 1 -> neuron 0 or 1 (first max) vs 2 (lower)
    mem[:, 1, 0] = 0.2
    assert metrics.predict_from_output(spk, mem).tolist() == [1, 0]


def test_confusion_matrix_counts_rows_true_columns_predicted():
    target = torch.tensor([0, 0, 1, 2, 2, 2])
    pred = torch.tensor([0, 1, 1, 2, 0, 2])
    cm = metrics.confusion_matrix(pred, target, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    per_class = metrics.per_class_accuracy(cm).tolist()
    assert per_class[0] == 0.5 and per_class[1] == 1.0 and math.isclose(per_class[2], 2 / 3)


def test_energy_estimate_uses_horowitz_costs():
    e = metrics.energy_estimate(synops=1000, dense_macs=100, ann_macs=1000)
    assert math.isclose(e["snn_nj_per_sample"], (1000 * 0.9 + 100 * 4.6) / 1000)
    assert math.isclose(e["ann_nj_per_sample"], 4.6)
    assert "estimate" in e["note"]


def test_the_handouts_rule_breaks_ties_by_the_lowest_index_and_ours_by_the_membrane():
    from spikevision import metrics

    spk = torch.tensor([[[1.0, 1.0, 0.0]], [[0.0, 0.0, 0.0]]])  # neurons 0 and 1 tie with one spike each
    mem = torch.tensor([[[0.0, 5.0, 0.0]], [[0.0, 5.0, 0.0]]])  # neuron 1 has the higher membrane
    assert metrics.predict(spk, mem, "spikes").tolist() == [0]
    assert metrics.predict(spk, mem, "spikes_then_membrane").tolist() == [1] == metrics.predict(spk, mem).tolist()
    with pytest.raises(ValueError, match="unknown prediction rule 'votes'; valid: spikes_then_membrane, spikes"):
        metrics.predict(spk, mem, "votes")
