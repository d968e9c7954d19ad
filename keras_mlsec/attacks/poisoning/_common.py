"""Argument checks and sampling shared by the poisoning attacks."""

import numbers

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.poisoning.trigger import Trigger, is_image

TRIGGER_KINDS = ("patch", "blend")


def check_rate(rate):
    """`rate` as a float in (0, 1]."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 < rate <= 1:
        raise ValueError(f"Expected `rate` in (0, 1] (the share of eligible examples to "
                         f"poison). Received: rate={rate!r}")
    return float(rate)


def check_data(x, y, *, image_domain=None):
    """Copies of `x` (float32) and `y` (sparse int32) and the class count.

    With `image_domain=True` (or None and image-shaped `x`), `x` must lie in [0, 1].
    """
    x = v.check_inputs(x)
    y = v.check_labels(y, len(x))
    if y.min() < 0:
        raise ValueError(f"Expected class labels >= 0 in `y`. Received: labels from {y.min()}")
    if image_domain is None:
        image_domain = is_image(x.shape[1:])
    if image_domain:
        low, high = float(x.min()), float(x.max())
        if low < -1e-6 or high > 1 + 1e-6:
            raise ValueError(
                "Expected image inputs `x` in [0, 1] for an image trigger. Received: x with "
                f"values in [{low:.4g}, {high:.4g}]. Scale the images to [0, 1] first.")
    return np.array(x, dtype=np.float32, copy=True), np.array(y, dtype=np.int32, copy=True)


def check_class(value, y, name, num_classes=None):
    """A class index present in `y` (or below `num_classes`); None passes through."""
    if value is None:
        return None
    classes = num_classes if num_classes is not None else int(np.max(y)) + 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not 0 <= value < classes:
        raise ValueError(f"Expected `{name}` to be a class index in [0, {classes - 1}]. "
                         f"Received: {name}={value!r}")
    return int(value)


def choose(pool, rate, rng, what):
    """`round(rate * len(pool))` (at least 1) sorted indices drawn from `pool`."""
    if len(pool) == 0:
        raise ValueError(f"Expected at least one example to poison among {what}. "
                         "Received: none in `y`.")
    count = max(1, int(round(rate * len(pool))))
    return np.sort(rng.choice(pool, size=count, replace=False)).astype(np.int64)


def make_trigger(trigger, x, *, alpha=0.2, seed=None):
    """A `Trigger` from "patch", "blend", a `Trigger` or a `(pattern, mask)` pair."""
    shape = x.shape[1:]
    if isinstance(trigger, str):
        v.check_choice(trigger, TRIGGER_KINDS, "trigger",
                       " or a Trigger / (pattern, mask) pair")
        if trigger == "patch":
            if is_image(shape):
                return Trigger.patch(shape)
            return Trigger.patch(shape, value=float(np.max(x)))
        if is_image(shape):
            return Trigger.blend(shape, alpha=alpha, seed=seed)
        return Trigger.blend(shape, alpha=alpha, seed=seed, low=x.min(0), high=x.max(0))
    if isinstance(trigger, Trigger):
        result = trigger
    elif isinstance(trigger, (tuple, list)) and len(trigger) == 2:
        result = Trigger(trigger[0], trigger[1])
    else:
        raise TypeError('Expected `trigger` to be "patch", "blend", a Trigger or a '
                        f"(pattern, mask) pair. Received: trigger of type {type(trigger).__name__}")
    if result.shape != shape:
        raise ValueError(f"Expected `trigger` shaped like one example of `x`, {shape}. "
                         f"Received: trigger with shape {result.shape}")
    if is_image(shape) and (result.pattern.min() < 0 or result.pattern.max() > 1):
        raise ValueError("Expected an image `trigger` pattern in [0, 1]. Received: pattern in "
                         f"[{result.pattern.min():.4g}, {result.pattern.max():.4g}]")
    return result
