import numpy as np
import pytest

from keras_mlsec.federated import Byzantine, byzantine

OLD = [np.zeros((2, 2), np.float32), np.ones(3, np.float32)]
LOCAL = [np.full((2, 2), 0.5, np.float32), np.full(3, 2.0, np.float32)]


def test_sign_flip_and_scale_by_hand():
    flipped = byzantine("sign_flip", clients=[1], scale=2.0).tamper(LOCAL, OLD)
    np.testing.assert_allclose(flipped[0], np.full((2, 2), -1.0))
    np.testing.assert_allclose(flipped[1], np.full(3, -1.0))  # 1 - 2 * (2 - 1)
    scaled = byzantine("scale", clients=1, scale=10.0).tamper(LOCAL, OLD)
    np.testing.assert_allclose(scaled[1], np.full(3, 11.0))
    assert all(a.dtype == np.float32 for a in flipped + scaled)


def test_noise_ignores_training_and_is_seeded():
    attack = byzantine("noise", clients=[0], scale=3.0, seed=4)
    a = attack.tamper(LOCAL, OLD, np.random.default_rng(0))
    b = attack.tamper(LOCAL, OLD, np.random.default_rng(0))
    np.testing.assert_array_equal(a[0], b[0])
    assert 1.0 < np.std(np.concatenate([a[0].ravel(), a[1].ravel() - 1])) < 6.0


def test_label_flip_and_model_replacement_poison_the_data():
    x = np.zeros((10, 4, 4, 1), np.float32)
    y = np.arange(10) % 3
    _, flipped = byzantine("label_flip", clients=[0]).poison(x, y, 3)
    np.testing.assert_array_equal(flipped, (y + 1) % 3)
    attack = byzantine("model_replacement", clients=[0], target=2, trigger_size=2,
                       poison_fraction=0.5, seed=0)
    xp, yp = attack.poison(x, y, 3)
    assert len(xp) == 15 and np.all(yp[10:] == 2)
    assert np.all(xp[10:, :2, :2] == 1.0) and np.all(xp[10:, 2:, :] == 0.0)
    np.testing.assert_array_equal(attack.tamper(LOCAL, OLD)[1], np.full(3, 6.0))  # boost 5
    assert attack.is_malicious(0) and not attack.is_malicious(1)


def test_weight_attacks_leave_the_data_alone():
    x, y = np.ones((3, 2)), np.array([0, 1, 2])
    xs, ys = byzantine("noise", clients=[0]).poison(x, y, 3)
    assert xs is x and ys is y


@pytest.mark.parametrize("kind, kwargs, error, match", [
    ("flood", {"clients": [0]}, ValueError, "kind"),
    ("noise", {"clients": []}, ValueError, "clients"),
    ("noise", {"clients": [-1]}, ValueError, "clients"),
    ("noise", {"clients": "a"}, ValueError, "clients"),
    ("noise", {"clients": None}, TypeError, "clients"),
    ("scale", {"clients": [0], "scale": 0}, ValueError, "scale"),
    ("model_replacement", {"clients": [0], "target": -1}, ValueError, "target"),
])
def test_bad_arguments(kind, kwargs, error, match):
    with pytest.raises(error, match=match):
        byzantine(kind, **kwargs)


def test_target_beyond_the_classes():
    attack = Byzantine("model_replacement", clients=[0], target=7)
    with pytest.raises(ValueError, match="num_classes"):
        attack.poison(np.zeros((2, 3)), np.zeros(2, int), 3)
