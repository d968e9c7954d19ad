"""Straight-through gradients for non-differentiable preprocessing (BPDA).

Backward Pass Differentiable Approximation (Athalye et al. 2018): the forward
pass runs the real, non-differentiable transform g(x); the backward pass
treats g as the identity, g(x) ~ x, and hands the upstream gradient back
unchanged. An attacker (or adversarial training) then sees through the
preprocessing instead of being stopped by a zero or missing gradient.
"""

import tensorflow as tf


def straight_through(fn):
    """Wraps `fn` so that its gradient is the identity (straight-through).

    Args:
        fn: a TensorFlow function `x -> y` with `y` shaped like `x`, possibly
            non-differentiable (rounding, JPEG coding, sorting).

    Returns:
        A callable computing `fn(x)` in the forward pass whose gradient with
        respect to `x` is the upstream gradient.

    Example:
        >>> squeeze = straight_through(tf.round)
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = squeeze(x)
        >>> tape.gradient(y, x)  # ones, not zeros

    Reference:
        Athalye, Carlini and Wagner, "Obfuscated Gradients Give a False Sense
        of Security", ICML 2018.
    """

    @tf.custom_gradient
    def wrapped(x):
        def grad(upstream):
            return upstream

        return fn(x), grad

    wrapped.__name__ = f"straight_through_{getattr(fn, '__name__', 'fn')}"
    return wrapped


def check_float_range(value, name, low, high, integer=False):
    """Checks a number within [low, high] (an int when `integer`); returns it."""
    import numbers

    kind = numbers.Integral if integer else numbers.Real
    ok = not isinstance(value, bool) and isinstance(value, kind)
    if ok:
        ok = low <= value <= high
    if not ok:
        what = "an integer" if integer else "a number"
        raise ValueError(
            f"Expected `{name}` to be {what} in [{low}, {high}]. Received: {name}={value!r}")
    return int(value) if integer else float(value)
