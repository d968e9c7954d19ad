"""detect_poison: finds backdoor poison with both methods, any model kind, bad input."""

import keras
import numpy as np
import pytest

from keras_mlsec.defenses import detect_poison
from poisoning_case import TARGET, backdoored, tiny_images


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spectral", "activation_clustering"])
def test_finds_the_poison_among_the_target_class(method):
    model, data, _, _ = backdoored()
    # The MLP's first hidden layer separates the poison; its last one (the default) less so.
    hidden = model.layers[-3].name
    report = detect_poison(model, data.x, data.y, method=method, layer=hidden)
    assert report.layer == hidden
    within = report.evaluate(data.poison_indices, classes=[TARGET])
    assert within["recall"] >= 0.8 and within["false_positive_rate"] <= 0.1
    assert TARGET in report.flagged_classes
    assert report.class_details[TARGET]["relabel_fraction"] >= 0.5
    # Overall F1 is lower: the k-NN check also confirms a compact group of 1s and 9s
    # (false alarms outside the target; measured F1 0.44 spectral, 0.50 clustering).
    overall = report.evaluate(data.poison_indices)
    assert overall["f1"] > 0.35
    assert report.scores.shape == (len(data.x),)
    # Poison scores higher than the clean examples of its class.
    clean_target = (data.y == TARGET) & ~data.is_poisoned
    assert np.median(report.scores[data.poison_indices]) > np.median(report.scores[clean_target])


@pytest.mark.slow
def test_verify_none_flags_a_group_in_every_class_and_layer_by_name():
    model, data, _, _ = backdoored()
    x_before = data.x.copy()
    report = detect_poison(model, data.x, data.y, method="activation_clustering", verify=None,
                           layer=model.layers[-2].name)
    assert report.layer == model.layers[-2].name
    assert len(report.flagged_classes) >= 5  # the label-free rule: one group per class
    np.testing.assert_array_equal(data.x, x_before)


def test_runs_on_a_subclassed_model_and_checks_arguments():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.flat = keras.layers.Flatten()
            self.hidden = keras.layers.Dense(8, activation="relu", name="hidden")
            self.head = keras.layers.Dense(4)

        def call(self, x):
            return self.head(self.hidden(self.flat(x)))

    x, y = tiny_images(40)
    model = Net()
    model(x[:1])
    report = detect_poison(model, x, y, layer="hidden")
    assert report.layer == "hidden" and len(report.scores) == 40
    with pytest.raises(ValueError, match=r"layer.*Received: layer='missing'"):
        detect_poison(model, x, y, layer="missing")
    with pytest.raises(ValueError, match="method"):
        detect_poison(model, x, y, method="pca")
    with pytest.raises(ValueError, match="verify"):
        detect_poison(model, x, y, verify="retrain")
    with pytest.raises(ValueError, match="relabel_threshold"):
        detect_poison(model, x, y, relabel_threshold=0)
    with pytest.raises(ValueError, match="labels"):
        detect_poison(model, x, np.full(40, 7))
