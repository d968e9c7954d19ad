"""clean_label_backdoor: labels untouched, PGD within eps plus the trigger, errors."""

import keras
import numpy as np
import pytest

from keras_mlsec.attacks import CleanLabelBackdoor, clean_label_backdoor
from poisoning_case import clean
from test_case import digits


@pytest.mark.slow
def test_only_target_examples_change_labels_never():
    model = clean()
    (x, y), _ = digits(8)
    x, y = x[:300], y[:300]
    data = clean_label_backdoor(model, x, y, target=4, rate=0.5, eps=0.1, steps=5, seed=0)
    assert np.all(y[data.poison_indices] == 4)
    assert len(data.poison_indices) == round(0.5 * np.sum(y == 4))
    np.testing.assert_array_equal(data.y, y)
    poisoned = data.x[data.poison_indices]
    mask = data.trigger.mask > 0
    delta = np.abs(poisoned - x[data.poison_indices])[:, ~mask]  # outside the patch: PGD only
    assert 0 < delta.max() <= 0.1 + 1e-5
    np.testing.assert_array_equal(poisoned[:, mask], np.broadcast_to(
        data.trigger.pattern[mask], poisoned[:, mask].shape))
    assert 0.0 <= data.x.min() and data.x.max() <= 1.0
    # PGD made the chosen examples hard: a higher loss than with the trigger alone.
    plain = clean_label_backdoor(model, x, y, target=4, rate=0.5, eps=0.0, seed=0)
    np.testing.assert_array_equal(plain.poison_indices, data.poison_indices)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    hard = float(loss(y[data.poison_indices], model.predict(poisoned, verbose=0)))
    easy = float(loss(y[data.poison_indices], model.predict(plain.x[plain.poison_indices],
                                                            verbose=0)))
    assert hard > easy + 0.5
    again = CleanLabelBackdoor(target=4, rate=0.5, eps=0.1, steps=5, seed=0)(model, x, y)
    np.testing.assert_array_equal(again.poison_indices, data.poison_indices)


def test_bad_input():
    model = clean()
    (x, y), _ = digits(8)
    with pytest.raises(ValueError, match="target"):
        clean_label_backdoor(model, x[:50], y[:50], target=10, rate=0.5, eps=0.1)
    with pytest.raises(ValueError, match="rate"):
        clean_label_backdoor(model, x[:50], y[:50], target=1, rate=2, eps=0.1)
    with pytest.raises(ValueError, match="eps"):
        clean_label_backdoor(model, x[:50], y[:50], target=1, rate=0.5, eps=-1)
    with pytest.raises(TypeError, match="model"):
        clean_label_backdoor("model", x[:50], y[:50], target=1, rate=0.5, eps=0.1)
