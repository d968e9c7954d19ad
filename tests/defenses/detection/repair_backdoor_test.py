"""repair_backdoor: unlearning and fine-pruning lower attack success; the input model is kept."""

import keras
import numpy as np
import pytest

from keras_mlsec.attacks import attack_success_rate
from keras_mlsec.defenses import BackdoorScan, neural_cleanse, repair_backdoor
from keras_mlsec.defenses.detection.repair_backdoor import _default_prune_layer
from poisoning_case import backdoored
from test_case import accuracy


@pytest.fixture(scope="module")
def setup():
    model, data, x_test, y_test = backdoored()
    scan = neural_cleanse(model, x_test[:150], y_test[:150], steps=200, seed=0)
    return model, data, scan, x_test, y_test


def _repair(setup, method):
    model, data, scan, x_test, y_test = setup
    weights = [w.copy() for w in model.get_weights()]
    x_def, y_def = x_test[:150].copy(), y_test[:150].copy()
    repaired = repair_backdoor(model, scan, x_def, y_def, method=method, seed=0)
    assert repaired is not model
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(x_def, x_test[:150])
    x_eval, y_eval = x_test[150:], y_test[150:]
    assert accuracy(repaired, x_eval, y_eval) >= accuracy(model, x_eval, y_eval) - 0.06
    return repaired, (attack_success_rate(model, data, x_eval, y_eval),
                      attack_success_rate(repaired, data, x_eval, y_eval))


@pytest.mark.slow
def test_unlearning_lowers_attack_success_and_leaves_the_model_alone(setup):
    _, (before, after) = _repair(setup, "unlearning")
    assert after < before - 0.3


@pytest.mark.slow
def test_fine_pruning_zeroes_dormant_units_and_keeps_accuracy(setup):
    # On this MLP fine-pruning barely lowers attack success (0.96 -> 0.93 measured); on the
    # reference CNN it does more (benchmarks/RESULTS.md). What must hold: units pruned and
    # held at zero through the fine-tuning, accuracy kept, the input model untouched.
    repaired, _ = _repair(setup, "fine_pruning")
    kernel = repaired.get_layer(_default_prune_layer(repaired)).kernel.numpy()
    dead = np.all(kernel == 0, axis=0)
    assert 0 < dead.sum() < kernel.shape[-1]


def test_default_prune_layer_and_errors():
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, name="c1")(inputs)
    h = keras.layers.Conv2D(4, 3, name="c2")(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(h)))
    assert _default_prune_layer(model) == "c2"
    mlp = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="d1"),
                            keras.layers.Dense(3)])
    assert _default_prune_layer(mlp) == "d1"
    x, y = np.zeros((10, 4), np.float32), np.arange(10) % 3
    scan = BackdoorScan([1.0, 1.0, 1.0], np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="method"):
        repair_backdoor(mlp, scan, x, y, method="retrain")
    with pytest.raises(ValueError, match="scan=None"):
        repair_backdoor(mlp, None, x, y)
    with pytest.raises(TypeError, match="scan"):
        repair_backdoor(mlp, "scan", x, y)
    with pytest.raises(ValueError, match="prune_layer"):
        repair_backdoor(mlp, None, x, y, method="fine_pruning", prune_layer="nope")
    with pytest.raises(ValueError, match="unlearning_fraction"):
        repair_backdoor(mlp, scan, x, y, unlearning_fraction=2)
    # Nothing flagged: an untrained copy comes back.
    copy = repair_backdoor(mlp, scan, x, y)
    for a, b in zip(copy.get_weights(), mlp.get_weights()):
        np.testing.assert_array_equal(a, b)
