import keras
import numpy as np
import pytest

from keras_mlsec import attacks
from test_case import accuracy, digits, max_norm, trained_model


@pytest.fixture(scope="module")
def data():
    _, (x, y) = digits(8)
    return x[:200], y[:200]


def test_pgd_lowers_accuracy_and_stays_in_ball(data):
    x, y = data
    model = trained_model()
    clean = accuracy(model, x, y)
    x_adv = attacks.pgd(model, x, y, eps=0.1, steps=20, seed=0).numpy()
    assert clean > 0.9
    assert accuracy(model, x_adv, y) < clean - 0.3
    assert max_norm(x_adv, x) <= 0.1 + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32


def test_pgd_l2_stays_in_ball(data):
    x, y = data
    model = trained_model()
    x_adv = attacks.pgd(model, x, y, eps=1.0, norm="l2", steps=20, seed=0).numpy()
    assert max_norm(x_adv, x, "l2") <= 1.0 + 1e-4
    assert accuracy(model, x_adv, y) < accuracy(model, x, y) - 0.3


def test_pgd_is_at_least_as_strong_as_fgsm(data):
    x, y = data
    model = trained_model()
    fgsm_acc = accuracy(model, attacks.fgsm(model, x, y, eps=0.1), y)
    pgd_acc = accuracy(model, attacks.pgd(model, x, y, eps=0.1, steps=20, seed=0), y)
    assert pgd_acc <= fgsm_acc


def test_restarts_keep_the_worst_case(data):
    x, y = data
    model = trained_model()
    one = accuracy(model, attacks.pgd(model, x, y, eps=0.05, steps=5, seed=1), y)
    many = accuracy(model, attacks.pgd(model, x, y, eps=0.05, steps=5, restarts=4, seed=1), y)
    # The first restart uses the same seed stream, so the kept worst case can only improve.
    assert many <= one


def test_targeted_reaches_target(data):
    x, y = data
    model = trained_model()
    target = (y + 1) % 10
    x_adv = attacks.pgd(model, x, target, eps=0.3, steps=40, targeted=True, seed=0)
    hit = np.mean(np.argmax(model.predict(x_adv.numpy(), verbose=0), -1) == target)
    assert hit > 0.8


def test_y_none_attacks_predictions(data):
    x, _ = data
    model = trained_model()
    predicted = np.argmax(model.predict(x, verbose=0), -1)
    a = attacks.pgd(model, x, None, eps=0.1, steps=10, seed=3).numpy()
    b = attacks.pgd(model, x, predicted, eps=0.1, steps=10, seed=3).numpy()
    np.testing.assert_allclose(a, b)


def test_one_hot_labels_equal_sparse(data):
    x, y = data
    model = trained_model()
    a = attacks.pgd(model, x, y, eps=0.1, steps=5, seed=3).numpy()
    b = attacks.pgd(model, x, np.eye(10)[y], eps=0.1, steps=5, seed=3).numpy()
    np.testing.assert_allclose(a, b)


def test_seed_makes_it_reproducible_and_batching_does_not_matter(data):
    x, y = data
    model = trained_model()
    a = attacks.pgd(model, x, y, eps=0.1, steps=5, rand_init=False, batch_size=200).numpy()
    b = attacks.pgd(model, x, y, eps=0.1, steps=5, rand_init=False, batch_size=64).numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)
    c = attacks.pgd(model, x, y, eps=0.1, steps=5, seed=7).numpy()
    d = attacks.pgd(model, x, y, eps=0.1, steps=5, seed=7).numpy()
    np.testing.assert_array_equal(c, d)


def test_softmax_model_attacked_through_logits(data):
    x, y = data
    logits_model = trained_model(output="logits")
    softmax_model = trained_model(output="softmax")
    a = attacks.pgd(logits_model, x, y, eps=0.1, steps=10, seed=0)
    b = attacks.pgd(softmax_model, x, y, eps=0.1, steps=10, seed=0)
    assert accuracy(logits_model, a, y) == accuracy(softmax_model, b, y)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_eps_zero_returns_input(data):
    x, y = data
    x_adv = attacks.pgd(trained_model(), x, y, eps=0.0, steps=3, seed=0).numpy()
    np.testing.assert_allclose(x_adv, x, atol=1e-7)


def test_class_matches_function_and_round_trips_config(data):
    x, y = data
    model = trained_model()
    attack = attacks.PGD(eps=0.1, steps=5, seed=2)
    np.testing.assert_allclose(attack(model, x, y).numpy(),
                               attacks.pgd(model, x, y, eps=0.1, steps=5, seed=2).numpy())
    clone = attacks.PGD.from_config(attack.get_config())
    assert clone.get_config() == attack.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(attack))
    assert isinstance(restored, attacks.PGD) and restored.eps == 0.1


def test_eot_on_a_deterministic_model_equals_the_plain_step(data):
    x, y = data
    model = trained_model()
    plain = attacks.pgd(model, x, y, eps=0.1, steps=5, rand_init=False).numpy()
    averaged = attacks.PGD(eps=0.1, steps=5, rand_init=False, eot_samples=3)(model, x, y).numpy()
    # Averaging three identical gradients changes nothing but rounding.
    assert np.mean(np.abs(plain - averaged) < 1e-6) > 0.99


def test_eot_samples_must_be_positive():
    with pytest.raises(ValueError, match="Expected `eot_samples` to be an integer >= 1"):
        attacks.PGD(eps=0.1, eot_samples=0)
