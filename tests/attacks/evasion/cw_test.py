import keras
import numpy as np
import pytest

from keras_mlsec import attacks
from keras_mlsec._core import losses, models
from test_case import accuracy, digits, predictions, trained_model


@pytest.fixture(scope="module")
def data():
    _, (x, y) = digits(8)
    return x[:150], y[:150]


def l2_norms(x_adv, x):
    return np.sqrt(((np.asarray(x_adv) - x).reshape(len(x), -1) ** 2).sum(1))


def test_cw_fools_with_small_l2(data):
    x, y = data
    model = trained_model()
    x_adv = attacks.carlini_wagner_l2(model, x, y).numpy()
    assert accuracy(model, x, y) > 0.9
    assert accuracy(model, x_adv, y) < 0.1
    assert not np.isnan(x_adv).any()
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    fooled = predictions(model, x_adv) != y
    # Flipping one of the 64 pixels all the way (0 -> 1) costs L2 = 1; a minimum-norm
    # attack on a 97%-accurate MLP needs much less than that on average.
    assert l2_norms(x_adv, x)[fooled].mean() < 1.0


def test_cw_finds_the_distance_to_a_linear_boundary():
    # z1 - z0 = 4 x0 + 2 x1 - 3: the nearest point of the other class lies at L2 distance
    # |4 x0 + 2 x1 - 3| / sqrt(20), inside the [0, 1] box for these inputs.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.layers[0].set_weights([np.array([[0.0, 4.0], [0.0, 2.0]], np.float32),
                                 np.array([0.0, -3.0], np.float32)])
    x = np.array([[0.4, 0.4], [0.3, 0.5], [0.6, 0.6], [0.5, 0.2]], np.float32)
    distance = np.abs(x @ np.array([4.0, 2.0]) - 3.0) / np.sqrt(20.0)
    x_adv = attacks.carlini_wagner_l2(model, x).numpy()
    assert np.all(predictions(model, x_adv) != predictions(model, x))
    found = l2_norms(x_adv, x)
    assert np.all(found >= distance - 1e-5)
    assert np.all(found <= 1.02 * distance)


def test_cw_is_smaller_than_l2_pgd_at_a_large_budget(data):
    x, y = data
    model = trained_model()
    cw_adv = attacks.carlini_wagner_l2(model, x, y).numpy()
    pgd_adv = attacks.pgd(model, x, y, eps=2.0, norm="l2", steps=20, seed=0).numpy()
    both = (predictions(model, cw_adv) != y) & (predictions(model, pgd_adv) != y)
    assert both.mean() > 0.8
    assert l2_norms(cw_adv, x)[both].mean() < 0.5 * l2_norms(pgd_adv, x)[both].mean()
    # PGD at the CW median norm fools fewer examples than CW does.
    median = float(np.median(l2_norms(cw_adv, x)))
    small = attacks.pgd(model, x, y, eps=median, norm="l2", steps=20, seed=0)
    assert accuracy(model, small, y) > accuracy(model, cw_adv, y)


def test_unfooled_examples_are_returned_unchanged(data):
    x, y = data
    model = trained_model()
    # One round of one tiny step cannot fool a confident model on most inputs.
    x_adv = attacks.carlini_wagner_l2(model, x, y, steps=1, binary_search_steps=1,
                                      learning_rate=1e-4, initial_const=1e-3).numpy()
    kept = predictions(model, x_adv) == y
    assert kept.mean() > 0.5
    np.testing.assert_array_equal(x_adv[kept], x[kept])


def test_confidence_buys_a_margin_at_a_larger_norm(data):
    x, y = data
    model = trained_model()
    plain = attacks.carlini_wagner_l2(model, x, y).numpy()
    sure = attacks.carlini_wagner_l2(model, x, y, confidence=5.0).numpy()
    fooled = predictions(model, sure) != y
    assert fooled.mean() > 0.8
    gap = losses.margin(y, models.logits_function(model)(sure)).numpy()
    # Returned examples passed the success test "margin < -confidence".
    assert np.all(gap[fooled] < -5.0 + 1e-3)
    assert l2_norms(sure, x)[fooled].mean() > l2_norms(plain, x)[fooled].mean()


def test_targeted_reaches_target(data):
    x, y = data
    model = trained_model()
    target = (y + 1) % 10
    x_adv = attacks.carlini_wagner_l2(model, x, target, targeted=True)
    assert np.mean(predictions(model, x_adv) == target) > 0.9


def test_softmax_twin_gives_the_same_result(data):
    x, y = data
    logits_model = trained_model()
    softmax_model = trained_model(output="softmax")
    a = attacks.carlini_wagner_l2(logits_model, x, y).numpy()
    b = attacks.carlini_wagner_l2(softmax_model, x, y).numpy()
    assert accuracy(logits_model, a, y) == accuracy(softmax_model, b, y)
    np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    ({"confidence": -1.0}, "confidence"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"initial_const": -1.0}, "initial_const"),
    ({"binary_search_steps": 0}, "binary_search_steps"),
    ({"steps": 0}, "steps"),
    ({"clip": None}, "clip"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        attacks.CarliniWagnerL2(**kwargs)
    _, (x, y) = digits(8)
    with pytest.raises(ValueError, match=match):
        attacks.carlini_wagner_l2(trained_model(), x[:2], y[:2], **kwargs)


def test_targeted_without_labels_is_refused(data):
    x, _ = data
    with pytest.raises(ValueError, match="y=None"):
        attacks.carlini_wagner_l2(trained_model(), x, None, targeted=True)


def test_config_round_trip_and_call(data):
    x, y = data
    attack = attacks.CarliniWagnerL2(confidence=1.0, steps=20, binary_search_steps=2)
    config = attack.get_config()
    assert config["confidence"] == 1.0 and config["steps"] == 20
    clone = attacks.CarliniWagnerL2.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(attack))
    assert restored.get_config() == config
    assert attacks.get("cw", steps=5).steps == 5
    model = trained_model()
    np.testing.assert_allclose(clone(model, x[:20], y[:20]),
                               attacks.carlini_wagner_l2(model, x[:20], y[:20], **config))
