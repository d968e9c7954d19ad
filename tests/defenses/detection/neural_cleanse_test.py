"""neural_cleanse: recovers a small trigger for the backdoor target; argument checks."""

import keras
import numpy as np
import pytest

from keras_mlsec.defenses import BackdoorScan, neural_cleanse
from poisoning_case import TARGET, backdoored


@pytest.mark.slow
def test_the_target_needs_the_smallest_trigger(tmp_path):
    model, _, x_test, y_test = backdoored()
    scan = neural_cleanse(model, x_test[:150], y_test[:150], steps=200, seed=0)
    assert isinstance(scan, BackdoorScan)
    # On this MLP class 7 also needs a small trigger (flagged [0, 7] measured).
    assert TARGET in scan.flagged_classes
    assert scan.norms[TARGET] < np.median(scan.norms)
    mask, pattern = scan.trigger(TARGET)
    assert mask.shape == (8, 8, 1) and 0 <= mask.min() and mask.max() <= 1
    # The recovered trigger works: stamped clean inputs go to the target.
    stamped = x_test[150:] * (1 - mask) + mask * pattern
    predicted = np.argmax(model.predict(stamped, verbose=0), -1)
    assert np.mean(predicted == TARGET) > 0.8
    scan.plot(str(tmp_path / "nc.png"))


def test_bad_input():
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    x = np.random.default_rng(0).uniform(size=(10, 4, 4, 1)).astype(np.float32)
    with pytest.raises(ValueError, match="steps"):
        neural_cleanse(model, x, steps=0)
    with pytest.raises(ValueError, match="cost_multiplier"):
        neural_cleanse(model, x, cost_multiplier=1.0)
    with pytest.raises(ValueError, match="target_success"):
        neural_cleanse(model, x, target_success=1.5)
    with pytest.raises(ValueError, match="clip"):
        neural_cleanse(model, x, clip=None)
    with pytest.raises(ValueError, match="y_clean"):
        neural_cleanse(model, x, np.full(10, 5))
    scan = neural_cleanse(model, x, steps=3, batch_size=4)
    assert scan.masks.shape == (3, 4, 4, 1) and scan.patterns.shape == (3, 4, 4, 1)
