import numpy as np
import pytest

from keras_mlsec.attacks import PGD, transfer_attack
from test_case import digits, trained_model


@pytest.fixture(scope="module")
def setup():
    _, (x, y) = digits(8)
    return trained_model("mlp", 8), x[:100], y[:100]


def test_substitute_equal_to_victim_gives_white_box_success(setup):
    model, x, y = setup
    result = transfer_attack(model, model, x, y, attack="pgd", eps=0.3, steps=10, seed=0)
    assert result.success_rate == result.substitute_success_rate > 0.9
    assert result.x_adv.shape == x.shape
    assert np.abs(result.x_adv - x).max() <= 0.3 + 1e-6
    assert result.victim_adversarial_accuracy < result.victim_clean_accuracy


def test_callable_victim_and_attack_object(setup):
    model, x, y = setup
    api = lambda batch: model.predict(batch, verbose=0)  # noqa: E731 (a remote API stand-in)
    result = transfer_attack(model, api, x, y, attack=PGD(eps=0.0, steps=1))
    assert result.success_rate == 0.0
    assert set(result.to_dict()) == {"attack", "success_rate", "substitute_success_rate",
                                     "victim_clean_accuracy", "victim_adversarial_accuracy"}


def test_bad_arguments(setup):
    model, x, y = setup
    with pytest.raises(ValueError, match=r"Expected `attack` to be an Attack object or one of"
                                         r" .* Received: attack='deepfool'"):
        transfer_attack(model, model, x, y, attack="deepfool")
    with pytest.raises(TypeError, match=r"Expected `substitute` to be a `keras.Model`"):
        transfer_attack("forest", model, x, y, eps=0.1)
    with pytest.raises(TypeError, match=r"Expected `victim`"):
        transfer_attack(model, None, x, y, eps=0.1)
    with pytest.raises(ValueError, match=r"Expected attack parameters inside the `attack`"):
        transfer_attack(model, model, x, y, attack=PGD(eps=0.1), eps=0.2)
    with pytest.raises(ValueError, match=r"Expected `y` to have one label per input"):
        transfer_attack(model, model, x, y[:5], eps=0.1)
