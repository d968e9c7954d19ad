"""`attack_success_rate`: how often a backdoored model obeys the trigger."""

import numpy as np

from keras_mlsec._core import models
from keras_mlsec._core import validation as v
from keras_mlsec.attacks.poisoning.poisoned_data import PoisonedData


def attack_success_rate(model, poisoned, x, y, *, batch_size=256):
    """Share of triggered test inputs of non-target classes classified as the target.

    Only test examples whose true class is not the target (and is the
    `source` class, when the attack had one) count: the trigger is stamped on
    them with `poisoned.apply_trigger` and the model's arg-max is compared
    with `poisoned.target`.

    Args:
        model: the (possibly backdoored) `keras.Model`.
        poisoned: the `PoisonedData` of the attack (its trigger and target).
        x: clean test inputs (not modified).
        y: their true labels, sparse or one-hot.
        batch_size: prediction batch size.

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: when `poisoned` has no trigger or target, or no test
            example is eligible.
        TypeError: when `poisoned` is not a `PoisonedData`.

    Example:
        >>> attack_success_rate(model, data, x_test, y_test)
        0.99
    """
    model = v.check_model(model)
    if not isinstance(poisoned, PoisonedData):
        raise TypeError("Expected `poisoned` to be the PoisonedData an attack returned. "
                        f"Received: poisoned of type {type(poisoned).__name__}")
    if poisoned.target is None or poisoned.trigger is None:
        raise ValueError("Expected `poisoned` from a backdoor attack (with a trigger and a "
                         f"target). Received: {poisoned!r}")
    x = v.check_inputs(x, model=model)
    logits_fn = models.logits_function(model)
    y = v.check_labels(y, len(x), models.num_classes_of(model, logits_fn, x))
    keep = y != poisoned.target
    if poisoned.source is not None:
        keep &= y == poisoned.source
    if not keep.any():
        raise ValueError("Expected test examples outside the target class"
                         + ("" if poisoned.source is None else f" of class {poisoned.source}")
                         + f". Received: y with only class {poisoned.target}")
    triggered = poisoned.apply_trigger(x[keep])
    predicted = models.predict_labels(logits_fn, triggered,
                                      v.check_positive_int(batch_size, "batch_size"))
    return float(np.mean(predicted == poisoned.target))
