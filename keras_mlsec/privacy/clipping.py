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
    import keras

    if stddev == 0:
        return list(tensors)
    return [t + keras.random.normal(tf.shape(t), stddev=stddev, dtype=t.dtype, seed=seed)
            for t in tensors]


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
