"""STRIP: calibrated false rejections, triggered inputs flagged, bad input."""

import keras
import numpy as np
import pytest

from keras_mlsec.defenses import STRIP
from poisoning_case import TARGET, backdoored


@pytest.mark.slow
def test_flags_triggered_inputs_and_rejects_about_the_requested_share_of_clean():
    model, data, x_test, y_test = backdoored()
    strip = STRIP(model, x_test[:200], false_rejection_rate=0.05, seed=0)
    assert np.mean(strip.clean_scores < strip.threshold) <= 0.05
    held_out = x_test[200:]
    assert np.mean(strip.flag(held_out)) <= 0.15
    triggered = data.apply_trigger(held_out[y_test[200:] != TARGET])
    assert np.mean(strip.flag(triggered)) >= 0.7
    assert np.mean(strip.score(triggered)) < np.mean(strip.score(held_out))


def test_bad_input():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    x = np.random.default_rng(0).uniform(size=(20, 8, 8, 1)).astype(np.float32)
    for rate in (0, 1, 1.5):
        with pytest.raises(ValueError, match="false_rejection_rate"):
            STRIP(model, x, false_rejection_rate=rate)
    with pytest.raises(ValueError, match="x_clean"):
        STRIP(model, x * 3)
    with pytest.raises(ValueError, match="num_perturbations"):
        STRIP(model, x, num_perturbations=0)
    strip = STRIP(model, x, num_perturbations=4)
    assert strip.score(x[:3]).shape == (3,) and strip.flag(x[:3]).dtype == bool
    with pytest.raises(ValueError, match="shape"):
        strip.score(np.zeros((2, 4, 4, 1)))
