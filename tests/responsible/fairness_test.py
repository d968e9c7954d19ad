import json

import numpy as np
import pytest

from keras_mlsec.datasets import load_credit
from keras_mlsec.responsible import (FairnessReport, FairPostprocessor, dataset_bias,
                                     fairness_report, reweighing)

# 8 people: column 0 is the group (1 privileged), labels 3/4 favourable vs 1/4.
X = np.array([[1, 0.1], [1, 0.2], [1, 0.3], [1, 0.4],
              [0, 0.5], [0, 0.6], [0, 0.7], [0, 0.8]], np.float32)
Y = np.array([1, 1, 1, 0, 1, 0, 0, 0])
# Decisions: privileged all favourable; unprivileged only the 5th (a true positive) and 6th.
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.9, 0.6, 0.2, 0.1])


def fixed(x):
    return SCORES[: len(x)]


def test_dataset_bias_matches_hand_computation():
    bias = dataset_bias(X, Y, protected=0)
    assert bias["base_rate_privileged"] == pytest.approx(0.75)
    assert bias["base_rate_unprivileged"] == pytest.approx(0.25)
    assert bias["disparate_impact"] == pytest.approx(1 / 3)
    assert bias["statistical_parity_difference"] == pytest.approx(-0.5)
    assert bias["num_privileged"] == 4 and bias["num_unprivileged"] == 4


def test_groups_as_array_and_other_privileged_value():
    groups = np.where(X[:, 0] == 1, "m", "f")
    by_array = dataset_bias(X, Y, protected=groups, privileged="m")
    assert by_array == dataset_bias(X, Y, protected=0)
    flipped = dataset_bias(X, Y, protected=groups, privileged="f")
    assert flipped["disparate_impact"] == pytest.approx(3.0)


def test_fairness_report_matches_hand_computation():
    report = fairness_report(fixed, X, Y, protected=0)
    # Selection: privileged 4/4, unprivileged 2/4.
    assert report.disparate_impact == pytest.approx(0.5)
    assert report.statistical_parity_difference == pytest.approx(-0.5)
    # TPR: privileged 3/3, unprivileged 1/1 -> EOD 0. FPR: 1/1 vs 1/3.
    assert report.equal_opportunity_difference == pytest.approx(0.0)
    assert report.average_odds_difference == pytest.approx(0.5 * ((1 / 3 - 1) + 0))
    assert report.groups["unprivileged"]["false_positive_rate"] == pytest.approx(1 / 3)
    assert report.groups["privileged"]["accuracy"] == pytest.approx(0.75)
    assert report.accuracy == pytest.approx(6 / 8)
    assert not report.passed
    assert set(report.failures) == {"disparate_impact", "statistical_parity_difference",
                                    "average_odds_difference"}


def test_threshold_and_bounds_change_the_verdict():
    loose = {"disparate_impact": (0.4, 2.0), "statistical_parity_difference": (-0.6, 0.6),
             "average_odds_difference": (-0.5, 0.5)}
    assert fairness_report(fixed, X, Y, protected=0, bounds=loose).passed
    strict = fairness_report(fixed, X, Y, protected=0, threshold=0.95)
    assert strict.groups["privileged"]["selection_rate"] == 0.0  # no one selected


def test_report_round_trips_and_renders(tmp_path):
    report = fairness_report(fixed, X, Y, protected=0)
    again = FairnessReport.from_json(report.to_json())
    assert again.metrics == report.metrics and again.passed == report.passed
    assert json.loads(report.to_json())["failures"] == report.failures
    text = report.to_markdown()
    assert "FAILED" in text and "| disparate_impact | 0.500 |" in text
    path = report.plot(str(tmp_path / "fairness.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_keras_model_outputs_are_read_as_probabilities():
    import keras

    logit = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    two = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    for model in (logit, two):
        report = fairness_report(model, X, Y, protected=0)
        assert 0.0 <= report.accuracy <= 1.0


def test_reweighing_balances_the_weighted_base_rates():
    weights = reweighing(X, Y, protected=0)
    g = X[:, 0] == 1
    rate = lambda mask: np.sum(weights[mask] * Y[mask]) / np.sum(weights[mask])  # noqa: E731
    assert rate(g) == pytest.approx(rate(~g))
    # P(g) P(y) / P(g, y): privileged favourable 0.5 * 0.5 / 0.375.
    assert weights[0] == pytest.approx(0.5 * 0.5 / 0.375)


def test_load_credit_injects_the_requested_bias():
    for bias in (0.0, 0.5):
        (x, y), (x_test, _) = load_credit(bias=bias, num_examples=6000, seed=1)
        measured = dataset_bias(x, y, protected=0)["disparate_impact"]
        assert measured == pytest.approx(1 - bias, abs=0.08)
        assert x.shape[1] == 7 and set(np.unique(x[:, 0])) == {0.0, 1.0}
    with pytest.raises(ValueError, match="Received: bias=1.5"):
        load_credit(bias=1.5)


def test_postprocessing_equalizes_odds_on_credit():
    import keras

    (x, y), (x_test, y_test) = load_credit(bias=0.5, num_examples=2000, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(1)])
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, epochs=15, verbose=0, batch_size=64)
    before = fairness_report(model, x_test, y_test, protected=0)
    post = FairPostprocessor(model, seed=0).fit(x, y, protected=0)
    after = fairness_report(post, x_test, y_test, protected=0)
    assert abs(after.average_odds_difference) < abs(before.average_odds_difference)
    assert set(np.unique(post.predict(x_test))) <= {0.0, 1.0}


@pytest.mark.parametrize("kwargs,match", [
    ({"protected": 1}, r"binary protected attribute `protected`.*8 distinct"),
    ({"protected": 0, "privileged": 2}, r"`privileged`.*Received: privileged=2"),
    ({"protected": np.zeros(3)}, r"one group label per example \(8\)"),
    ({"protected": 5}, r"column index in \[0, 2\). Received: protected=5"),
])
def test_bad_groups_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fairness_report(fixed, X, Y, **kwargs)


def test_bad_labels_threshold_and_method_are_refused():
    with pytest.raises(ValueError, match=r"binary labels .* Received: label values \[0, 1, 2\]"):
        dataset_bias(X, np.array([0, 1, 2, 0, 1, 0, 0, 0]), protected=0)
    with pytest.raises(ValueError, match=r"`threshold` in \[0, 1\].*threshold=1.5"):
        fairness_report(fixed, X, Y, protected=0, threshold=1.5)
    with pytest.raises(ValueError, match="Expected `method` to be one of"):
        FairPostprocessor(fixed, method="magic")
    with pytest.raises(ValueError, match="unfitted"):
        FairPostprocessor(fixed).predict(X)
    with pytest.raises(TypeError, match="column index .* Received: protected='sex'"):
        reweighing(X, Y, protected="sex")
