"""label_flip: counts, source/target, random flips, reproducibility, bad input."""

import numpy as np
import pytest

from keras_mlsec.attacks import LabelFlip, label_flip
from poisoning_case import tiny_images


def test_flips_round_rate_times_eligible_to_other_classes():
    x, y = tiny_images(40)
    y_before = y.copy()
    data = label_flip(x, y, rate=0.25, seed=0)
    assert len(data.poison_indices) == 10
    changed = np.flatnonzero(data.y != y)
    np.testing.assert_array_equal(changed, data.poison_indices)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(data.x, x)
    assert data.x is not x and data.trigger is None


def test_source_to_target():
    x, y = tiny_images(40)
    data = label_flip(x, y, rate=0.5, source=1, target=3, seed=1)
    assert len(data.poison_indices) == 5  # half of the ten examples of class 1
    assert np.all(y[data.poison_indices] == 1) and np.all(data.y[data.poison_indices] == 3)
    again = LabelFlip(rate=0.5, source=1, target=3, seed=1)(x, y)
    np.testing.assert_array_equal(again.poison_indices, data.poison_indices)


def test_target_only_flips_other_classes_and_rate_one_flips_all_eligible():
    x, y = tiny_images(40)
    data = label_flip(x, y, rate=1.0, target=2)
    assert len(data.poison_indices) == 30 and np.all(data.y == 2)


@pytest.mark.parametrize("kwargs,match", [({"rate": 0.0}, "rate"), ({"rate": 1.5}, "rate"),
                                          ({"rate": 0.1, "target": 7}, "target"),
                                          ({"rate": 0.1, "source": -1}, "source"),
                                          ({"rate": 0.1, "source": 1, "target": 1}, "differ")])
def test_bad_input(kwargs, match):
    x, y = tiny_images(40)
    with pytest.raises(ValueError, match=match):
        label_flip(x, y, **kwargs)
