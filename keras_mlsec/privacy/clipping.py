"""The math of DP-SGD, as pure functions of tensors (TensorFlow backend).

Per-example (or per-microbatch) gradients are computed with
`tf.vectorized_map` over the batch: each example runs its own forward and
backward pass, vectorized into one batched computation (no Jacobian, no
Python loop). Each gradient is clipped to a global L2 norm over all
variables, the clipped gradients are summed, Gaussian noise of std
`l2_norm_clip * noise_multiplier` is added to the sum and the result is
divided by the number of microbatches (Abadi et al. 2016).

With microbatches of one example (the default) the sensitivity of the sum to
adding or removing one example is `l2_norm_clip`, so the noise multiplier is
the one the accountant expects. With `num_microbatches` set, the gradient
averaged over each microbatch is clipped instead: the sensitivity is then
`l2_norm_clip` for adding or removing a whole microbatch, so the accounted
guarantee is per microbatch (as in tensorflow-privacy); for one example
changing inside a microbatch the change can reach `2 * l2_norm_clip`.
"""

import math

import tensorflow as tf

_TINY = 1e-12


def split_microbatches(data, num_microbatches):
    """Reshapes every tensor in `data` from `(batch, ...)` to `(m, batch / m, ...)`.

    `num_microbatches=None` means one example per microbatch. A batch whose
    size is not a multiple of `num_microbatches` (such as the last, partial
    batch of an epoch) is split into single examples instead: per-example
    clipping bounds each example's contribution at least as tightly.
    """
    def split(tensor):
        tensor = tf.convert_to_tensor(tensor)
        if num_microbatches is None:
            return tf.expand_dims(tensor, 1)
        batch = tf.shape(tensor)[0]
        count = tf.where(tf.equal(batch % num_microbatches, 0), num_microbatches, batch)
        new_shape = tf.concat([[count, batch // count], tf.shape(tensor)[1:]], axis=0)
        return tf.reshape(tensor, new_shape)

    return tf.nest.map_structure(split, data)


def merge_microbatches(tensor):
    """Inverse of `split_microbatches` for one tensor: `(m, k, ...)` to `(m * k, ...)`."""
    shape = tf.shape(tensor)
    return tf.reshape(tensor, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))


def microbatch_gradients(loss_fn, variables, microbatches):
    """Gradients of `loss_fn` for every microbatch, vectorized.

    Args:
        loss_fn: `loss_fn(microbatch) -> (scalar loss, predictions)`, where
            `microbatch` has the structure of one element of `microbatches`.
        variables: the variables to differentiate (a list).
        microbatches: nested tensors with leading axes `(m, k, ...)`.

    Returns:
        `(gradients, losses, predictions)`: a list with one `(m, *var.shape)`
        tensor per variable (zeros for variables the loss does not reach),
        the `(m,)` losses and the `(m, k, ...)` predictions.
    """
    def one(microbatch):
        with tf.GradientTape() as tape:
            loss, predictions = loss_fn(microbatch)
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros_like(var) if g is None else tf.convert_to_tensor(g)
                 for g, var in zip(grads, variables)]
        return grads, loss, predictions

    return tf.vectorized_map(one, microbatches, fallback_to_while_loop=True)


def global_norms(gradients):
    """Per-row L2 norm of a list of `(m, ...)` gradients, taken over all variables."""
    squares = [tf.reduce_sum(tf.reshape(tf.square(g), [tf.shape(g)[0], -1]), axis=1)
               for g in gradients]
    return tf.sqrt(tf.add_n(squares))


def clip_factors(norms, l2_norm_clip):
    """`min(1, l2_norm_clip / norm)`: the scale that brings each norm to at most the clip."""
    norms = tf.convert_to_tensor(norms)
    clip = tf.cast(l2_norm_clip, norms.dtype)
    return tf.minimum(tf.ones_like(norms), clip / tf.maximum(norms, _TINY))


def clip_and_sum(gradients, l2_norm_clip):
    """Clips every row of the `(m, ...)` gradients to `l2_norm_clip`, then sums over rows.

    Returns:
        `(summed, norms)`: the list of clipped sums and the `(m,)` norms before clipping.
    """
    norms = global_norms(gradients)
    factors = clip_factors(norms, l2_norm_clip)
    summed = [tf.tensordot(tf.cast(factors, g.dtype), g, axes=1) for g in gradients]
    return summed, norms


def add_gaussian_noise(tensors, stddev, seed):
    """Adds independent `N(0, stddev^2)` noise to each tensor of a list.

    Args:
        tensors: list of tensors.
        stddev: noise standard deviation (`l2_norm_clip * noise_multiplier`).
        seed: a `keras.random.SeedGenerator` (a fresh draw on every call) or an int.
    """
    if stddev == 0:
        return list(tensors)
    tensors = [tf.convert_to_tensor(t) for t in tensors]
    static = all(t.shape.is_fully_defined() for t in tensors)
    sizes = [t.shape.num_elements() if static else tf.size(t) for t in tensors]
    wide = any(t.dtype == tf.float64 for t in tensors)
    noise = standard_normal(sum(sizes) if static else tf.add_n(sizes), seed,
                            "float64" if wide else "float32")
    parts = tf.split(noise, sizes) if len(tensors) > 1 else [noise]
    return [t + tf.cast(stddev * tf.reshape(part, tf.shape(t)), t.dtype)
            for t, part in zip(tensors, parts)]


def standard_normal(size, seed, dtype="float32"):
    """`size` independent N(0, 1) draws: the Box-Muller transform of one uniform draw.

    `z = sqrt(-2 ln u1) * (cos, sin)(2 pi u2)` is exactly normal for
    independent uniform `u1` in (0, 1] and `u2` in [0, 1); each pair gives
    two independent draws. It is the transform TensorFlow's own normal
    sampler applies element by element, here on whole tensors, which costs
    a CPU about a quarter less (the noise is a large part of a small model's
    DP-SGD step). Float32 uniforms have 2^-23 resolution, so draws lie
    within about 5.6 standard deviations, as TensorFlow's do.

    Args:
        size: number of draws (int or scalar int tensor).
        seed: a `keras.random.SeedGenerator` or an int.
        dtype: "float32" or "float64".
    """
    import keras

    half = (size + 1) // 2
    uniform = keras.random.uniform(tf.stack([2, half]) if tf.is_tensor(half) else [2, half],
                                   seed=seed, dtype=dtype)
    radius = tf.sqrt(-2.0 * tf.math.log1p(-uniform[0]))  # 1 - u1 is in (0, 1]
    angle = (2.0 * math.pi) * uniform[1]
    return tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], 0)[:size]


def private_gradients(loss_fn, variables, data, *, l2_norm_clip, noise_multiplier,
                      num_microbatches=None, seed=None, denominator=None):
    """The DP-SGD gradient: per-microbatch gradients clipped, summed, noised and averaged.

    Args:
        loss_fn: `loss_fn(microbatch) -> (scalar loss, predictions)`.
        variables: list of trainable variables.
        data: nested `(batch, ...)` tensors (e.g. `(x, y, sample_weight)`).
        l2_norm_clip: clipping norm `C`.
        noise_multiplier: `sigma`; the noise std on the sum is `C * sigma`.
        num_microbatches: `None` for per-example clipping, else the number of
            microbatches the batch is split into.
        seed: `keras.random.SeedGenerator` or int for the noise.
        denominator: what the noisy sum is divided by; None (or a value
            <= 0) divides by the number of microbatches (at least 1, so an
            empty batch gives pure noise). Poisson sampling passes the
            expected batch size.

    Returns:
        `(gradients, losses, predictions)`: the noisy mean gradient (one
        tensor per variable), the per-microbatch losses and the predictions
        for the whole batch in the original order.
    """
    microbatches = split_microbatches(data, num_microbatches)
    grads, losses, predictions = microbatch_gradients(loss_fn, variables, microbatches)
    summed, _ = clip_and_sum(grads, l2_norm_clip)
    mean = noisy_mean(summed, tf.shape(losses)[0], l2_norm_clip=l2_norm_clip,
                      noise_multiplier=noise_multiplier, seed=seed, denominator=denominator)
    predictions = tf.nest.map_structure(merge_microbatches, predictions)
    return mean, losses, predictions


def noisy_mean(summed, count, *, l2_norm_clip, noise_multiplier, seed=None, denominator=None):
    """Adds `N(0, (C * sigma)^2)` noise to the clipped sums and divides them.

    The divisor is `denominator` when it is given and > 0 (Poisson
    sampling's expected batch size; it may be a variable read at run time),
    else `max(count, 1)` (so an empty batch gives pure noise).
    """
    noisy = add_gaussian_noise(summed, l2_norm_clip * noise_multiplier, seed)
    actual = tf.cast(tf.maximum(count, 1), tf.float32)
    if denominator is None:
        divisor = actual
    else:
        denominator = tf.cast(denominator, tf.float32)
        divisor = tf.where(denominator > 0, denominator, actual)
    return [g / tf.cast(divisor, g.dtype) for g in noisy]
