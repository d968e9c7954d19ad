"""Checks between Keras models and the weight lists that travel in Flower messages."""

import keras
import numpy as np


def built_model(model_fn, name="model_fn"):
    """Calls `model_fn()` and checks it returned a compiled `keras.Model`."""
    if not callable(model_fn):
        raise TypeError(f"Expected `{name}` to be a function returning a compiled keras.Model. "
                        f"Received: {name} of type {type(model_fn).__name__}")
    model = model_fn()
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected `{name}()` to return a keras.Model. Received: an object of "
                        f"type {type(model).__name__}")
    if not getattr(model, "compiled", False):
        raise ValueError(f"Expected `{name}()` to return a compiled keras.Model: clients call "
                         "fit() and evaluate() on it. Received: an uncompiled model; call "
                         "model.compile(optimizer=..., loss=..., metrics=['accuracy']) in "
                         f"{name}.")
    if not model.weights:
        raise ValueError(f"Expected `{name}()` to return a built model (with weights). "
                         "Received: a model without weights; give it an Input layer or call "
                         "model.build(input_shape).")
    return model


def set_checked_weights(model, weights, name="arrays"):
    """`model.set_weights(weights)` after checking the count, shapes and finiteness."""
    expected = model.get_weights()
    if len(weights) != len(expected):
        raise ValueError(f"Expected `{name}` to hold {len(expected)} arrays, one per model "
                         f"weight. Received: {len(weights)} arrays. Client and server must "
                         "build the same model.")
    for i, (got, want) in enumerate(zip(weights, expected)):
        if np.shape(got) != want.shape:
            raise ValueError(f"Expected `{name}` array {i} to have shape {want.shape} (model "
                             f"weight {model.weights[i].path}). Received: shape "
                             f"{np.shape(got)}. Client and server must build the same model.")
    model.set_weights([np.asarray(w, dtype=e.dtype) for w, e in zip(weights, expected)])


def metric_value(logs, suffix):
    """The value of the first key of `logs` that is or ends with `suffix`, or None."""
    for key, value in logs.items():
        if key == suffix or key.endswith(suffix):
            return float(np.asarray(value).reshape(-1)[-1])
    return None
