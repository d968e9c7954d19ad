import numpy as np
import pytest

from keras_mlsec import attacks
from test_case import accuracy, digits, max_norm, trained_model


@pytest.fixture(scope="module")
def data():
    _, (x, y) = digits(8)
    return x[:200], y[:200]


def test_fgsm_moves_every_free_pixel_by_eps():
    # A linear model z = w.x: the FGSM step is exactly eps * sign(gradient).
    import keras

    inputs = keras.Input((4,))
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[1.0, -1.0], [-2.0, 2.0], [0.5, -0.5], [-1.0, 1.0]], "float32")])
    x = np.full((1, 4), 0.5, "float32")
    # Class 0 is the label; raising the loss pushes towards class 1: sign(w1 - w0).
    x_adv = attacks.fgsm(model, x, np.array([0]), eps=0.1).numpy()
    np.testing.assert_allclose(x_adv, [[0.4, 0.6, 0.4, 0.6]], atol=1e-6)


def test_fgsm_lowers_accuracy(data):
    x, y = data
    model = trained_model()
    x_adv = attacks.fgsm(model, x, y, eps=0.15).numpy()
    assert accuracy(model, x_adv, y) < accuracy(model, x, y) - 0.2
    assert max_norm(x_adv, x) <= 0.15 + 1e-6


def test_fgsm_l2_norm_is_eps_away_from_clip():
    import keras

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    x = np.full((5, 3), 0.5, "float32")
    x_adv = attacks.fgsm(model, x, np.zeros(5, int), eps=0.2, norm="l2").numpy()
    np.testing.assert_allclose(np.linalg.norm(x_adv - x, axis=1), 0.2, rtol=1e-4)


def test_fgsm_random_start_stays_in_ball(data):
    x, y = data
    x_adv = attacks.fgsm(trained_model(), x, y, eps=0.1, rand_init=True, seed=0).numpy()
    assert max_norm(x_adv, x) <= 0.1 + 1e-6


def test_targeted_fgsm_moves_towards_target(data):
    x, y = data
    model = trained_model()
    target = (y + 3) % 10
    before = model.predict(x, verbose=0)[np.arange(len(x)), target]
    x_adv = attacks.fgsm(model, x, target, eps=0.05, targeted=True).numpy()
    after = model.predict(x_adv, verbose=0)[np.arange(len(x)), target]
    assert np.mean(after > before) > 0.9
