"""Model adapters every capability shares: logits without mutating the model,
the wrapper protocol, the class count and compiled predictors with their cache.

The per-model cache holds nothing that keeps the model alive: it is keyed
weakly by the model, and what it stores (the logits function and the
`tf.function`s compiled on it) reaches the model only through a weak
reference or through the model's layers, never through the model object
itself. When the user drops the model, its entry goes with it.
"""

import threading
import weakref

import keras
import tensorflow as tf

from keras_mlsec._core import keras_internals

# model -> its logits function (which carries the compiled functions, see `compiled`).
_LOGITS_CACHE = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()

WRAPPER_ATTRIBUTE = "wraps_model"
"""The wrapper protocol: a `keras.Model` subclass that trains or serves an inner
network declares, as a class attribute, `wraps_model = "<attribute name>"`
naming the attribute holding that network (`DPModel` and `AdversarialModel`
declare `wraps_model = "model"`). Attacks, monitors and audits then run on
the inner network. A model without the declaration is attacked as itself,
even when it happens to hold another model in `self.model`."""


def _is_softmax(activation):
    if activation is None:
        return False
    return activation in (keras.activations.softmax, tf.nn.softmax) or (
        getattr(activation, "__name__", "") == "softmax"
    )


def _softmax_output_layer(model):
    """Returns (layer, kind) when the model's output is a softmax, else (None, None).

    kind is "activation" for a layer with `activation=softmax` (Dense, Conv...) and
    "layer" for a standalone `Softmax` / `Activation("softmax")` layer. Only
    Sequential and functional models are inspected: a subclassed model's
    `call` is opaque, so its output is taken as logits.
    """
    if not model.layers:
        return None, None
    if not (isinstance(model, keras.Sequential) or getattr(model, "outputs", None)):
        return None, None
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return last, "layer"
    if isinstance(last, keras.layers.Activation) and _is_softmax(last.activation):
        return last, "layer"
    if _is_softmax(getattr(last, "activation", None)):
        return last, "activation"
    return None, None


def is_wrapper(model):
    """Whether `model`'s class declares the wrapper protocol (see `WRAPPER_ATTRIBUTE`)."""
    return isinstance(getattr(type(model), WRAPPER_ATTRIBUTE, None), str)


def inner_model(model):
    """The network a declared wrapper runs (recursively), else `model` itself.

    Only classes declaring `wraps_model = "<attribute>"` (see
    `WRAPPER_ATTRIBUTE`) are unwrapped; any other model, whatever attributes
    it holds, is returned unchanged.

    Raises:
        TypeError: when a declared wrapper's attribute does not hold a `keras.Model`.
    """
    seen = set()
    while is_wrapper(model) and id(model) not in seen:
        seen.add(id(model))
        attribute = getattr(type(model), WRAPPER_ATTRIBUTE)
        inner = getattr(model, attribute, None)
        if not isinstance(inner, keras.Model):
            raise TypeError(
                f"Expected `{type(model).__name__}.{attribute}` to hold the wrapped keras.Model "
                f"(the class declares {WRAPPER_ATTRIBUTE}={attribute!r}). Received: "
                f"{type(inner).__name__}")
        model = inner
    return model


def _plain_logits(network):
    ref = weakref.ref(network)

    def logits_fn(x):
        return _alive(ref)(x, training=False)

    return logits_fn


def _alive(ref):
    model = ref()
    if model is None:
        raise ReferenceError("The model of this logits function has been deleted.")
    return model


def _trunk(network, layer):
    """`x -> input of the output layer`, holding the layers but never the model itself."""
    if isinstance(network, keras.Sequential):
        layers = list(network.layers[:-1])

        def run_layers(x):
            for inner in layers:
                x = inner(x, training=False)
            return x

        return run_layers
    inputs = network.inputs[0] if len(network.inputs) == 1 else network.inputs
    trunk = keras.Model(inputs, layer.input)  # a new graph over the same layers
    return lambda x: trunk(x, training=False)


def _softmax_logits(network, layer, kind):
    trunk = _trunk(network, layer)
    if kind == "layer":
        return trunk
    head = keras_internals.linear_twin(layer)  # same weights, linear activation

    def logits_fn(x):
        return head(trunk(x), training=False)

    return logits_fn


def logits_function(model):
    """Returns a callable `x -> logits` for a classifier.

    Models whose last layer applies a softmax are attacked through the
    pre-softmax activations (attacking a saturated softmax hides gradients);
    other models are assumed to output logits already. Declared wrappers
    (`DPModel`, `AdversarialModel`, see `WRAPPER_ATTRIBUTE`) are seen through
    to their inner model. The returned function shares the model's weights,
    so it follows training. It never modifies the model or its layers (the
    pre-softmax output comes from a twin of the last layer sharing its
    weights), so several threads may use it at once.

    The function is cached per model, weakly: it does not keep the model
    alive, and calling it after the model is deleted raises `ReferenceError`.

    Args:
        model: a single-output `keras.Model`.

    Returns:
        A callable mapping an input batch to a `(batch, classes)` logits tensor,
        with an attribute `from_softmax` (whether a final softmax was removed).
    """
    with _LOCK:
        cached = _LOGITS_CACHE.get(model)
        if cached is not None:
            return cached
        network = inner_model(model)
        layer, kind = _softmax_output_layer(network)
        logits_fn = _plain_logits(network) if layer is None else _softmax_logits(network,
                                                                                 layer, kind)
        logits_fn.from_softmax = layer is not None
        logits_fn.compiled = {}
        _LOGITS_CACHE[model] = logits_fn
        return logits_fn


def compiled(logits_fn, key, builder):
    """Returns a `tf.function` cached on the model's logits function.

    Tracing costs far more than a step; caching per (model, static options)
    lets every later call with the same options (any eps, any batch) reuse it.
    The cache lives on `logits_fn` (see `logits_function`), so it lives and
    dies with the model's entry. `builder()` must return the Python function
    to compile; it should reach the model only through `logits_fn` (a
    closure over the model itself would keep the model alive).
    """
    cache = logits_fn.__dict__.setdefault("compiled", {})
    function = cache.get(key)
    if function is None:
        with _LOCK:
            function = cache.get(key)
            if function is None:
                function = cache[key] = tf.function(builder(), reduce_retracing=True)
    return function


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
