import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec import attacks
from keras_mlsec.attacks.evasion.square import fraction_schedule, window_sizes
from keras_mlsec.datasets import reference_model
from test_case import accuracy, digits, max_norm, predictions, trained_model


@pytest.fixture(scope="module")
def data():
    _, (x, y) = digits(8)
    return x[:150], y[:150]


class GradientTrap(keras.layers.Layer):
    """Identity that counts the examples it sees and fails if a gradient goes through it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = tf.Variable(0, dtype=tf.int64, trainable=False)

    def call(self, x):
        @tf.custom_gradient
        def identity(t):
            def grad(upstream):
                raise RuntimeError("gradient requested through the trap")
            return tf.identity(t), grad

        self.seen.assign_add(tf.cast(tf.shape(x)[0], tf.int64))
        return identity(x)


def trapped(base):
    inputs = keras.Input(base.input_shape[1:])
    trap = GradientTrap()
    return keras.Model(inputs, base(trap(inputs))), trap


def test_square_lowers_accuracy_and_stays_in_ball(data):
    x, y = data
    model = trained_model()
    x_adv = attacks.square_attack(model, x, y, eps=0.2, steps=300, seed=0).numpy()
    assert accuracy(model, x, y) > 0.9
    assert accuracy(model, x_adv, y) < 0.3
    assert max_norm(x_adv, x) <= 0.2 + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert not np.isnan(x_adv).any()
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32


def test_square_never_takes_a_gradient_and_stops_querying_fooled_examples(data):
    x, y = data
    model, trap = trapped(trained_model())
    # The trap is real: a gradient attack on the same model fails.
    with pytest.raises(Exception, match="gradient requested"):
        attacks.pgd(model, x[:4], y[:4], eps=0.1, steps=1)
    trap.seen.assign(0)
    steps = 300
    x_adv = attacks.square_attack(model, x, y, eps=0.2, steps=steps, seed=0)
    queries = int(trap.seen.numpy())
    assert len(x) <= queries <= len(x) * steps
    # Most examples fall within a few dozen queries and are then left alone.
    assert queries < 0.5 * len(x) * steps
    assert accuracy(trained_model(), x_adv, y) < 0.3


def test_targeted_reaches_target(data):
    x, y = data
    model = trained_model()
    target = (y + 1) % 10
    x_adv = attacks.square_attack(model, x, target, eps=0.3, steps=500, targeted=True, seed=0)
    assert max_norm(x_adv, x) <= 0.3 + 1e-6
    assert np.mean(predictions(model, x_adv) == target) > 0.8


@functools.lru_cache(maxsize=None)
def flat_model():
    (x_train, y_train), _ = digits(8)
    model = reference_model("mlp", (64,), 10, seed=0)
    model.fit(x_train.reshape(len(x_train), -1), y_train, epochs=20, batch_size=64, verbose=0)
    return model


def test_flat_inputs_use_windows_of_features(data):
    x, y = data
    flat = x.reshape(len(x), -1)
    model = flat_model()
    x_adv = attacks.square_attack(model, flat, y, eps=0.2, steps=300, seed=0).numpy()
    assert x_adv.shape == flat.shape
    assert max_norm(x_adv, flat) <= 0.2 + 1e-6
    assert accuracy(model, flat, y) > 0.9
    assert accuracy(model, x_adv, y) < 0.4


def test_start_is_vertical_stripes(data):
    x, y = data
    # One query: the start only. Without clipping every pixel moves by exactly +-eps,
    # with one sign per column (the same down every row).
    x_adv = attacks.square_attack(trained_model(), x, y, eps=0.1, steps=1, clip=None,
                                  seed=0).numpy()
    delta = x_adv - x
    np.testing.assert_allclose(np.abs(delta), 0.1, atol=1e-6)
    np.testing.assert_allclose(delta, np.repeat(delta[:, :1], 8, axis=1), atol=1e-6)
    assert 0.3 < np.mean(delta > 0) < 0.7


def test_schedule_and_window_sizes_by_hand():
    schedule = fraction_schedule(0.8, 1000)  # iteration i of 1000 is 10 * i of 10,000
    assert schedule[0] == schedule[1] == 0.8
    assert schedule[2] == 0.4 and schedule[5] == 0.4 and schedule[6] == 0.2
    assert schedule[999] == 0.8 / 512
    sizes = window_sizes(0.8, 1000, (8, 8, 1))
    assert sizes[0].tolist() == [7, 7]  # round(sqrt(0.8 * 64)) = 7
    assert sizes[2].tolist() == [5, 5]  # round(sqrt(0.4 * 64)) = round(5.06)
    assert sizes[-1].tolist() == [1, 1]
    rows = window_sizes(0.8, 1000, (1, 30, 1))
    # A row of 30 features: windows of round(0.8 * 30) = 24, then round(0.4 * 30) = 12.
    assert rows[0].tolist() == [1, 24] and rows[2].tolist() == [1, 12]
    assert rows[-1].tolist() == [1, 1]


def test_softmax_twin_gives_the_same_result(data):
    x, y = data
    logits_model, softmax_model = trained_model(), trained_model(output="softmax")
    a = attacks.square_attack(logits_model, x, y, eps=0.1, steps=100, seed=0).numpy()
    b = attacks.square_attack(softmax_model, x, y, eps=0.1, steps=100, seed=0).numpy()
    assert accuracy(logits_model, a, y) == accuracy(softmax_model, b, y)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_zero_budget_returns_the_input(data):
    x, y = data
    np.testing.assert_array_equal(attacks.square_attack(trained_model(), x, y, eps=0.0), x)


@pytest.mark.parametrize("kwargs, match", [
    ({"eps": -0.1}, "eps"),
    ({"eps": 2.0}, "eps"),
    ({"eps": 0.1, "p_init": 0.0}, "p_init"),
    ({"eps": 0.1, "p_init": 1.5}, "p_init"),
    ({"eps": 0.1, "steps": 0}, "steps"),
    ({"eps": 0.1, "batch_size": 0}, "batch_size"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        attacks.SquareAttack(**kwargs)
    _, (x, y) = digits(8)
    with pytest.raises(ValueError, match=match):
        attacks.square_attack(trained_model(), x[:2], y[:2], **kwargs)


def test_config_round_trip_and_call(data):
    x, y = data
    attack = attacks.SquareAttack(eps=0.1, steps=50, p_init=0.3, seed=4)
    config = attack.get_config()
    assert config["p_init"] == 0.3 and config["steps"] == 50
    assert attacks.SquareAttack.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(attack))
    assert restored.get_config() == config
    assert isinstance(attacks.get("square", eps=0.1), attacks.SquareAttack)
    model = trained_model()
    np.testing.assert_allclose(attack(model, x[:20], y[:20]),
                               attacks.square_attack(model, x[:20], y[:20], **config))
