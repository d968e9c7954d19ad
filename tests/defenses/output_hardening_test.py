import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec.defenses import OutputHardening

PROBS = np.array([[0.6, 0.3, 0.1], [0.05, 0.15, 0.8]], np.float32)


def _run(layer, x=PROBS):
    return np.asarray(layer(x))


def test_top1_is_the_one_hot_arg_max():
    np.testing.assert_array_equal(_run(OutputHardening("top1")), [[1, 0, 0], [0, 0, 1]])


def test_top_k_keeps_k_renormalised():
    out = _run(OutputHardening("top_k", k=2))
    np.testing.assert_allclose(out, [[2 / 3, 1 / 3, 0], [0, 0.15 / 0.95, 0.8 / 0.95]], atol=1e-6)


def test_round_keeps_decimals():
    out = _run(OutputHardening("round", decimals=1), np.array([[0.64, 0.26, 0.1]], np.float32))
    np.testing.assert_allclose(out, [[0.6, 0.3, 0.1]], atol=1e-6)


def test_reverse_sigmoid_by_hand_and_arg_max_kept_here():
    beta, gamma = 0.5, 0.3
    out = _run(OutputHardening("reverse_sigmoid", beta=beta, gamma=gamma))
    logit = np.log(PROBS) - np.log1p(-PROBS)
    expected = PROBS - beta * (1 / (1 + np.exp(-gamma * logit)) - 0.5)
    expected = expected / expected.sum(1, keepdims=True)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert not np.allclose(out, PROBS, atol=0.01)
    np.testing.assert_array_equal(out.argmax(1), PROBS.argmax(1))


def test_noise_is_random_and_still_a_distribution():
    layer = OutputHardening("noise", stddev=0.1, seed=0)
    first, second = _run(layer), _run(layer)
    assert layer.stochastic and not OutputHardening("top1").stochastic
    assert not np.allclose(first, second)
    np.testing.assert_allclose(first.sum(1), 1.0, atol=1e-5)
    assert first.min() >= 0


def test_from_logits_applies_softmax_first():
    logits = np.log(PROBS)
    np.testing.assert_allclose(_run(OutputHardening("top_k", k=3, from_logits=True), logits),
                               PROBS, atol=1e-6)


def test_discrete_modes_pass_gradients_straight_through():
    x = tf.constant(PROBS)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(OutputHardening("top1")(x) * tf.constant([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(tape.gradient(y, x), [[1, 2, 3], [1, 2, 3]])


def test_round_trips_through_a_keras_file(tmp_path):
    inputs = keras.Input((4,))
    outputs = OutputHardening("top_k", k=2, name="hardening")(
        keras.layers.Dense(3, activation="softmax")(inputs))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "served.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.get_layer("hardening")
    assert isinstance(layer, OutputHardening) and (layer.mode, layer.k) == ("top_k", 2)
    x = np.random.default_rng(0).uniform(size=(8, 4)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert np.sum(loaded.predict(x, verbose=0) == 0) == 8  # one class zeroed per row


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "label"}, r"Expected `mode` to be one of .* Received: mode='label'"),
    ({"mode": "top_k", "k": 0}, r"Expected `k` to be an integer >= 1. Received: k=0"),
    ({"decimals": 12}, r"Expected `decimals` to be an integer in \[0, 8\]"),
    ({"beta": 2.0}, r"Expected `beta` to be a number in \[0.0, 1.0\]"),
    ({"stddev": -1.0}, r"Expected `stddev` to be a finite number >= 0"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OutputHardening(**kwargs)


def test_single_column_input_refused():
    with pytest.raises(ValueError, match=r"Expected one probability per class"):
        OutputHardening("top1")(np.ones((2, 1), np.float32))
