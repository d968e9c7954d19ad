import numpy as np
import pytest

from keras_mlsec import attacks
from test_case import accuracy, digits, max_norm, trained_model


@pytest.fixture(scope="module")
def data():
    _, (x, y) = digits(8)
    return x[:200], y[:200]


@pytest.mark.parametrize("name", ["bim", "mim"])
@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 1.0)])
def test_iterative_attacks_lower_accuracy_within_budget(data, name, norm, eps):
    x, y = data
    model = trained_model()
    x_adv = attacks.get(name, eps=eps, norm=norm)(model, x, y).numpy()
    assert accuracy(model, x_adv, y) < accuracy(model, x, y) - 0.3
    assert max_norm(x_adv, x, norm) <= eps * (1 + 1e-4)
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_bim_is_deterministic_and_at_least_fgsm(data):
    x, y = data
    model = trained_model()
    a = attacks.bim(model, x, y, eps=0.1).numpy()
    b = attacks.bim(model, x, y, eps=0.1).numpy()
    np.testing.assert_array_equal(a, b)
    assert accuracy(model, a, y) <= accuracy(model, attacks.fgsm(model, x, y, eps=0.1), y)


@pytest.mark.parametrize("name", ["bim", "mim"])
def test_targeted(data, name):
    x, y = data
    model = trained_model()
    target = (y + 1) % 10
    x_adv = attacks.get(name, eps=0.3, steps=20, targeted=True)(model, x, target)
    hit = np.mean(np.argmax(model.predict(x_adv.numpy(), verbose=0), -1) == target)
    assert hit > 0.8


def test_mim_rejects_negative_decay():
    with pytest.raises(ValueError, match="decay_factor"):
        attacks.mim(trained_model(), np.zeros((1, 8, 8, 1), "float32"), eps=0.1, decay_factor=-1)
