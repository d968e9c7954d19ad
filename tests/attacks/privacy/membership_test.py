import functools

import numpy as np
import pytest
from test_case import digits

from keras_mlsec.attacks import ATTACKS, MembershipReport, membership_inference
from keras_mlsec._core import membership_scores as s
from keras_mlsec.datasets import reference_model

NUM_MEMBERS = 200
EPOCHS = 100


@functools.lru_cache(maxsize=None)
def overfit_model(output="softmax"):
    """An 8x8 digits MLP trained for many epochs on 200 examples, so it overfits."""
    (x_train, y_train), _ = digits(8)
    model = reference_model("mlp", (8, 8, 1), 10, output=output, seed=0)
    model.fit(x_train[:NUM_MEMBERS], y_train[:NUM_MEMBERS], epochs=EPOCHS, batch_size=32,
              verbose=0)
    return model


@functools.lru_cache(maxsize=None)
def small_lira_setup():
    """A model overfit on 100 members, with 100 non-members (LiRA trains on their union)."""
    members, non_members, _ = split()
    members = (members[0][:100], members[1][:100])
    non_members = (non_members[0][:100], non_members[1][:100])
    model = reference_model("mlp", (8, 8, 1), 10, seed=0)
    model.fit(*members, epochs=EPOCHS, batch_size=32, verbose=0)
    return model, members, non_members


def split():
    (x_train, y_train), (x_test, y_test) = digits(8)
    members = (x_train[:NUM_MEMBERS], y_train[:NUM_MEMBERS])
    non_members = (x_test[:NUM_MEMBERS], y_test[:NUM_MEMBERS])
    pool = (x_train[NUM_MEMBERS:3 * NUM_MEMBERS], y_train[NUM_MEMBERS:3 * NUM_MEMBERS])
    return members, non_members, pool


# Pure score functions ----------------------------------------------------------
def test_scores_by_hand():
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    labels = np.array([0, 0])
    np.testing.assert_allclose(s.threshold_scores(logits, labels), [0.7, 0.1])
    np.testing.assert_allclose(s.loss_scores(logits, labels), np.log([0.7, 0.1]))
    np.testing.assert_allclose(s.logit_confidence(logits, labels),
                               np.log([0.7 / 0.3, 0.1 / 0.9]))
    # Modified entropy of row 0: -(0.3 log 0.7 + 0.2 log 0.8 + 0.1 log 0.9).
    expected = 0.3 * np.log(0.7) + 0.2 * np.log(0.8) + 0.1 * np.log(0.9)
    assert s.entropy_scores(logits, labels)[0] == pytest.approx(expected)
    # A confident wrong prediction scores lower than a confident right one.
    assert s.entropy_scores(logits, labels)[1] < s.entropy_scores(logits, labels)[0]


def test_lira_scores_rank_a_phi_near_the_in_mean_first():
    phi_shadow = np.array([[5.0, 5.0], [0.0, 0.0], [5.2, 5.2], [0.2, 0.2]])
    in_mask = np.array([[True, True], [False, False], [True, True], [False, False]])
    phi = np.array([5.1, 0.1])
    online = s.lira_scores(phi, phi_shadow, in_mask, online=True)
    offline = s.lira_scores(phi, phi_shadow, in_mask, online=False)
    assert online[0] > 0 > online[1]
    assert offline[0] > offline[1]


# Attacks on trained models -----------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("method", ["threshold", "loss", "entropy"])
def test_metric_attacks_beat_chance_on_an_overfit_model(method):
    members, non_members, _ = split()
    report = membership_inference(overfit_model(), members, non_members, method=method)
    assert isinstance(report, MembershipReport)
    assert report.method == method
    assert report.auc > 0.6
    assert report.advantage > 0.1
    assert report.num_members == NUM_MEMBERS and report.num_non_members == NUM_MEMBERS


@pytest.mark.slow
def test_logits_and_softmax_models_give_the_same_loss_scores():
    members, non_members, _ = split()
    softmax = overfit_model("softmax")
    twin = reference_model("mlp", (8, 8, 1), 10, output="logits", seed=0)
    twin.set_weights(softmax.get_weights())
    a = membership_inference(softmax, members, non_members, method="loss")
    b = membership_inference(twin, members, non_members, method="loss")
    assert a.auc == pytest.approx(b.auc, abs=1e-6)


def test_model_that_never_saw_either_set_is_at_chance():
    (x_train, y_train), _ = digits(8)
    members, non_members, _ = split()
    model = reference_model("mlp", (8, 8, 1), 10, seed=1)
    model.fit(x_train[3 * NUM_MEMBERS:], y_train[3 * NUM_MEMBERS:], epochs=10, batch_size=64,
              verbose=0)
    report = membership_inference(model, members, non_members, method="loss")
    assert abs(report.auc - 0.5) < 0.08


@pytest.mark.slow
def test_shadow_attack_with_two_shadows_beats_chance():
    members, non_members, pool = split()
    report = membership_inference(overfit_model(), members, non_members, method="shadow",
                                  shadow_data=pool, num_shadow_models=2, epochs=EPOCHS,
                                  batch_size=32, seed=0)
    assert report.method == "shadow"
    assert report.auc > 0.6
    assert report.config["num_shadow_models"] == 2


@pytest.mark.slow
def test_lira_online_beats_chance():
    model, members, non_members = small_lira_setup()
    report = membership_inference(model, members, non_members, method="lira",
                                  num_shadow_models=2, epochs=EPOCHS, batch_size=32, seed=0)
    assert report.method == "lira"
    assert report.auc > 0.6


@pytest.mark.slow
def test_lira_offline_beats_chance_and_is_named_offline():
    model, members, non_members = small_lira_setup()
    report = membership_inference(model, members, non_members, method="lira", online=False,
                                  num_shadow_models=3, epochs=EPOCHS, batch_size=32, seed=0)
    assert report.method == "lira-offline"
    assert report.config["online"] is False
    assert report.auc > 0.6


def test_one_hot_labels_give_the_same_report_as_sparse_labels():
    model = reference_model("mlp", (8, 8, 1), 10, seed=0)
    members, non_members, _ = split()
    one_hot = [(x, np.eye(10)[y]) for x, y in (members, non_members)]
    sparse = membership_inference(model, members, non_members, method="entropy")
    dense = membership_inference(model, *one_hot, method="entropy")
    np.testing.assert_allclose(dense.member_scores, sparse.member_scores)
    assert dense.auc == pytest.approx(sparse.auc)


# Bad input -----------------------------------------------------------------------
def test_bad_inputs_raise_errors_naming_the_argument():
    model = reference_model("mlp", (8, 8, 1), 10, seed=0)
    members, non_members, pool = split()
    x, y = members
    with pytest.raises(ValueError, match="method"):
        membership_inference(model, members, non_members, method="magic")
    with pytest.raises(ValueError, match=r"members\[1\]"):
        membership_inference(model, (x, y[:-1]), non_members)
    with pytest.raises(ValueError, match=r"non_members\[0\]"):
        membership_inference(model, members, (x[:0], y[:0]))
    with pytest.raises(ValueError, match="members"):
        membership_inference(model, x, non_members)
    with pytest.raises(ValueError, match=r"members\[0\]"):
        membership_inference(model, (x[:, :4], y), non_members)
    with pytest.raises(ValueError, match="shadow_data"):
        membership_inference(model, members, non_members, method="shadow")
    with pytest.raises(ValueError, match="num_shadow_models"):
        membership_inference(model, members, non_members, method="shadow", shadow_data=pool,
                             num_shadow_models=0)
    with pytest.raises(TypeError, match="model"):
        membership_inference("model", members, non_members)


def test_too_few_shadow_models_for_lira_raise():
    model = reference_model("mlp", (8, 8, 1), 10, seed=0)
    members, non_members, _ = split()
    with pytest.raises(ValueError, match=r"num_shadow_models` >= 2 for LiRA online"):
        membership_inference(model, members, non_members, method="lira", num_shadow_models=1)
    with pytest.raises(ValueError, match=r"num_shadow_models` >= 3 for LiRA offline"):
        membership_inference(model, members, non_members, method="lira", online=False,
                             num_shadow_models=2)


def test_membership_is_not_an_evasion_attack():
    assert "membership" not in ATTACKS and "membership_inference" not in ATTACKS


def test_lira_with_one_shadow_per_side_uses_a_finite_shared_variance():
    phi_shadow = np.array([[4.0, 6.0, 1.0], [0.0, 1.0, 5.0]])
    in_mask = np.array([[True, True, False], [False, False, True]])
    scores = s.lira_scores(np.array([4.0, 1.0, 3.0]), phi_shadow, in_mask, online=True)
    assert np.all(np.isfinite(scores)) and np.max(np.abs(scores)) < 100
    assert scores[0] > 0 > scores[1]
