import keras
import numpy as np
import pytest

from keras_mlsec import attacks
from keras_mlsec.attacks.evasion.apgd import checkpoints
from test_case import accuracy, digits, max_norm, predictions, trained_model


@pytest.fixture(scope="module")
def data():
    _, (x, y) = digits(8)
    return x[:200], y[:200]


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_apgd_linf_lowers_accuracy_and_stays_in_ball(data, loss):
    x, y = data
    model = trained_model()
    x_adv = attacks.apgd(model, x, y, eps=0.1, steps=20, loss=loss, seed=0).numpy()
    assert accuracy(model, x_adv, y) < accuracy(model, x, y) - 0.3
    assert max_norm(x_adv, x) <= 0.1 + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert not np.isnan(x_adv).any()
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_apgd_l2_stays_in_ball(data, loss):
    x, y = data
    model = trained_model()
    x_adv = attacks.apgd(model, x, y, eps=1.0, norm="l2", steps=20, loss=loss, seed=0).numpy()
    assert max_norm(x_adv, x, "l2") <= 1.0 + 1e-4
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert accuracy(model, x_adv, y) < accuracy(model, x, y) - 0.5


@pytest.mark.parametrize("norm, eps", [("linf", 0.1), ("l2", 0.5)])
def test_apgd_is_at_least_as_strong_as_pgd(data, norm, eps):
    x, y = data
    model = trained_model()
    pgd_acc = accuracy(model, attacks.pgd(model, x, y, eps=eps, norm=norm, steps=20, seed=0), y)
    apgd_acc = accuracy(model, attacks.apgd(model, x, y, eps=eps, norm=norm, steps=20, seed=0), y)
    assert apgd_acc <= pgd_acc + 0.01


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_targeted_reaches_target(data, loss):
    x, y = data
    model = trained_model()
    target = (y + 1) % 10
    x_adv = attacks.apgd(model, x, target, eps=0.3, steps=40, loss=loss, targeted=True, seed=0)
    assert max_norm(x_adv, x) <= 0.3 + 1e-6
    assert np.mean(predictions(model, x_adv) == target) > 0.8


def test_apgd_t_and_restarts_keep_the_worst_case(data):
    x, y = data
    model = trained_model()
    one = accuracy(model, attacks.apgd(model, x, y, eps=0.08, steps=10, loss="dlr", seed=1), y)
    many = accuracy(model, attacks.apgd(model, x, y, eps=0.08, steps=10, loss="dlr",
                                        restarts=3, seed=1), y)
    # The first restart draws the same start from the same seed; more runs can only help.
    assert many <= one
    multi = attacks.apgd(model, x, y, eps=0.08, steps=10, loss="dlr", num_target_classes=3,
                         seed=1)
    assert max_norm(multi, x) <= 0.08 + 1e-6
    assert accuracy(model, multi, y) < accuracy(model, x, y) - 0.2


def test_zero_budget_returns_the_input(data):
    x, y = data
    x_adv = attacks.apgd(trained_model(), x, y, eps=0.0, steps=3).numpy()
    np.testing.assert_array_equal(x_adv, x)


def test_softmax_twin_gives_the_same_result(data):
    x, y = data
    logits_model, softmax_model = trained_model(), trained_model(output="softmax")
    a = attacks.apgd(logits_model, x, y, eps=0.1, steps=10, loss="dlr", seed=0).numpy()
    b = attacks.apgd(softmax_model, x, y, eps=0.1, steps=10, loss="dlr", seed=0).numpy()
    assert accuracy(logits_model, a, y) == accuracy(softmax_model, b, y)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_checkpoints_follow_the_paper():
    # p = 0, .22, .41, .57, .70, .80, .87, .93, .99 -> w_j = ceil(100 p_j).
    lengths = checkpoints(100)
    assert np.nonzero(lengths)[0].tolist() == [22, 41, 57, 70, 80, 87, 93, 99]
    assert lengths[lengths > 0].tolist() == [22, 19, 16, 13, 10, 7, 6, 6]
    assert checkpoints(1).tolist() == [0]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"eps": -0.1}, ValueError, "eps"),
    ({"eps": 0.1, "loss": "hinge"}, ValueError, "loss"),
    ({"eps": 0.1, "norm": "l1"}, ValueError, "norm"),
    ({"eps": 0.1, "rho": 0.0}, ValueError, "rho"),
    ({"eps": 0.1, "rho": 1.5}, ValueError, "rho"),
    ({"eps": 0.1, "steps": 0}, ValueError, "steps"),
    ({"eps": 0.1, "restarts": 0}, ValueError, "restarts"),
    ({"eps": 0.1, "num_target_classes": 0}, ValueError, "num_target_classes"),
    ({"eps": 0.1, "num_target_classes": 2, "targeted": True}, ValueError, "num_target_classes"),
    ({"eps": 0.1, "seed": 1.5}, TypeError, "seed"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        attacks.APGD(**kwargs)
    _, (x, y) = digits(8)
    with pytest.raises(error, match=match):
        attacks.apgd(trained_model(), x[:2], y[:2], **kwargs)


def test_too_many_target_classes_and_dlr_on_two_classes():
    _, (x, y) = digits(8)
    with pytest.raises(ValueError, match="num_target_classes=10"):
        attacks.apgd(trained_model(), x[:2], y[:2], eps=0.1, num_target_classes=10)
    binary = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="loss='dlr'"):
        attacks.apgd(binary, np.full((2, 3), 0.5), [0, 1], eps=0.1, loss="dlr")


def test_config_round_trip_and_call(data):
    x, y = data
    attack = attacks.APGD(eps=0.1, norm="l2", steps=5, loss="dlr", num_target_classes=2, seed=3)
    config = attack.get_config()
    assert config["loss"] == "dlr" and config["num_target_classes"] == 2
    assert attacks.APGD.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(attack))
    assert restored.get_config() == config
    assert isinstance(attacks.get("apgd", eps=0.1), attacks.APGD)
    model = trained_model()
    np.testing.assert_allclose(attack(model, x[:20], y[:20]),
                               attacks.apgd(model, x[:20], y[:20], **config))


def test_linear_model_reaches_the_analytic_optimum():
    # z1 - z0 = 4 x0 + 2 x1 - 3: the cross-entropy of class 0 grows along v = (4, 2)
    # everywhere, so the worst case in the ball is x + eps * sign(v) (L-inf) or
    # x + eps * v / ||v|| (L2), and the opposite direction for class 1.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.layers[0].set_weights([np.array([[0.0, 4.0], [0.0, 2.0]], np.float32),
                                 np.array([0.0, -3.0], np.float32)])
    x = np.array([[0.4, 0.4], [0.3, 0.5], [0.6, 0.6], [0.5, 0.2]], np.float32)
    y = np.array([0, 0, 1, 0])
    direction = np.where(y == 0, 1.0, -1.0)[:, None]
    v = np.array([4.0, 2.0])
    linf = attacks.apgd(model, x, y, eps=0.05, steps=20, seed=0).numpy()
    np.testing.assert_allclose(linf, x + 0.05 * direction, atol=1e-6)
    l2 = attacks.apgd(model, x, y, eps=0.05, norm="l2", steps=20, seed=0).numpy()
    np.testing.assert_allclose(l2, x + 0.05 * direction * v / np.linalg.norm(v), atol=2e-4)
