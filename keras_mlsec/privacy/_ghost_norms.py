"""Per-layer-type math of the ghost path: per-example squared norms and clipped sums.

Each weighted layer recorded by `ghost_clipping.forward` gives its input `a`
and the gradient `g` of the losses at its pre-activation output. `_prepare`
turns them into the operands of the layer type (Dense, Conv2D, Embedding or
LayerNormalization); `_squared_norms` gives the `(B,)` squared per-example
gradient norms of the layer's weights and `_weighted_sums` the
`sum_i c_i grad_i` of each of its variables, from the same operands.
"""

import keras
import tensorflow as tf


def _flat(t, rank):
    """`(B, ..., d)` -> `(B, T, d)` (rank 3) or `(B, n)` (rank 2)."""
    batch = t.shape[0] if t.shape[0] is not None else tf.shape(t)[0]
    if rank == 2:
        return tf.reshape(t, [batch, -1])
    last = t.shape[-1] if t.shape[-1] is not None else tf.shape(t)[-1]
    return tf.reshape(t, [batch, -1, last])


def _rows_squared(t):
    return tf.reduce_sum(tf.square(_flat(t, 2)), axis=1)


def _product_norms(a, g):
    """Squared Frobenius norm of `a_i^T g_i` per example, for `(B, T, p)` and `(B, T, q)`.

    Ghost norm `sum (a a^T) * (g g^T)` when `T^2 <= p * q`, else the direct product.
    """
    steps, p, q = a.shape[1], a.shape[2], g.shape[2]
    if steps is not None and steps == 1:
        return _rows_squared(a) * _rows_squared(g)
    if steps is not None and steps * steps <= p * q:
        aa = tf.matmul(a, a, transpose_b=True)
        gg = tf.matmul(g, g, transpose_b=True)
        return tf.reduce_sum(_flat(aa * gg, 2), axis=1)
    return _rows_squared(tf.matmul(a, g, transpose_a=True))


def _prepare(layer, a, g):
    """Operands of the norm and sum: `(ids, g)`, `(x_hat, g)` or `(B, T, d)` `(a, g)`."""
    g = tf.convert_to_tensor(g)
    if isinstance(layer, keras.layers.Embedding):
        return _flat(tf.expand_dims(a, -1), 3)[:, :, 0], _flat(g, 3)
    if isinstance(layer, keras.layers.LayerNormalization):
        return a, g
    if isinstance(layer, keras.layers.Conv2D):  # patches ordered (kh, kw, c_in) like the kernel
        kh, kw = layer.kernel_size
        sh, sw = layer.strides
        dh, dw = layer.dilation_rate
        a = tf.image.extract_patches(a, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                                     rates=[1, dh, dw, 1], padding=layer.padding.upper())
    return _flat(a, 3), _flat(g, 3)


def _norm_axes(layer, g):
    rank = len(g.shape)
    axes = [axis % rank for axis in layer.axis]
    return [axis for axis in range(1, rank) if axis not in axes]


def _squared_norms(layer, a, g):
    """`(B,)` squared per-example gradient norm of a layer's weights, from `_prepare`d operands."""
    if isinstance(layer, keras.layers.Embedding):
        same = tf.cast(tf.equal(a[:, :, None], a[:, None, :]), g.dtype)
        gg = tf.matmul(g, g, transpose_b=True)
        return tf.reduce_sum(_flat(same * gg, 2), axis=1)
    if isinstance(layer, keras.layers.LayerNormalization):
        other = _norm_axes(layer, g)
        total = tf.zeros(tf.shape(g)[:1], g.dtype)
        if layer.gamma is not None:
            total += _rows_squared(tf.reduce_sum(g * a, axis=other))
        if layer.beta is not None:
            total += _rows_squared(tf.reduce_sum(g, axis=other))
        return total
    total = _product_norms(a, g)
    if layer.bias is not None:
        total += _rows_squared(tf.reduce_sum(g, axis=1))
    return total


def _weighted_sums(layer, a, g, factors):
    """`[(variable, sum_i factors_i * grad_i)]` for one layer, from its prepared operands."""
    g = g * tf.reshape(tf.cast(factors, g.dtype), [-1] + [1] * (len(g.shape) - 1))
    if isinstance(layer, keras.layers.Embedding):
        rows = tf.math.unsorted_segment_sum(tf.reshape(g, [-1, g.shape[-1]]),
                                            tf.reshape(a, [-1]), layer.input_dim)
        return [(layer.embeddings, rows)]
    if isinstance(layer, keras.layers.LayerNormalization):
        axes = [0] + _norm_axes(layer, g)
        pairs = []
        if layer.gamma is not None:
            pairs.append((layer.gamma, tf.reshape(tf.reduce_sum(g * a, axis=axes),
                                                  layer.gamma.shape)))
        if layer.beta is not None:
            pairs.append((layer.beta, tf.reshape(tf.reduce_sum(g, axis=axes), layer.beta.shape)))
        return pairs
    kernel = tf.matmul(tf.reshape(a, [-1, a.shape[-1]]), tf.reshape(g, [-1, g.shape[-1]]),
                       transpose_a=True)
    pairs = [(layer.kernel, tf.reshape(kernel, layer.kernel.shape))]
    if layer.bias is not None:
        pairs.append((layer.bias, tf.reduce_sum(g, axis=[0, 1])))
    return pairs
