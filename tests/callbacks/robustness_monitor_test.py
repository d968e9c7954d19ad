import keras
import numpy as np
import pytest
from test_case import digits, trained_model

from keras_mlsec.attacks import FGSM, PGD
from keras_mlsec.callbacks import RobustnessMonitor
from keras_mlsec.datasets import reference_model
from keras_mlsec.training import AdversarialModel


def _fresh_trained_copy():
    source = trained_model()
    model = reference_model("mlp", (8, 8, 1), 10, seed=0, compile=False)
    model.set_weights(source.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class _CorruptWeights(keras.callbacks.Callback):
    """Scrambles the weights at the end of epoch `at` (a constructed collapse)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            rng = np.random.default_rng(0)
            self.model.set_weights([rng.normal(0, 1, w.shape).astype("float32")
                                    for w in self.model.get_weights()])


def test_logs_val_robust_accuracy_into_history_for_an_adversarial_model():
    (x_train, y_train), (x_test, y_test) = digits()
    base = reference_model("mlp", (8, 8, 1), 10, output="softmax", seed=0, compile=False)
    model = AdversarialModel(base, attack=FGSM(eps=0.1, rand_init=True), method="fgsm_rs",
                             seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    monitor = RobustnessMonitor(x_test, y_test, eps=0.1, every=2, max_samples=128)
    history = model.fit(x_train[:512], y_train[:512], epochs=4, batch_size=64, verbose=0,
                        callbacks=[monitor])
    values = history.history["val_robust_accuracy"]
    assert len(values) == 2  # epochs 2 and 4
    assert all(0.0 <= value <= 1.0 for value in values)
    assert [epoch for epoch, _ in monitor.history] == [1, 3]
    assert monitor.best == max(values)


def test_restores_best_weights_and_stops_on_collapse():
    _, (x_test, y_test) = digits()
    model = _fresh_trained_copy()
    monitor = RobustnessMonitor(x_test, y_test, attack=PGD(eps=0.05, steps=5, seed=0),
                                max_samples=200, stop_on_collapse=True,
                                restore_best_weights=True)
    history = model.fit(x_test[:64], y_test[:64], epochs=6, verbose=0,
                        callbacks=[_CorruptWeights(at=2), monitor])
    robust = history.history["val_robust_accuracy"]
    assert len(robust) == 3 and monitor.stopped_epoch == 2 and monitor.collapsed
    assert robust[-1] < monitor.best - 0.2
    for restored, best in zip(model.get_weights(), monitor.best_weights):
        np.testing.assert_array_equal(restored, best)
    assert monitor.robust_accuracy() == pytest.approx(monitor.best)


def test_patience_stops_when_robust_accuracy_stops_improving():
    _, (x_test, y_test) = digits()
    model = _fresh_trained_copy()
    monitor = RobustnessMonitor(x_test, y_test, eps=0.05, max_samples=64, patience=2,
                                min_delta=0.5)
    history = model.fit(x_test[:64], y_test[:64], epochs=10, verbose=0, callbacks=[monitor])
    assert len(history.history["loss"]) == 3
    assert monitor.stopped_epoch == 2 and not monitor.collapsed


@pytest.mark.parametrize("kwargs, error, match", [
    ({"every": 0}, ValueError, "every=0"),
    ({"patience": 0}, ValueError, "patience=0"),
    ({"min_delta": -0.1}, ValueError, "min_delta=-0.1"),
    ({"attack": "pgd"}, TypeError, "attack='pgd'"),
])
def test_bad_arguments(kwargs, error, match):
    _, (x_test, y_test) = digits()
    with pytest.raises(error, match=match):
        RobustnessMonitor(x_test, y_test, **kwargs)


def test_mismatched_labels_raise():
    _, (x_test, y_test) = digits()
    with pytest.raises(ValueError, match="y_val with 5 labels"):
        RobustnessMonitor(x_test, y_test[:5])
