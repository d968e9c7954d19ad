import math

import keras
import numpy as np
import pytest
from test_case import digits

from keras_mlsec.datasets import reference_model
from keras_mlsec.privacy import (AuditReport, audit_epsilon, compute_epsilon, craft_canaries,
                                 epsilon_lower_bound, make_private, one_run_epsilon_lower_bound)
from keras_mlsec.privacy.audit import clopper_pearson, one_run_p_value

NUM_DATA, NUM_CANARIES = 200, 100


# Hand-worked conversions ---------------------------------------------------------
def test_clopper_pearson_at_the_extremes_by_hand():
    # k = n: low = (alpha/2)^(1/n); k = 0: high = 1 - (alpha/2)^(1/n).
    low, high = clopper_pearson(100, 100, confidence=0.95)
    assert low == pytest.approx(0.025 ** 0.01) and high == 1.0
    low, high = clopper_pearson(0, 100, confidence=0.95)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** 0.01)


def test_perfect_membership_test_bound_by_hand():
    p = 0.025 ** 0.01  # TPR_low; FPR_high = 1 - p
    assert epsilon_lower_bound(100, 100, 0, 100) == pytest.approx(math.log(p / (1 - p)))
    with_delta = epsilon_lower_bound(100, 100, 0, 100, delta=0.1)
    assert with_delta == pytest.approx(math.log((p - 0.1) / (1 - p)))


def test_chance_level_test_proves_nothing():
    assert epsilon_lower_bound(50, 100, 50, 100) == 0.0
    assert epsilon_lower_bound(0, 10, 10, 10) == 0.0


def test_one_run_bound_by_hand():
    # 10 of 10 right, delta = 0: P[Binomial(10, q) >= 10] = q^10 = 0.05.
    q = 0.05 ** 0.1
    assert one_run_epsilon_lower_bound(10, 10, 10) == pytest.approx(math.log(q / (1 - q)),
                                                                     abs=1e-5)
    assert one_run_p_value(10, 10, 10, epsilon=math.log(q / (1 - q))) == pytest.approx(0.05)
    assert one_run_epsilon_lower_bound(1000, 1000, 500) == 0.0  # chance


def test_one_run_delta_term_by_hand_and_monotone():
    # v = r = 1, m = 10: tail q plus 2 m delta * P[W' = 0] = (1 - q), at eps = 0: 0.5 + 10 delta.
    assert one_run_p_value(10, 1, 1, epsilon=0.0, delta=0.01) == pytest.approx(0.5 + 0.1)
    plain = one_run_epsilon_lower_bound(1000, 100, 95)
    assert 0 < one_run_epsilon_lower_bound(1000, 100, 95, delta=1e-4) < plain
    assert one_run_epsilon_lower_bound(1000, 100, 95, confidence=0.5) > plain


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="Expected `true_positives` <= num_members"):
        epsilon_lower_bound(11, 10, 0, 10)
    with pytest.raises(ValueError, match="num_non_members"):
        epsilon_lower_bound(1, 10, 0, 0)
    with pytest.raises(ValueError, match="Expected `delta` in"):
        epsilon_lower_bound(1, 10, 0, 10, delta=1.0)
    with pytest.raises(ValueError, match="Expected `confidence` in"):
        one_run_epsilon_lower_bound(10, 10, 5, confidence=1.0)
    with pytest.raises(ValueError, match="Expected `num_correct` <= num_guesses"):
        one_run_epsilon_lower_bound(10, 5, 6)
    with pytest.raises(ValueError, match="Expected `kind`"):
        craft_canaries(np.zeros((4, 3)), 2, num_classes=2, kind="nope")
    x, y = craft_canaries(np.zeros((4, 3)), 5, num_classes=3, seed=0)
    with pytest.raises(TypeError, match="train_fn"):
        audit_epsilon(None, (x, y), (x, y))
    with pytest.raises(ValueError, match="num_guesses"):
        audit_epsilon(lambda a, b: None, (x, y), (x, y), num_guesses=6)
    with pytest.raises(ValueError, match="shaped like"):
        audit_epsilon(lambda a, b: None, (x, y), (np.zeros((2, 4)), np.zeros(2, int)))


def test_report_fields_text_and_consistency():
    report = AuditReport(epsilon_lower_bound=4.0, delta=1e-5, confidence=0.95, tpr=0.9,
                         fpr=0.1, num_canaries=100, num_guesses=50, num_correct=49,
                         epsilon_accountant=1.0)
    assert report.consistent is False
    assert report.to_dict()["epsilon_accountant"] == 1.0
    assert "WARNING" in str(report) and "Accountant epsilon" in str(report)
    again = AuditReport.from_json(report.to_json())
    assert again.to_dict() == report.to_dict() and again.consistent is False
    assert AuditReport(epsilon_lower_bound=0.0, delta=0, confidence=0.9, tpr=0, fpr=0,
                       num_canaries=1, num_guesses=1, num_correct=0).consistent is None


# One-run audits ------------------------------------------------------------------
def audit_data():
    (x_train, y_train), _ = digits(8)
    canaries = craft_canaries(x_train, NUM_CANARIES, num_classes=10, seed=1)
    return (x_train[:NUM_DATA], y_train[:NUM_DATA]), canaries


def test_non_private_model_memorizing_canaries_gives_a_clear_bound():
    data, canaries = audit_data()

    def train_fn(x, y):
        model = reference_model("mlp", (8, 8, 1), 10, seed=0)
        model.fit(x, y, epochs=60, batch_size=32, verbose=0)
        return model

    report = audit_epsilon(train_fn, data, canaries, num_guesses=40, seed=0)
    assert report.num_correct >= 38
    assert report.epsilon_lower_bound > 1.5


def test_dp_model_bound_stays_below_the_accountant_epsilon():
    data, canaries = audit_data()
    delta, epochs, batch_size, sigma = 1e-4, 5, 50, 2.0
    num_examples = NUM_DATA + NUM_CANARIES // 2  # roughly what train_fn sees
    epsilon = compute_epsilon(num_examples=num_examples, batch_size=batch_size, epochs=epochs,
                              noise_multiplier=sigma, delta=delta)

    def train_fn(x, y):
        model = reference_model("mlp", (8, 8, 1), 10, seed=0, compile=False)
        private = make_private(model, l2_norm_clip=1.0, noise_multiplier=sigma, delta=delta,
                               epochs=epochs, batch_size=batch_size, num_examples=len(x),
                               seed=0)
        private.compile(optimizer=keras.optimizers.SGD(0.5),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        private.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
        return private

    report = audit_epsilon(train_fn, data, canaries, num_guesses=40, delta=delta,
                           epsilon_accountant=epsilon, seed=0)
    assert 0.0 <= report.epsilon_lower_bound <= epsilon
    assert report.consistent is True
    assert report.num_canaries == NUM_CANARIES and report.num_guesses == 40
