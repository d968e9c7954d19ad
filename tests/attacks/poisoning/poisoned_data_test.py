"""PoisonedData: indices checks, mask, summary."""

import json

import numpy as np
import pytest

from keras_mlsec.attacks import PoisonedData, backdoor
from poisoning_case import tiny_images


def test_indices_are_checked_and_sorted():
    x, y = tiny_images(10)
    data = PoisonedData(x, y, [3, 1])
    np.testing.assert_array_equal(data.poison_indices, [1, 3])
    assert data.is_poisoned.sum() == 2 and data.poison_fraction == 0.2
    for bad, match in (([10], r"poison_indices.*\[0, 9\]"), ([-1], "poison_indices"),
                       ([1, 1], "unique"), ([[1]], "1-D")):
        with pytest.raises(ValueError, match=match):
            PoisonedData(x, y, bad)


def test_to_dict_is_json_ready():
    x, y = tiny_images(20)
    summary = backdoor(x, y, target=1, rate=0.5, seed=0).to_dict()
    text = json.dumps(summary)
    assert summary["num_poisoned"] == 8 and "backdoor_patch" in text
    assert summary["trigger"]["pixels"] == 4
