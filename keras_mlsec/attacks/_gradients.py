"""Tensor math shared by all evasion attacks: logits, losses, gradients, projections.

Everything here is pure TensorFlow, safe to call inside `tf.function`.
"""

import weakref

import keras
import numpy as np
import tensorflow as tf
from cleverhans.tf2.utils import clip_eta, optimize_linear

_LOGITS_CACHE = weakref.WeakKeyDictionary()
_NORM_ORDER = {"linf": np.inf, "l2": 2}


def norm_order(norm):
    """Maps "linf"/"l2" to CleverHans' NumPy-style norm order."""
    return _NORM_ORDER[norm]


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


def cross_entropy(labels, logits):
    """Per-example sparse softmax cross-entropy."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def dlr_loss(labels, logits, targets=None):
    """Difference of Logits Ratio loss (Croce and Hein 2020), per example.

    Untargeted: -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3).
    Targeted (`targets` given): -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2).
    Higher means closer to (or further past) misclassification.
    """
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
    if targets is None:
        return -margin(labels, logits) / (sorted_logits[:, 0] - sorted_logits[:, 2] + 1e-12)
    true_logit = tf.gather(logits, labels, batch_dims=1)
    target_logit = tf.gather(logits, targets, batch_dims=1)
    denominator = sorted_logits[:, 0] - 0.5 * (sorted_logits[:, 2] + sorted_logits[:, 3]) + 1e-12
    return -(true_logit - target_logit) / denominator


def margin(labels, logits):
    """Per-example margin z_y - max_{i != y} z_i (negative means misclassified)."""
    num_classes = tf.shape(logits)[-1]
    true_logit = tf.gather(logits, labels, batch_dims=1)
    other = tf.reduce_max(logits - 1e9 * tf.one_hot(labels, num_classes), axis=-1)
    return true_logit - other


def input_gradient(logits_fn, x, labels, loss_fn=cross_entropy, targeted=False):
    """Gradient of the summed per-example loss w.r.t. `x`, and the per-example loss.

    For targeted attacks the loss is negated so that ascending it moves towards
    the target. Returns `(gradient, loss, logits)`.
    """
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = logits_fn(x)
        loss = loss_fn(labels, logits)
        objective = -loss if targeted else loss
        total = tf.reduce_sum(objective)
    return tape.gradient(total, x), objective, logits


def steepest_step(gradient, step_size, norm):
    """Steepest-ascent step of size `step_size` under `norm` (CleverHans' optimize_linear)."""
    return optimize_linear(gradient, step_size, norm_order(norm))


def project(delta, eps, norm):
    """Projects a perturbation onto the `norm` ball of radius `eps` (CleverHans' clip_eta)."""
    return clip_eta(delta, norm_order(norm), eps)


def clip_to_domain(x, clip):
    """Clips to the input domain `(min, max)`; no-op for `None`."""
    if clip is None:
        return x
    return tf.clip_by_value(x, clip[0], clip[1])


def lp_norm(delta, norm):
    """Per-example L-inf or L2 norm of a perturbation batch."""
    flat = tf.reshape(delta, (tf.shape(delta)[0], -1))
    if norm == "linf":
        return tf.reduce_max(tf.abs(flat), axis=1)
    return tf.sqrt(tf.reduce_sum(tf.square(flat), axis=1))


def random_start(generator, shape, eps, norm):
    """Uniform random point of the `norm` ball of radius `eps` (per example).

    Args:
        generator: a `tf.random.Generator` (seeded for reproducible attacks).
        shape: the batch shape, a 1-D int tensor such as `tf.shape(x)`.
        eps: ball radius.
        norm: "linf" or "l2".
    """
    shape = tf.convert_to_tensor(shape)
    if norm == "linf":
        return generator.uniform(shape, -1.0, 1.0) * eps
    batch = shape[0]
    flat = generator.normal(tf.stack([batch, tf.reduce_prod(shape[1:])]))
    flat = flat / (tf.norm(flat, axis=1, keepdims=True) + 1e-12)
    dim = tf.cast(tf.shape(flat)[1], tf.float32)
    radius = tf.pow(generator.uniform(tf.stack([batch, 1])), 1.0 / dim) * eps
    return tf.reshape(flat * radius, shape)


def cw_objective(labels, logits, confidence, targeted=False):
    """Carlini-Wagner hinge on the logit margin, per example (zero once the goal is met).

    Untargeted: max(z_y - max_{i != y} z_i + confidence, 0); targeted (`labels`
    are the targets): max(max_{i != t} z_i - z_t + confidence, 0).
    """
    gap = margin(labels, logits)
    return tf.nn.relu(confidence - gap if targeted else gap + confidence)


def cw_success(labels, logits, confidence, targeted=False):
    """Whether the logit margin passes `confidence` in the attack's direction, per example."""
    gap = margin(labels, logits)
    return gap > confidence if targeted else gap < -confidence


def where_examples(mask, a, b):
    """Per-example `tf.where`: rows of `a` where the (batch,) `mask` holds, else rows of `b`."""
    mask = tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([tf.rank(a) - 1], tf.int32)], 0))
    return tf.where(mask, a, b)


def is_worse_case(success, loss, best_success, best_loss):
    """Whether a candidate beats the kept worst case: success first, then a higher loss."""
    return (success & ~best_success) | ((success == best_success) & (loss > best_loss))
