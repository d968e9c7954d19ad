import keras
import numpy as np
import pytest
from test_case import digits

from keras_mlsec.callbacks import MembershipMonitor
from keras_mlsec.datasets import reference_model
from keras_mlsec.privacy import DPModel

KEYS = ("membership_auc", "membership_advantage", "membership_tpr_at_1pct_fpr")


def split(n=100):
    (x_train, y_train), (x_test, y_test) = digits(8)
    return (x_train[:n], y_train[:n]), (x_test[:n], y_test[:n])


def test_keys_are_logged_and_leakage_grows_as_the_model_overfits():
    members, non_members = split()
    model = reference_model("mlp", (8, 8, 1), 10, seed=0)
    monitor = MembershipMonitor(members, non_members, every=5)
    history = model.fit(*members, epochs=60, batch_size=16, verbose=0, callbacks=[monitor])
    for key in KEYS:
        assert len(history.history[key]) == 12  # epochs 5, 10, ..., 60
    auc = history.history["membership_auc"]
    assert auc[-1] > 0.6
    assert auc[-1] > auc[0]
    assert all(0.0 <= a <= 1.0 for a in history.history["membership_advantage"])
    assert [epoch for epoch, _ in monitor.history] == list(range(4, 60, 5))
    assert monitor.history[-1][1].num_members == 100


def test_max_samples_subsets_and_method_is_used():
    members, non_members = split()
    model = reference_model("mlp", (8, 8, 1), 10, seed=0)
    monitor = MembershipMonitor(members, non_members, method="entropy", max_samples=30)
    history = model.fit(*members, epochs=2, batch_size=32, verbose=0, callbacks=[monitor])
    report = monitor.history[-1][1]
    assert report.method == "entropy"
    assert report.num_members == 30 and report.num_non_members == 30
    assert history.history["membership_auc"][-1] == pytest.approx(report.auc)


def test_a_dp_wrapper_is_attacked_through_its_inner_model():
    members, non_members = split(64)
    inner = reference_model("mlp", (8, 8, 1), 10, seed=0, compile=False)
    private = DPModel(inner, l2_norm_clip=1.0, noise_multiplier=1.0, num_microbatches=8, seed=0)
    private.compile(optimizer="sgd",
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    monitor = MembershipMonitor(members, non_members)
    private.fit(*members, epochs=1, batch_size=32, verbose=0, callbacks=[monitor])
    assert monitor.attacked_model() is inner
    assert 0.0 <= monitor.history[0][1].auc <= 1.0


@pytest.mark.parametrize("method", ["lira", "shadow"])
def test_model_training_methods_are_refused(method):
    members, non_members = split(10)
    with pytest.raises(ValueError, match="train.*shadow models.*Received: method="):
        MembershipMonitor(members, non_members, method=method)


def test_bad_arguments_raise():
    members, non_members = split(10)
    with pytest.raises(ValueError, match="Expected `method` in"):
        MembershipMonitor(members, non_members, method="nope")
    with pytest.raises(ValueError, match="every"):
        MembershipMonitor(members, non_members, every=0)
    with pytest.raises(ValueError, match="pair"):
        MembershipMonitor(members[0], non_members)
    with pytest.raises(ValueError, match="one label per input"):
        MembershipMonitor((members[0], members[1][:3]), non_members)
    with pytest.raises(ValueError, match="same shape"):
        MembershipMonitor(members, (np.zeros((4, 5), "float32"), np.zeros(4, "int32")))
