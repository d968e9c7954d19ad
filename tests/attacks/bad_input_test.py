"""Every bad argument raises an error naming it, before any work is done."""

import keras
import numpy as np
import pytest

from keras_mlsec import attacks
from test_case import digits, trained_model


@pytest.fixture(scope="module")
def data():
    _, (x, y) = digits(8)
    return x[:8], y[:8]


@pytest.mark.parametrize("name", ["fgsm", "pgd", "bim", "mim"])
def test_negative_eps(name):
    with pytest.raises(ValueError,
                       match=r"Expected `eps` to be a finite number >= 0. Received: eps=-0.1"):
        attacks.get(name, eps=-0.1)


def test_bad_norm():
    with pytest.raises(ValueError,
                       match=r"Expected `norm` to be \"linf\" or \"l2\". Received: norm='l1'"):
        attacks.PGD(eps=0.1, norm="l1")


@pytest.mark.parametrize("clip", [(1.0, 0.0), (0.5, 0.5), ("a", 1), (0, float("nan")), 3])
def test_bad_clip(clip):
    with pytest.raises(ValueError, match="Expected `clip`"):
        attacks.PGD(eps=0.1, clip=clip)


def test_eps_wider_than_clip_range():
    with pytest.raises(ValueError, match=r"Expected `eps` no larger than the width"):
        attacks.PGD(eps=2.0, clip=(0, 1))


@pytest.mark.parametrize("kwargs,name", [({"steps": 0}, "steps"), ({"restarts": 0}, "restarts"),
                                         ({"batch_size": 0}, "batch_size"),
                                         ({"step_size": -1.0}, "step_size")])
def test_bad_loop_parameters(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        attacks.PGD(eps=0.1, **kwargs)


def test_bad_seed():
    with pytest.raises(TypeError, match="Expected `seed`"):
        attacks.PGD(eps=0.1, seed="zero")


def test_unknown_attack_name():
    with pytest.raises(ValueError,
                       match=r"Expected an attack name in .*Received: attack='deepfool'"):
        attacks.get("deepfool", eps=0.1)


def test_inputs_outside_clip_range(data):
    x, y = data
    with pytest.raises(ValueError, match=r"Expected `x` to lie in the clip range \[0.0, 1.0\]"):
        attacks.pgd(trained_model(), x * 255, y, eps=0.1)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs(data, bad):
    x, y = data
    x = x.copy()
    x[0, 0, 0, 0] = bad
    with pytest.raises(ValueError,
                       match="Expected `x` to hold finite values. Received: x with 1 NaN"):
        attacks.fgsm(trained_model(), x, y, eps=0.1)


def test_shape_that_does_not_fit_model(data):
    x, y = data
    with pytest.raises(ValueError, match=r"Expected `x` to have per-example shape \(8, 8, 1\)"):
        attacks.fgsm(trained_model(), x.reshape(len(x), -1), y, eps=0.1)


def test_missing_batch_axis():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        attacks.fgsm(trained_model(), np.zeros(8, "float32"), eps=0.1)


def test_labels_out_of_range(data):
    x, y = data
    with pytest.raises(ValueError,
                       match=r"Expected labels in `y` in \[0, 9\].*Received: labels in \[0, 10\]"):
        attacks.fgsm(trained_model(), x, np.r_[y[:-1], 10], eps=0.1)


def test_labels_of_wrong_length(data):
    x, y = data
    with pytest.raises(ValueError, match=r"one label per input \(8\). Received: y with 7 labels"):
        attacks.fgsm(trained_model(), x, y[:-1], eps=0.1)


def test_one_hot_with_wrong_width(data):
    x, y = data
    with pytest.raises(ValueError, match="one-hot `y` with 10 columns"):
        attacks.fgsm(trained_model(), x, np.eye(5)[y % 5], eps=0.1)


def test_targeted_without_labels(data):
    x, _ = data
    with pytest.raises(ValueError, match="Expected target labels `y` for a targeted attack"):
        attacks.pgd(trained_model(), x, None, eps=0.1, targeted=True)


def test_non_keras_model(data):
    x, y = data
    with pytest.raises(TypeError,
                       match=r"Expected `model` to be a `keras.Model`.*Received: model="):
        attacks.fgsm(lambda t: t, x, y, eps=0.1)


def test_multi_output_model(data):
    x, y = data
    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(10)(flat), keras.layers.Dense(3)(flat)])
    with pytest.raises(ValueError, match=r"Expected `model` to have exactly one output.*"
                                         r"Received: model with 2 outputs"):
        attacks.fgsm(model, x, y, eps=0.1)
