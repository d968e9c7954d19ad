"""Fast ("ghost") per-example gradient norms, as pure functions (TensorFlow backend).

The per-example gradient of a layer's weights is a product of its input
activations `a` and the gradient `g = dL_i/dz` of the loss with respect to
its pre-activation output `z`, so its norm follows from `a` and `g` without
materializing one gradient per example (Goodfellow 2015). For inputs with a
sequence or spatial axis of length `T`, the squared norm is either the
"ghost norm" `sum_{t,t'} (a_t . a_t') (g_t . g_t')` (Li et al. 2022) or the
squared entries of the `(d_in, d_out)` per-example gradient `a_i^T g_i`,
whichever is cheaper (Lee & Kifer 2021). One forward pass records `(a, z)`
for each supported layer; one backward pass to the `z`s gives `g`, the
norms, and the clipped sum `sum_i c_i a_i^T g_i` from the same operands (by
weighing the per-example products where the norm already formed them).
The per-layer-type norms and sums are in `_ghost_norms`.

Supported layers with trainable weights: Dense, Conv2D (channels_last,
`groups=1`), Embedding (`mask_zero=False`) and LayerNormalization, without
regularizers, LoRA or quantization, with float32 compute, each called once
(a shared layer's gradient has cross terms between calls). Layers without
trainable weights (Flatten, Dropout, pooling, activations, ...) run as they
are; they must treat the examples of a batch independently (BatchNormalization
is rejected anyway). A model is walked through its `Sequential` layer list or
its functional graph (nested ones too); anything else (a subclassed model or
layer with trainable weights, any other weighted layer) is unsupported and
`DPModel(clipping="auto")` then uses the vectorized per-example path.
"""

import keras
import tensorflow as tf

from keras_mlsec._core import keras_internals
from keras_mlsec.privacy import clipping
from keras_mlsec.privacy._ghost_norms import _prepare, _squared_norms, _weighted_sums


def _is_graph(model):
    """Whether `model` is walked through its layers: a Sequential or a functional model."""
    return isinstance(model, keras.Sequential) or keras_internals.is_functional(model)


class UnsupportedLayer(Exception):
    """Raised while walking a model that the ghost path cannot handle."""

    def __init__(self, layer, reason):
        super().__init__(f"{layer.name} ({type(layer).__name__}): {reason}")
        self.layer = layer
        self.reason = reason


def _trainable(layer):
    return bool(getattr(layer, "trainable_variables", None))


def _check_layer(layer):
    """Raises `UnsupportedLayer` unless the ghost path can handle this weighted layer."""
    kinds = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Embedding,
             keras.layers.LayerNormalization)
    if type(layer) not in kinds:
        raise UnsupportedLayer(layer, "no fast per-example norm for this layer type")
    for name in ("kernel_regularizer", "bias_regularizer", "embeddings_regularizer",
                 "gamma_regularizer", "beta_regularizer", "activity_regularizer"):
        if getattr(layer, name, None) is not None:
            raise UnsupportedLayer(layer, f"`{name}` is set")
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        raise UnsupportedLayer(layer, "LoRA or quantization is enabled")
    if layer.compute_dtype != "float32" or layer.variable_dtype != "float32":
        raise UnsupportedLayer(layer, "only float32 compute is supported")
    if isinstance(layer, keras.layers.Conv2D) and (
            layer.data_format != "channels_last" or layer.groups != 1):
        raise UnsupportedLayer(layer, "only channels_last with groups=1 is supported")
    if isinstance(layer, keras.layers.Embedding) and layer.mask_zero:
        raise UnsupportedLayer(layer, "mask_zero=True is not supported")


def _children(model):
    """Operations in call order, once per call (a shared layer appears once per use)."""
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    nodes = keras_internals.nodes_by_depth(model)
    return [node.operation for depth in sorted(nodes, reverse=True) for node in nodes[depth]
            if node.operation is not None and not node.is_input
            and not isinstance(node.operation, keras.layers.InputLayer)]


def find_unsupported(model):
    """The first layer the ghost path cannot handle (an `UnsupportedLayer`), or None."""
    try:
        _check_model(model)
    except UnsupportedLayer as error:
        return error
    seen = set()
    for layer in _weighted_layers(model):
        if id(layer) in seen:  # its per-example gradient sums over calls: cross terms
            return UnsupportedLayer(layer, "a weighted layer called more than once")
        seen.add(id(layer))
    covered = {id(var) for layer in _weighted_layers(model) for var in layer.trainable_variables}
    missing = [var.path for var in model.trainable_variables if id(var) not in covered]
    if missing:
        return UnsupportedLayer(model, f"variables outside supported layers: {missing[:3]}")
    return None


def _check_model(model):
    if not _is_graph(model):
        raise UnsupportedLayer(model, "only Sequential and functional models can be walked")
    for layer in _children(model):
        if isinstance(layer, keras.layers.Layer) and not layer.built:
            raise UnsupportedLayer(layer, "not built (give the model an Input)")
        if _is_graph(layer):
            _check_model(layer)
        elif _trainable(layer):
            _check_layer(layer)


def _weighted_layers(model):
    for layer in _children(model):
        if _is_graph(layer):
            yield from _weighted_layers(layer)
        elif _trainable(layer):
            yield layer


def forward(model, inputs, *, training, tape):
    """Runs `model` on `inputs` inside `tape`, recording each weighted layer.

    Returns:
        `(outputs, records)`: the model outputs and a list of
        `(layer, a, z)` with the layer input `a` and the watched
        pre-activation output `z` of every weighted layer.
    """
    records = []
    return _run(model, inputs, training, tape, records), records


def _run(model, inputs, training, tape, records):
    def call(op):
        if _is_graph(op):
            return lambda x, *args, **kwargs: _run(op, x, training, tape, records)
        if isinstance(op, keras.layers.Layer) and _trainable(op):
            return lambda x, *args, **kwargs: _layer_call(op, x, tape, records)
        if training is not None and "training" in getattr(op, "_call_context_args", ()):
            return lambda *args, **kwargs: op(*args, **{**kwargs, "training": training})
        return op

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = call(layer)(x)
        return x
    inputs = keras_internals.standardize_inputs(model, inputs)
    outputs = keras_internals.run_through_graph(model, inputs, call)
    return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs


def _layer_call(layer, a, tape, records):
    """`_layer_math`, passing a Keras mask on as the layer would."""
    mask = keras_internals.get_keras_mask(a)
    outputs = _layer_math(layer, tf.convert_to_tensor(a), tape, records)
    if mask is not None:
        keras_internals.set_keras_mask(outputs, layer.compute_mask(a, mask))
    return outputs


def _layer_math(layer, a, tape, records):
    """The layer's own math on its own variables, with `z` watched before the activation."""
    if isinstance(layer, keras.layers.Embedding):
        ids = tf.cast(a, "int32") if a.dtype not in (tf.int32, tf.int64) else a
        z = tf.gather(layer.embeddings, ids)
        tape.watch(z)
        records.append((layer, ids, z))
        return z
    a = tf.cast(a, layer.compute_dtype)
    if isinstance(layer, keras.layers.LayerNormalization):
        x_hat = keras.ops.layer_normalization(a, None, None, layer.axis, layer.epsilon,
                                              rms_scaling=layer.rms_scaling)
        shape = [1] * len(a.shape)
        for axis in layer.axis:
            shape[axis] = a.shape[axis]
        z = x_hat
        if layer.gamma is not None:
            z = z * tf.reshape(layer.gamma, shape)
        if layer.beta is not None:
            z = z + tf.reshape(layer.beta, shape)
        tape.watch(z)
        records.append((layer, x_hat, z))
        return z
    if isinstance(layer, keras.layers.Dense):
        z = keras.ops.matmul(a, layer.kernel)
    else:
        z = layer.convolution_op(a, layer.kernel)
    if layer.bias is not None:
        z = z + layer.bias
    tape.watch(z)
    records.append((layer, a, z))
    return z if layer.activation is None else layer.activation(z)


def ghost_gradients(model, example_losses, variables, x, *, l2_norm_clip, training=True,
                    groups=1):
    """Clipped sum of per-example gradients from one backward pass to the layer outputs.

    The norms come from each layer's `(a, g)`; the clipped sum of the
    weight gradients is then `sum_i c_i a_i^T g_i` per layer, computed from
    the same operands (no second backward pass).

    With `groups=G`, `x` holds `G` batches of the same `B` examples stacked
    along the batch axis (e.g. clean inputs, then their adversarial copies)
    and `example_losses` returns `B` losses, each of which may depend on all
    `G` rows of its example. Example `i`'s gradient is then the sum of its
    rows' contributions: its rows are put side by side (as extra positions of
    a sequence axis) before the norms, so the norm is that of the sum.

    Args:
        model: a model `find_unsupported` accepts.
        example_losses: `example_losses(y_pred) -> (B,)` per-example losses.
        variables: the trainable variables to differentiate.
        x: the batch of inputs (`G * B` rows).
        l2_norm_clip: clipping norm `C`.
        training: passed to the layers without weights (e.g. Dropout).
        groups: `G`, the number of stacked copies of the batch in `x`.

    Returns:
        `(summed, losses, y_pred, norms)`: the sum over examples of the
        gradients scaled by `c_i = min(1, C / norm_i)` (one tensor per
        variable, zeros where unreached), the `(B,)` losses, the predictions
        (`G * B` rows) and the `(B,)` per-example gradient norms before clipping.
    """
    with tf.GradientTape() as tape:
        y_pred, records = forward(model, x, training=training, tape=tape)
        losses = example_losses(y_pred)
    grads_z = tape.gradient(losses, [z for _, _, z in records])
    prepared = [(layer, _prepare(layer, a, g, groups))
                for (layer, a, _), g in zip(records, grads_z) if g is not None]
    total = tf.zeros(tf.shape(losses)[:1], losses.dtype)
    for layer, operands in prepared:
        total += tf.cast(_squared_norms(layer, operands), losses.dtype)
    norms = tf.sqrt(total)
    factors = tf.stop_gradient(clipping.clip_factors(norms, l2_norm_clip))
    sums = {}
    for layer, operands in prepared:
        for var, grad in _weighted_sums(layer, operands, factors):
            sums[id(var)] = sums[id(var)] + grad if id(var) in sums else grad
    summed = [tf.cast(sums[id(var)], var.dtype) if id(var) in sums else tf.zeros_like(var)
              for var in variables]
    return summed, losses, y_pred, norms
