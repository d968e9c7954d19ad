"""Model adapters every capability shares: logits without mutating the model,
the wrapper protocol, the class count and compiled predictors with their cache."""

import weakref

import keras
import tensorflow as tf

_LOGITS_CACHE = weakref.WeakKeyDictionary()


def _is_softmax(activation):
    if activation is None:
        return False
    return activation in (keras.activations.softmax, tf.nn.softmax) or (
        getattr(activation, "__name__", "") == "softmax"
    )


def _softmax_output_layer(model):
    """Returns (layer, kind) when the model's output is a softmax, else (None, None).

    kind is "activation" for a layer with `activation=softmax` (Dense, Conv...) and
    "layer" for a standalone `Softmax` / `Activation("softmax")` layer.
    """
    if not model.layers:
        return None, None
    last = model.layers[-1]
    if isinstance(model, keras.Sequential) or getattr(model, "_is_graph_network", False) or (
        hasattr(model, "outputs") and model.outputs
    ):
        if isinstance(last, keras.layers.Softmax):
            return last, "layer"
        if isinstance(last, keras.layers.Activation) and _is_softmax(last.activation):
            return last, "layer"
        if _is_softmax(getattr(last, "activation", None)):
            return last, "activation"
    return None, None


def inner_model(model):
    """The network a wrapper trains (`DPModel`, `AdversarialModel`: its `.model`), else `model`."""
    inner = getattr(model, "model", None)
    return inner if isinstance(inner, keras.Model) else model


def logits_function(model):
    """Returns a callable `x -> logits` for a classifier.

    Models whose last layer applies a softmax are attacked through the
    pre-softmax activations (attacking a saturated softmax hides gradients);
    other models are assumed to output logits already. Wrappers
    (`DPModel`, `AdversarialModel`) are seen through to their inner model.
    The returned function shares the model's weights, so it follows training.

    Args:
        model: a single-output `keras.Model`.

    Returns:
        A callable mapping an input batch to a `(batch, classes)` logits tensor.
    """
    cached = _LOGITS_CACHE.get(model)
    if cached is not None:
        return cached
    key, model = model, inner_model(model)
    layer, kind = _softmax_output_layer(model)
    if layer is None:
        def logits_fn(x):
            return model(x, training=False)
    else:
        if isinstance(model, keras.Sequential):
            trunk = keras.Sequential(model.layers[:-1]) if len(model.layers) > 1 else None
        else:
            inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
            trunk = keras.Model(inputs, layer.input)

        def logits_fn(x):
            hidden = trunk(x, training=False) if trunk is not None else x
            if kind == "layer":
                return hidden
            saved = layer.activation
            layer.activation = keras.activations.linear
            try:
                return layer(hidden, training=False)
            finally:
                layer.activation = saved

    logits_fn.from_softmax = layer is not None
    _LOGITS_CACHE[key] = logits_fn
    return logits_fn


def compiled(logits_fn, key, builder):
    """Returns a `tf.function` cached on the model's logits function.

    Tracing costs far more than a step; caching per (model, static options)
    lets every later call with the same options (any eps, any batch) reuse it.
    """
    cache = logits_fn.__dict__.setdefault("_km_compiled", {})
    if key not in cache:
        cache[key] = tf.function(builder(), reduce_retracing=True)
    return cache[key]


def num_classes_of(model, logits_fn, sample):
    shape = getattr(model, "output_shape", None)
    if isinstance(shape, tuple) and shape and shape[-1] is not None:
        return int(shape[-1])
    return int(logits_fn(tf.constant(sample[:1])).shape[-1])


def label_predictor(logits_fn):
    """The compiled `x_batch -> int32 arg-max labels` of a logits function (cached)."""
    return compiled(logits_fn, ("predict",), lambda: lambda xb: tf.argmax(logits_fn(xb), -1,
                                                                       output_type=tf.int32))


def predict_labels(logits_fn, x, batch_size):
    """Arg-max predictions of the model, in batches."""
    predict = label_predictor(logits_fn)
    parts = [predict(tf.constant(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    return tf.concat(parts, 0).numpy()
