"""RandomizedSmoothing and certify: noise statistics, save/load, analytic radii, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec.defenses import RandomizedSmoothing, certify
from keras_mlsec.defenses.certification.randomized_smoothing import lower_confidence_bound


def linear_model():
    """Two classes split by the hyperplane x0 = 0: the L2 distance to it is |x0|."""
    inputs = keras.Input((2,))
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[1.0, -1.0], [0.0, 0.0]], np.float32)])
    return model


def test_noise_has_the_requested_standard_deviation_in_inference_too():
    layer = RandomizedSmoothing(sigma=0.5, seed=3)
    x = np.full((200, 50), 0.3, np.float32)
    model = keras.Sequential([keras.Input((50,)), layer])
    noisy = model.predict(x, verbose=0)
    assert noisy.shape == x.shape and noisy.dtype == np.float32 and np.all(np.isfinite(noisy))
    assert np.std(noisy - x) == pytest.approx(0.5, rel=0.03)
    assert abs(np.mean(noisy - x)) < 0.01
    assert not np.allclose(model.predict(x, verbose=0), noisy)  # fresh noise every call
    assert layer.stochastic is True


def test_same_seed_same_noise_and_gradient_is_identity():
    x = tf.zeros((3, 4))
    np.testing.assert_array_equal(RandomizedSmoothing(0.1, seed=7)(x).numpy(),
                                  RandomizedSmoothing(0.1, seed=7)(x).numpy())
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(RandomizedSmoothing(0.1, seed=7)(x) * 2.0)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.full((3, 4), 2.0))


def test_save_and_load_keeps_config_and_noise_sequence(tmp_path):
    model = keras.Sequential([keras.Input((5,)), RandomizedSmoothing(sigma=0.2, seed=11),
                              keras.layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    x = np.ones((4, 5), np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


def test_clopper_pearson_bound_matches_hand_values():
    # All n successes: the bound solves p**n = alpha.
    assert lower_confidence_bound(100, 100, 0.05) == pytest.approx(0.05 ** (1 / 100))
    assert lower_confidence_bound(0, 100, 0.05) == 0.0
    assert lower_confidence_bound(50, 100, 0.05) < 0.5


def test_certified_radius_is_close_to_the_analytic_radius():
    # Smoothing a linear classifier gives pA = Phi(d / sigma), so the exact radius is d.
    x = np.array([[0.5, 0.0], [-1.0, 0.3], [0.01, -0.2]], np.float32)
    classes, radii = certify(linear_model(), x, sigma=0.5, n0=100, n=10_000, alpha=0.001, seed=0)
    np.testing.assert_array_equal(classes, [0, 1, -1])  # the last one is too close: abstain
    assert 0.44 < radii[0] <= 0.5
    assert 0.88 < radii[1] <= 1.0
    assert radii[2] == 0.0


def test_radius_grows_with_samples_and_method_matches_function():
    x = np.array([[0.5, 0.0]], np.float32)
    layer = RandomizedSmoothing(sigma=0.5, seed=1)
    _, small = layer.certify(linear_model(), x, n0=50, n=200, alpha=0.001)
    _, large = layer.certify(linear_model(), x, n0=50, n=10_000, alpha=0.001)
    assert small[0] < large[0]
    classes, radii = certify(linear_model(), x, sigma=0.5, n0=50, n=200, alpha=0.001, seed=1)
    assert classes[0] == 0 and radii[0] == small[0]


def test_far_points_reach_the_sample_size_bound():
    classes, radii = certify(linear_model(), np.array([[50.0, 0.0]], np.float32), sigma=1.0,
                             n0=10, n=100, alpha=0.01, seed=0)
    from scipy.stats import norm

    assert classes[0] == 0
    assert radii[0] == pytest.approx(norm.ppf(0.01 ** (1 / 100)))


@pytest.mark.parametrize("sigma", [0, -0.1, float("nan"), "0.5", None, True])
def test_bad_sigma_is_named(sigma):
    with pytest.raises(ValueError, match="Expected `sigma`.*Received: sigma="):
        RandomizedSmoothing(sigma=sigma)
    with pytest.raises(ValueError, match="Expected `sigma`.*Received: sigma="):
        certify(linear_model(), np.zeros((1, 2), np.float32), sigma=sigma)


@pytest.mark.parametrize("kwargs,name", [({"alpha": 0}, "alpha"), ({"alpha": 1.5}, "alpha"),
                                         ({"n0": 0}, "n0"), ({"n": -5}, "n"),
                                         ({"batch_size": 0}, "batch_size")])
def test_bad_certify_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"Expected `{name}`.*Received: {name}="):
        certify(linear_model(), np.zeros((1, 2), np.float32), sigma=0.5, **kwargs)


def test_bad_seed_and_model_are_refused():
    with pytest.raises(TypeError, match="Expected `seed`"):
        RandomizedSmoothing(sigma=0.5, seed="x")
    with pytest.raises(TypeError, match="Expected `model`"):
        certify(lambda t: t, np.zeros((1, 2), np.float32), sigma=0.5)
