"""Per-layer-type math of the ghost path: per-example squared norms and clipped sums.

Each weighted layer recorded by `ghost_clipping.forward` gives its input `a`
and the gradient `g` of the losses at its pre-activation output. `_prepare`
turns them into the operands of the layer type (Dense, Conv2D, Embedding or
LayerNormalization, whose small per-example gradients are formed directly); `_squared_norms` gives the `(B,)` squared per-example
gradient norms of the layer's weights and `_weighted_sums` the
`sum_i c_i grad_i` of each of its variables, from the same operands.
"""

import keras
import tensorflow as tf


def _flat(t, rank):
    """`(B, ..., d)` -> `(B, T, d)` (rank 3) or `(B, n)` (rank 2).

    Every dimension but the batch keeps its static size where it is known, so
    the choice between the ghost norm and the direct product below is made at
    trace time even when the batch dimension is unknown (a `-1` next to an
    unknown batch would leave `T` unknown and force the costlier direct form).
    """
    shape = t.shape
    batch = shape[0] if shape[0] is not None else tf.shape(t)[0]
    if rank == 2:
        inner = shape[1:].num_elements()
        return tf.reshape(t, [batch, -1 if inner is None else inner])
    steps = shape[1:-1].num_elements()
    last = shape[-1] if shape[-1] is not None else tf.shape(t)[-1]
    return tf.reshape(t, [batch, -1 if steps is None else steps, last])


def _rows_squared(t):
    return tf.reduce_sum(tf.square(_flat(t, 2)), axis=1)


def _direct(a, g):
    """Whether the per-example products `a_i^T g_i` are cheaper than the ghost norm.

    For `(B, T, p)` and `(B, T, q)`: when `T^2 > p * q` (or `T` is unknown).
    """
    steps, p, q = a.shape[1], a.shape[2], g.shape[2]
    return steps is None or (steps > 1 and steps * steps > p * q)


def _product_norms(a, g, products):
    """Squared Frobenius norm of `a_i^T g_i` per example, for `(B, T, p)` and `(B, T, q)`.

    From the per-example `products` where `_prepare` formed them, else the
    ghost norm `sum (a a^T) * (g g^T)` (`a_i . g_i` terms when `T = 1`).
    """
    if products is not None:
        return _rows_squared(products)
    if a.shape[1] == 1:
        return _rows_squared(a) * _rows_squared(g)
    aa = tf.matmul(a, a, transpose_b=True)
    gg = tf.matmul(g, g, transpose_b=True)
    return tf.reduce_sum(_flat(aa * gg, 2), axis=1)


def _merge_groups(t, groups):
    """`(G * B, T, ...)` -> `(B, G * T, ...)`: the `G` rows of each example side by side.

    Row `g * B + i` of the input is copy `g` of example `i` (stacked batches).
    """
    if groups == 1:
        return t
    static = t.shape
    shape = tf.shape(t)
    t = tf.reshape(t, tf.concat([[groups, shape[0] // groups], shape[1:]], 0))
    t = tf.transpose(t, [1, 0] + list(range(2, len(static) + 1)))
    steps = -1 if static[1] is None else groups * static[1]
    rest = [tf.shape(t)[3 + i] if dim is None else dim for i, dim in enumerate(static[2:])]
    return tf.reshape(t, [tf.shape(t)[0], steps, *rest])


def _sum_groups(rows, groups):
    """`(G * B, ...)` per-row gradients -> `(B, ...)`: each example's rows added."""
    if groups == 1:
        return rows
    shape = tf.shape(rows)
    rows = tf.reshape(rows, tf.concat([[groups, shape[0] // groups], shape[1:]], 0))
    return tf.reduce_sum(rows, axis=0)


def _prepare(layer, a, g, groups=1):
    """Operands of the norm and sum: `(ids, g)`, LayerNormalization's per-example
    gradients `(gamma_rows, beta_rows)`, or `(B, T, d)` `(a, g, products)` with the
    `(B, p, q)` per-example kernel gradients where they are cheaper than the ghost
    norm (else None; they then also give the clipped sum without a second product);
    `B` examples whatever `groups` (see `ghost_clipping.ghost_gradients`)."""
    g = tf.convert_to_tensor(g)
    if isinstance(layer, keras.layers.Embedding):
        ids = _flat(tf.expand_dims(a, -1), 3)[:, :, 0]
        return _merge_groups(ids, groups), _merge_groups(_flat(g, 3), groups)
    if isinstance(layer, keras.layers.LayerNormalization):
        # Per-example gradients of gamma and beta are small (one value per normalised
        # feature): they are formed directly.
        other = _norm_axes(layer, g)
        gamma = None if layer.gamma is None else _sum_groups(tf.reduce_sum(g * a, axis=other),
                                                             groups)
        beta = None if layer.beta is None else _sum_groups(tf.reduce_sum(g, axis=other), groups)
        return gamma, beta
    if isinstance(layer, keras.layers.Conv2D):  # patches ordered (kh, kw, c_in) like the kernel
        kh, kw = layer.kernel_size
        sh, sw = layer.strides
        dh, dw = layer.dilation_rate
        a = tf.image.extract_patches(a, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                                     rates=[1, dh, dw, 1], padding=layer.padding.upper())
    a, g = _merge_groups(_flat(a, 3), groups), _merge_groups(_flat(g, 3), groups)
    return a, g, tf.matmul(a, g, transpose_a=True) if _direct(a, g) else None


def _norm_axes(layer, g):
    rank = len(g.shape)
    axes = [axis % rank for axis in layer.axis]
    return [axis for axis in range(1, rank) if axis not in axes]


def _squared_norms(layer, operands):
    """`(B,)` squared per-example gradient norm of a layer's weights, from `_prepare`d operands."""
    if isinstance(layer, keras.layers.Embedding):
        a, g = operands
        same = tf.cast(tf.equal(a[:, :, None], a[:, None, :]), g.dtype)
        gg = tf.matmul(g, g, transpose_b=True)
        return tf.reduce_sum(_flat(same * gg, 2), axis=1)
    if isinstance(layer, keras.layers.LayerNormalization):
        return sum(_rows_squared(rows) for rows in operands if rows is not None)
    a, g, products = operands
    total = _product_norms(a, g, products)
    if layer.bias is not None:
        total += _rows_squared(tf.reduce_sum(g, axis=1))
    return total


def _weighted_sums(layer, operands, factors):
    """`[(variable, sum_i factors_i * grad_i)]` for one layer, from its prepared operands."""
    if isinstance(layer, keras.layers.LayerNormalization):
        pairs = []
        for var, rows in zip((layer.gamma, layer.beta), operands):
            if rows is not None:
                summed = tf.tensordot(tf.cast(factors, rows.dtype), rows, axes=1)
                pairs.append((var, tf.reshape(summed, var.shape)))
        return pairs
    a, g = operands[:2]
    g = g * tf.reshape(tf.cast(factors, g.dtype), [-1] + [1] * (len(g.shape) - 1))
    if isinstance(layer, keras.layers.Embedding):
        rows = tf.math.unsorted_segment_sum(tf.reshape(g, [-1, g.shape[-1]]),
                                            tf.reshape(a, [-1]), layer.input_dim)
        return [(layer.embeddings, rows)]
    products = operands[2]
    if products is not None:  # the per-example gradients exist: weigh and add them
        kernel = tf.tensordot(tf.cast(factors, products.dtype), products, axes=1)
    else:
        kernel = tf.matmul(tf.reshape(a, [-1, a.shape[-1]]), tf.reshape(g, [-1, g.shape[-1]]),
                           transpose_a=True)
    pairs = [(layer.kernel, tf.reshape(kernel, layer.kernel.shape))]
    if layer.bias is not None:
        pairs.append((layer.bias, tf.reduce_sum(g, axis=[0, 1])))
    return pairs
