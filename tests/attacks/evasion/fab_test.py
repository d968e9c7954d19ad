import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec import attacks
from keras_mlsec.attacks.base import FIXED_BUDGET, MINIMUM_NORM
from keras_mlsec.attacks.evasion._fab_projection import project_to_hyperplane
from test_case import digits, predictions, trained_model


@pytest.fixture(scope="module")
def data():
    _, (x, y) = digits(8)
    return x[:60], y[:60]


def _norms(x_adv, x, norm):
    delta = (np.asarray(x_adv) - np.asarray(x)).reshape(len(x), -1).astype(np.float64)
    return np.abs(delta).max(1) if norm == "linf" else np.sqrt((delta ** 2).sum(1))


def test_projection_worked_example():
    # w = (1, 2), rooms to the box (0.1, 1), c = 0.5: t = 0.2 and d = (0.1, 0.2).
    p = tf.constant([[0.9, 0.0]])
    d = project_to_hyperplane(p, tf.constant([[1.0, 2.0]]), tf.constant([0.5 + 0.9]), "linf",
                              (0.0, 1.0)).numpy()
    np.testing.assert_allclose(d, [[0.1, 0.2]], atol=1e-6)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_is_the_smallest_step_onto_the_plane_in_the_box(norm):
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, (64, 5)).astype(np.float32)
    w = rng.normal(size=(64, 5)).astype(np.float32)
    b = (np.sum(w * p, 1) + rng.normal(scale=0.3, size=64)).astype(np.float32)
    d = project_to_hyperplane(tf.constant(p), tf.constant(w), tf.constant(b), norm,
                              (0.0, 1.0)).numpy()
    z = p + d
    assert z.min() >= -1e-6 and z.max() <= 1 + 1e-6
    on_plane = np.abs(np.sum(w * z, 1) - b) < 1e-4
    size = _norms(z, p, norm)
    # Random feasible points of the plane inside the box are never closer.
    for _ in range(200):
        q = rng.uniform(0, 1, (64, 5)).astype(np.float32)
        i = rng.integers(0, 5, 64)
        rest = np.sum(w * q, 1) - w[np.arange(64), i] * q[np.arange(64), i]
        q[np.arange(64), i] = (b - rest) / w[np.arange(64), i]
        inside = (q >= 0).all(1) & (q <= 1).all(1)
        assert np.all(size[inside & on_plane] <= _norms(q, p, norm)[inside & on_plane] + 1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("norm, eps", [("linf", 0.1), ("l2", 0.8)])
def test_fab_finds_small_adversarial_examples(data, norm, eps):
    x, y = data
    model = trained_model()
    correct = predictions(model, x) == y
    x_adv = attacks.fab(model, x, y, norm=norm, steps=30).numpy()
    fooled = correct & (predictions(model, x_adv) != y)
    assert fooled.sum() >= 0.9 * correct.sum()
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0 and not np.isnan(x_adv).any()
    # Minimum norm: within eps it finds about what PGD finds.
    x_pgd = attacks.pgd(model, x, y, eps=eps, norm=norm, steps=20, seed=0).numpy()
    pgd_fooled = correct & (predictions(model, x_pgd) != y)
    fab_within = fooled & (_norms(x_adv, x, norm) <= eps + 1e-6)
    assert fab_within.sum() >= pgd_fooled.sum() - 3
    # Where it failed it returns the clean input.
    np.testing.assert_array_equal(x_adv[~fooled & correct], x[~fooled & correct])


@pytest.mark.slow
def test_fab_t_and_targeted(data):
    x, y = data
    model = trained_model()
    multi = attacks.FAB(steps=20, num_target_classes=3)(model, x, y).numpy()
    assert np.mean(predictions(model, multi) != y) > 0.9
    targets = (y + 1) % 10
    reached = attacks.fab(model, x, targets, targeted=True, steps=40).numpy()
    assert np.mean(predictions(model, reached) == targets) > 0.8


def test_restarts_never_worsen_the_result(data):
    x, y = data
    model = trained_model()
    one = attacks.fab(model, x[:20], y[:20], steps=10, seed=0).numpy()
    three = attacks.fab(model, x[:20], y[:20], steps=10, restarts=3, eps=0.3, seed=0).numpy()
    fooled_one = predictions(model, one) != y[:20]
    fooled_three = predictions(model, three) != y[:20]
    assert fooled_three.sum() >= fooled_one.sum()
    both = fooled_one & fooled_three
    assert np.all(_norms(three, x[:20], "linf")[both] <= _norms(one, x[:20], "linf")[both] + 1e-6)


def test_declarations_and_config_round_trip():
    assert attacks.FAB.kind == MINIMUM_NORM and attacks.FAB.norms == ("linf", "l2")
    assert attacks.PGD.kind == FIXED_BUDGET and attacks.PGD.supports_eot
    assert attacks.SquareAttack.uses_gradients is False and attacks.FGSM.iterative is False
    assert attacks.get("fab", steps=5).steps == 5
    fab = attacks.FAB(norm="l2", steps=7, num_target_classes=2)
    assert attacks.FAB.from_config(fab.get_config()).get_config() == fab.get_config()


@pytest.mark.parametrize("kwargs, match", [
    ({"norm": "l1"}, "norm"), ({"steps": 0}, "steps"), ({"alpha_max": 1.0}, "alpha_max"),
    ({"eta": 0.5}, "eta"), ({"beta": 1.0}, "beta"), ({"restarts": 0}, "restarts"),
    ({"targeted": True, "num_target_classes": 2}, "num_target_classes"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        attacks.FAB(**kwargs)


def test_too_many_target_classes(data):
    x, y = data
    with pytest.raises(ValueError, match="num_target_classes=10"):
        attacks.fab(trained_model(), x[:4], y[:4], num_target_classes=10, steps=2)


def test_apgd_eot_samples(data):
    x, y = data
    model = trained_model()
    with pytest.raises(ValueError, match="eot_samples"):
        attacks.APGD(eps=0.1, eot_samples=0)
    # A deterministic model: averaging identical passes changes nothing.
    plain = attacks.apgd(model, x[:20], y[:20], eps=0.1, steps=5, seed=0).numpy()
    averaged = attacks.apgd(model, x[:20], y[:20], eps=0.1, steps=5, seed=0,
                            eot_samples=3).numpy()
    np.testing.assert_allclose(plain, averaged, atol=1e-5)
    assert attacks.APGD(eps=0.1, eot_samples=3).get_config()["eot_samples"] == 3
