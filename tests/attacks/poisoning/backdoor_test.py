"""backdoor: poison counts and labels, triggers (patch, blend, array+mask, tabular), errors."""

import numpy as np
import pytest

from keras_mlsec.attacks import Backdoor, Trigger, attack_success_rate, backdoor
from keras_mlsec.attacks.poisoning import PoisonedData
from poisoning_case import TARGET, backdoored, tiny_images


def test_patch_poison_is_relabelled_and_stamped_only_where_chosen():
    x, y = tiny_images(40)
    x_before = x.copy()
    data = backdoor(x, y, target=0, rate=0.2, seed=0)
    assert len(data.poison_indices) == 6  # 20% of the 30 non-target examples
    assert np.all(data.y[data.poison_indices] == 0) and np.all(y[data.poison_indices] != 0)
    clean = ~data.is_poisoned
    np.testing.assert_array_equal(data.x[clean], x[clean])
    np.testing.assert_array_equal(data.y[clean], y[clean])
    np.testing.assert_array_equal(data.x[data.poison_indices],
                                  data.apply_trigger(x)[data.poison_indices])
    np.testing.assert_array_equal(x, x_before)
    assert data.poison_fraction == pytest.approx(6 / 40)


def test_blend_source_and_custom_trigger():
    x, y = tiny_images(40)
    data = backdoor(x, y, target=3, rate=0.5, trigger="blend", alpha=0.1, source=1, seed=0)
    assert np.all(y[data.poison_indices] == 1) and data.trigger.kind == "blend"
    delta = np.abs(data.x[data.poison_indices] - x[data.poison_indices])
    assert delta.max() <= 0.1 + 1e-6 and delta.mean() > 0
    pattern, mask = np.ones((8, 8, 1)), np.zeros((8, 8, 1))
    mask[0, 0] = 1
    custom = Backdoor(target=2, rate=0.1, trigger=(pattern, mask), seed=0)(x, y)
    assert np.all(custom.x[custom.poison_indices, 0, 0] == 1)
    assert custom.trigger.kind == "custom"


def test_tabular_rows():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 5)).astype(np.float32) * 3, np.arange(50) % 2
    data = backdoor(x, y, target=1, rate=0.4, seed=0)
    np.testing.assert_allclose(data.x[data.poison_indices, :3], x.max())
    blend = backdoor(x, y, target=1, rate=0.4, trigger="blend", seed=0)
    assert blend.x.min() >= x.min() - 1e-5 and blend.x.max() <= x.max() + 1e-5


@pytest.mark.slow
def test_trained_model_obeys_the_trigger_and_keeps_clean_accuracy():
    model, data, x_test, y_test = backdoored()
    accuracy = np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test)
    assert accuracy > 0.9
    assert attack_success_rate(model, data, x_test, y_test) > 0.9


@pytest.mark.slow
def test_attack_success_rate_counts_only_non_target_inputs():
    model, data, x_test, y_test = backdoored()
    only_target = y_test == TARGET
    with pytest.raises(ValueError, match="outside the target class"):
        attack_success_rate(model, data, x_test[only_target], y_test[only_target])
    with pytest.raises(TypeError, match="poisoned"):
        attack_success_rate(model, "data", x_test, y_test)
    flipped = PoisonedData(data.x, data.y, data.poison_indices)
    with pytest.raises(ValueError, match="trigger"):
        attack_success_rate(model, flipped, x_test, y_test)


@pytest.mark.parametrize("kwargs,match", [
    ({"target": 0, "rate": 0.0}, "rate"), ({"target": 9, "rate": 0.1}, "target"),
    ({"target": 0, "rate": 0.1, "source": 0}, "differ"),
    ({"target": 0, "rate": 0.1, "trigger": "stripes"}, "trigger"),
    ({"target": 0, "rate": 0.1, "trigger": (np.ones((4, 4, 1)), np.ones((4, 4, 1)))}, "trigger"),
    ({"target": 0, "rate": 0.1, "trigger": (np.full((8, 8, 1), 2.0), np.ones((8, 8, 1)))},
     r"\[0, 1\]")])
def test_bad_input(kwargs, match):
    x, y = tiny_images(40)
    with pytest.raises(ValueError, match=match):
        backdoor(x, y, **kwargs)


def test_images_outside_unit_range_and_bad_trigger_type():
    x, y = tiny_images(40)
    with pytest.raises(ValueError, match=r"x.*\[0, 1\]"):
        backdoor(x * 255, y, target=0, rate=0.1)
    with pytest.raises(TypeError, match="trigger"):
        backdoor(x, y, target=0, rate=0.1, trigger=3)
    data = backdoor(x, y, target=0, rate=0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        data.apply_trigger(x * 255)
