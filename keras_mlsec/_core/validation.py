"""Argument checks shared by the whole package.

Every check raises where the bad value enters, worded
"Expected ... Received: name=value", so that the user sees which argument is
wrong and how to fix it.
"""

import numbers

import numpy as np

NORMS = ("linf", "l2")


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_model(model, name="model"):
    """Checks that `model` is a single-output `keras.Model` and returns it."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected `{name}` to be a `keras.Model` (Sequential, functional or "
            f"subclassed). Received: {name}={_short(model)} of type "
            f"{type(model).__name__}. Wrap plain callables in a keras.Model first."
        )
    outputs = getattr(model, "outputs", None)
    if outputs is not None and len(outputs) != 1:
        raise ValueError(
            f"Expected `{name}` to have exactly one output (class scores). "
            f"Received: {name} with {len(outputs)} outputs. Build a single-output "
            "model, e.g. keras.Model(model.inputs, model.outputs[0])."
        )
    return model


def check_norm(norm, name="norm"):
    """Returns `norm` lower-cased after checking it is "linf" or "l2"."""
    if isinstance(norm, str) and norm.lower() in NORMS:
        return norm.lower()
    if norm in (np.inf, float("inf")):
        return "linf"
    if norm == 2 and not isinstance(norm, bool):
        return "l2"
    raise ValueError(f'Expected `{name}` to be "linf" or "l2". Received: {name}={_short(norm)}')


def check_non_negative(value, name):
    """Checks a finite, non-negative real number and returns it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected `{name}` to be a number. Received: {name}={_short(value)}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(
            f"Expected `{name}` to be a finite number >= 0. Received: {name}={value}"
        )
    return value


def check_choice(value, choices, name, why=""):
    """Checks that `value` is one of `choices` (shown as given) and returns it.

    `why`, when given, follows the choices in the message, e.g. " (the norm of
    the ball)".
    """
    if value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {choices}{why}. Received: {name}={value!r}")
    return value


def check_positive(value, name):
    """Checks a finite, strictly positive real number and returns it as float."""
    value = check_non_negative(value, name)
    if value == 0:
        raise ValueError(f"Expected `{name}` to be > 0. Received: {name}={value}")
    return value


def check_positive_int(value, name):
    """Checks an integer >= 1 and returns it as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Expected `{name}` to be an integer >= 1. Received: {name}={_short(value)}"
        )
    return int(value)


def check_seed(seed, name="seed"):
    """Checks a random seed: an integer (Python or NumPy) or None; returns int or None."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"Expected `{name}` to be an int or None. Received: {name}={seed!r}")
    return None if seed is None else int(seed)


def check_clip(clip, name="clip"):
    """Checks a `(min, max)` input domain with min < max; `None` means unbounded."""
    if clip is None:
        return None
    try:
        low, high = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected `{name}` to be a pair (min, max) of numbers or None. "
            f"Received: {name}={_short(clip)}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        raise ValueError(
            f"Expected `{name}` to be (min, max) with finite min < max. "
            f"Received: {name}={_short(clip)}"
        )
    return low, high


def check_inputs(x, model=None, clip=None, name="x"):
    """Checks an input batch and returns it as a float32 NumPy array.

    Args:
        x: array-like batch, first axis is the batch.
        model: optional model whose input shape `x` must fit.
        clip: optional `(min, max)` domain that `x` must lie in.
        name: argument name used in error messages.
    """
    try:
        array = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"Expected `{name}` to be a numeric array or tensor. "
            f"Received: {name} of type {type(x).__name__}"
        ) from None
    if array.ndim < 2:
        raise ValueError(
            f"Expected `{name}` to be a batch with at least 2 dimensions "
            f"(batch, features...). Received: {name} with shape {array.shape}. "
            "Add a batch axis, e.g. x[None]."
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"Expected `{name}` to hold at least one example. Received: shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ValueError(
            f"Expected `{name}` to hold finite values. Received: {name} with {bad} "
            "NaN or infinite entries."
        )
    if model is not None:
        expected = _model_input_shape(model)
        if expected is not None:
            got = array.shape[1:]
            fits = len(expected) == len(got) and all(
                e is None or e == g for e, g in zip(expected, got)
            )
            if not fits:
                raise ValueError(
                    f"Expected `{name}` to have per-example shape {tuple(expected)} to fit "
                    f"the model input. Received: {name} with shape {array.shape}."
                )
    if clip is not None:
        low, high = clip
        x_min, x_max = float(array.min()), float(array.max())
        if x_min < low - 1e-6 or x_max > high + 1e-6:
            raise ValueError(
                f"Expected `{name}` to lie in the clip range [{low}, {high}]. Received: "
                f"{name} with values in [{x_min:.4g}, {x_max:.4g}]. Scale the data "
                "or pass a matching clip=(min, max)."
            )
        array = np.clip(array, low, high)
    return array


def _model_input_shape(model):
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list):
        return None if len(shape) != 1 else tuple(shape[0][1:])
    return tuple(shape[1:]) if shape is not None else None


def check_labels(y, num_examples, num_classes=None, name="y"):
    """Returns sparse int32 labels from sparse or one-hot `y`.

    Raises:
        ValueError: when the length, shape or range of `y` is wrong.
    """
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] > 1:
        if num_classes is not None and array.shape[1] != num_classes:
            raise ValueError(
                f"Expected one-hot `{name}` with {num_classes} columns (one per class). "
                f"Received: {name} with shape {array.shape}"
            )
        array = np.argmax(array, axis=1)
    elif array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"Expected `{name}` to be sparse labels (n,) or one-hot (n, classes). "
            f"Received: {name} with shape {np.shape(y)}"
        )
    if array.shape[0] != num_examples:
        raise ValueError(
            f"Expected `{name}` to have one label per input ({num_examples}). "
            f"Received: {name} with {array.shape[0]} labels."
        )
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(
                f"Expected integer class labels in `{name}`. Received: {_short(array[:5])}...")
    array = array.astype(np.int64)
    if num_classes is not None and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"Expected labels in `{name}` in [0, {num_classes - 1}] for a model with "
            f"{num_classes} classes. Received: labels in [{array.min()}, {array.max()}]"
        )
    return array.astype(np.int32)


def check_pair(pair, name, model=None, num_classes=None):
    """Checks an `(x, y)` pair of inputs and labels; returns `(x, sparse int32 y)`."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"Expected `{name}` to be a pair (x, y) of inputs and labels. "
                         f"Received: {name} of type {type(pair).__name__}"
                         + (f" with {len(pair)} items" if isinstance(pair, (tuple, list)) else ""))
    x = check_inputs(pair[0], model=model, name=f"{name}[0]")
    return x, check_labels(pair[1], len(x), num_classes, name=f"{name}[1]")


def check_indices(indices, num_examples, name="poison_indices"):
    """Sorted unique int64 indices in `[0, num_examples)` from indices or a boolean mask.

    Raises:
        ValueError: naming `name` for indices out of range, repeated, or not integers.
    """
    array = np.asarray(indices)
    if array.dtype == bool and array.shape == (num_examples,):
        return np.flatnonzero(array).astype(np.int64)
    if array.size == 0:
        return np.zeros(0, np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"Expected `{name}` to be a 1-D array of integer indices (or a "
                         f"boolean mask of length {num_examples}). Received: {name} with "
                         f"shape {array.shape} and dtype {array.dtype}")
    if array.min() < 0 or array.max() >= num_examples:
        raise ValueError(f"Expected `{name}` in [0, {num_examples - 1}]. Received: "
                         f"{name} from {array.min()} to {array.max()}")
    if len(np.unique(array)) != len(array):
        raise ValueError(f"Expected unique `{name}`. Received: {len(array) - len(np.unique(array))}"
                         " repeated indices")
    return np.sort(array).astype(np.int64)
