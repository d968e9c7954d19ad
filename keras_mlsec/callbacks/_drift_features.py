"""What DriftMonitor compares: model outputs, layer activations and fit's inputs.

Helpers of `DriftMonitor` that reach into a Keras model: the sub-model up to a
named layer, the reduction of model outputs to the tested columns, and the
validation inputs of the running `fit`.
"""

import keras
import numpy as np

from keras_mlsec._core import keras_internals

REDUCTIONS = ("columns", "max_probability", "class")


def layer_model(model, on):
    """A sub-model of `model` (sharing its weights) that outputs the layer named in `on`.

    Args:
        model: the monitored Keras model.
        on: `"layer:<name>"`.

    Returns:
        A `keras.Model` from `model.inputs` to the layer's output.

    Raises:
        ValueError: no layer of that name, or a model without defined inputs.
    """
    name = on[len("layer:"):]
    try:
        layer = model.get_layer(name)
    except ValueError:
        names = [layer.name for layer in model.layers]
        raise ValueError(
            f"Expected `on` to name a layer of the model, one of {names}. "
            f"Received: on={on!r}") from None
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"Expected a functional or built Sequential model for on={on!r} (a "
            "sub-model up to the layer is built from `model.inputs`). Received: a model "
            "without defined inputs; call it on data or use on=\"predictions\".")
    inputs = inputs[0] if len(inputs) == 1 else inputs
    return keras.Model(inputs, layer.output)


def model_features(model, x, *, on, reduction, batch_size):
    """The compared features of inputs `x` computed by a model, plus their names.

    Args:
        model: the model, or the layer sub-model for `on="layer:<name>"`.
        x: inputs `(n, ...)`.
        on: `"predictions"` or `"layer:<name>"`.
        reduction: for predictions, `"columns"`, `"max_probability"` or `"class"`.
        batch_size: batch size of the forward pass.

    Returns:
        `(features, names)`: the flattened (and, for predictions, reduced)
        outputs `(n, features)` and one name per column.
    """
    outputs = np.concatenate([
        np.asarray(model.predict_on_batch(x[start:start + batch_size]))
        for start in range(0, len(x), batch_size)])
    outputs = outputs.reshape(len(outputs), -1)
    if on != "predictions":
        prefix = on[len("layer:"):]
        return outputs, [f"{prefix}_{j}" for j in range(outputs.shape[1])]
    return reduce_outputs(outputs, reduction)


def validation_inputs(model, max_samples):
    """The validation inputs `fit` is using, read from private Keras state (`keras_internals`).

    Reads fit's cached validation iterator batch by batch, stopping once at
    least `max_samples` examples are read (all of them when None).

    Returns:
        The concatenated inputs as a NumPy array.

    Raises:
        Exception: any error, when the iterator is missing or not readable;
            the caller treats every failure as "not available".
    """
    adapter = keras_internals.eval_data_adapter(model)
    batches, count = [], 0
    for batch in adapter.get_numpy_iterator():
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        batches.append(np.asarray(x))
        count += len(batches[-1])
        if max_samples is not None and count >= max_samples:
            break
    return np.concatenate(batches)


def reduce_outputs(outputs, reduction):
    """Output columns, the top probability or the predicted class of model outputs."""
    if reduction == "columns":
        return outputs, [f"class_{j}" for j in range(outputs.shape[1])]
    if outputs.shape[1] == 1:
        p = outputs[:, 0].astype(np.float64)
        if p.min() < 0 or p.max() > 1:  # Logit of a sigmoid output.
            p = 1.0 / (1.0 + np.exp(-p))
        if reduction == "class":
            return (p > 0.5).astype(np.int64)[:, None], ["predicted_class"]
        return np.maximum(p, 1 - p)[:, None], ["max_probability"]
    if reduction == "class":
        return np.argmax(outputs, axis=1).astype(np.int64)[:, None], ["predicted_class"]
    probs = outputs.astype(np.float64)
    if probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):  # Logits.
        probs = np.exp(probs - probs.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
    return probs.max(axis=1)[:, None], ["max_probability"]
