import keras
import numpy as np
import pytest

from keras_mlsec.datasets import load_credit
from keras_mlsec.responsible import AdversarialDebiasingModel, fairness_report
from keras_mlsec.responsible.adversarial_debiasing_model import project_out


def base(units=1, activation=None, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((7,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(units, activation=activation)(hidden))


def test_projection_removes_the_component_along_the_direction():
    out = np.asarray(project_out(np.array([1.0, 1.0]), np.array([2.0, 0.0])))
    np.testing.assert_allclose(out, [0.0, 1.0], atol=1e-6)


@pytest.mark.slow
def test_debiasing_cuts_statistical_parity_on_biased_credit():
    (x, y), (x_test, y_test) = load_credit(bias=0.5, seed=0)
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    plain = base()
    plain.compile("adam", loss)
    plain.fit(x, y, epochs=10, batch_size=32, verbose=0)
    fair = AdversarialDebiasingModel(base(), protected=0, adversary_weight=1.0,
                                     adversary_learning_rate=1e-2)
    fair.compile("adam", loss)
    history = fair.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert "adversary_loss" in history.history
    before = fairness_report(plain, x_test, y_test, protected=0)
    after = fairness_report(fair, x_test, y_test, protected=0)
    assert abs(after.statistical_parity_difference) < 0.5 * abs(
        before.statistical_parity_difference)
    assert after.accuracy > 0.6


@pytest.mark.parametrize("units,activation,fairness", [
    (1, "sigmoid", "equalized_odds"), (2, "softmax", "demographic_parity"), (1, None,
                                                                           "equalized_odds")])
def test_round_trip_through_a_keras_file(tmp_path, units, activation, fairness):
    (x, y), _ = load_credit(bias=0.3, num_examples=200, seed=0)
    fair = AdversarialDebiasingModel(base(units, activation), protected=0, fairness=fairness,
                                     adversary_weight=0.5, name="fair")
    loss = ("sparse_categorical_crossentropy" if units == 2 else
            keras.losses.BinaryCrossentropy(from_logits=activation is None))
    fair.compile("adam", loss)
    fair.fit(x, y, epochs=1, batch_size=50, verbose=0)
    path = str(tmp_path / "fair.keras")
    fair.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, AdversarialDebiasingModel)
    assert loaded.fairness == fairness and loaded.adversary_weight == 0.5
    np.testing.assert_allclose(loaded.predict(x, verbose=0), fair.predict(x, verbose=0),
                               atol=1e-6)
    np.testing.assert_allclose(loaded.adversary.get_weights()[0], fair.adversary.get_weights()[0])
    loaded.fit(x, y, epochs=1, batch_size=50, verbose=0)  # trains on after loading


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="Expected `model` to be a `keras.Model`"):
        AdversarialDebiasingModel(lambda x: x, protected=0)
    with pytest.raises(ValueError, match="1 or 2 output units"):
        AdversarialDebiasingModel(base(units=3), protected=0)
    with pytest.raises(ValueError, match="column index .* Received: protected='sex'"):
        AdversarialDebiasingModel(base(), protected="sex")
    with pytest.raises(ValueError, match="adversary_weight"):
        AdversarialDebiasingModel(base(), protected=0, adversary_weight=-1)
    with pytest.raises(ValueError, match="`fairness` to be one of"):
        AdversarialDebiasingModel(base(), protected=0, fairness="equal_pay")
