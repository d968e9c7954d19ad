"""Activations of a named layer, for Sequential, functional and subclassed models.

The model is never rebuilt or modified: while one forward pass is traced, the
chosen layer's `call` is shadowed on the instance by a wrapper that records
what goes in or comes out, and the wrapper is removed right after. This works
the same for every way of building a Keras model (ART's `get_activations`
only accepts Sequential TensorFlow models), including layers nested inside
sub-models.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_mlsec._core import models
from keras_mlsec._core import validation as v


def _walk(model):
    for layer in getattr(model, "layers", []):
        yield layer
        if isinstance(layer, keras.Model) or getattr(layer, "layers", None):
            yield from _walk(layer)


def layer_names(model):
    """Names of every layer of `model`, nested sub-models included, in order."""
    return [layer.name for layer in _walk(model)]


def find_layer(model, name, argument="layer"):
    """The layer called `name` anywhere in `model` (nested sub-models included).

    Raises:
        ValueError: naming `argument` and listing the model's layers when none matches.
    """
    if isinstance(name, keras.layers.Layer):
        if any(layer is name for layer in _walk(model)):
            return name
        raise ValueError(f"Expected `{argument}` to be a layer of the model. Received: "
                         f"{argument}={name.name!r}, which is not one of its layers.")
    for layer in _walk(model):
        if layer.name == name:
            return layer
    raise ValueError(f"Expected `{argument}` to name a layer of the model, one of "
                     f"{layer_names(model)}. Received: {argument}={name!r}")


def weighted_layers(model):
    """The layers of `model` (nested ones included, sub-models themselves excluded) with weights."""
    return [layer for layer in _walk(model) if layer.weights and not isinstance(layer, keras.Model)]


def penultimate_layer(model):
    """The last layer with weights (the classifier head); its input is the penultimate features."""
    weighted = weighted_layers(model)
    if not weighted:
        raise ValueError("Expected a model with at least one layer with weights (a "
                         f"classifier head). Received: model {model.name!r} without one.")
    return weighted[-1]


def activation_function(model, layer=None):
    """A compiled `x -> activations` of one layer of `model`.

    Args:
        model: a `keras.Model` (wrappers such as `AdversarialModel` are seen through).
        layer: a layer name (or layer) whose output is returned; None returns
            the input of the classifier head (the last layer with weights),
            i.e. the penultimate representation.

    Returns:
        A `tf.function` mapping an input batch to a `(batch, ...)` tensor.
    """
    model = models.inner_model(model)
    if layer is None:
        target, capture_input = penultimate_layer(model), True
    else:
        target, capture_input = find_layer(model, layer), False

    def run(x):
        captured = []
        original = target.call

        def hooked(*args, **kwargs):
            outputs = original(*args, **kwargs)
            captured.append(args[0] if capture_input else outputs)
            return outputs

        object.__setattr__(target, "call", hooked)
        try:
            model(x, training=False)
        finally:
            object.__delattr__(target, "call")
        if not captured:
            raise ValueError(f"Expected layer {target.name!r} to run in the model's forward "
                             f"pass. Received: layer={target.name!r} was never called.")
        return tf.convert_to_tensor(captured[-1])

    key = ("activations", target.name, capture_input)
    return models.compiled(models.logits_function(model), key, lambda: run)


def layer_activations(model, x, layer=None, *, batch_size=256, flatten=True):
    """Activations of `layer` (default: the penultimate representation) on `x`.

    Args:
        model: a `keras.Model`.
        x: input batch (checked against the model's input shape).
        layer: layer name, layer, or None (input of the classifier head).
        batch_size: examples per forward pass.
        flatten: reshape each example's activations to a vector.

    Returns:
        A float32 NumPy array, `(n, features)` when `flatten`.

    Raises:
        ValueError: when `layer` names no layer of the model, or bad inputs.
    """
    v.check_model(model)
    x = v.check_inputs(x, model=model)
    batch_size = v.check_positive_int(batch_size, "batch_size")
    fn = activation_function(model, layer)
    parts = [fn(tf.constant(x[i:i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
    out = np.concatenate(parts).astype(np.float32)
    return out.reshape(len(out), -1) if flatten else out
