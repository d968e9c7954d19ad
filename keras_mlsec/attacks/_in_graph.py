"""The in-graph perturbation loop used where an attack runs inside `tf.function`.

Adversarial training builds its adversarial batch inside Keras' compiled
`train_step`, where the public attack functions (NumPy validation, Python
loops over batches) cannot run. This module is that loop as pure tensor
code, assembled from the pieces in `_gradients`: an optional random start,
then `steps` steepest-ascent steps, each projected back onto the eps ball
and clipped to the input domain (unrolled up to `UNROLL_MAX_STEPS` steps, a
`tf.while_loop` beyond, so the graph stays small for any `steps`).
Arguments are validated by the caller.
"""

import keras
import tensorflow as tf

from keras_mlsec.attacks import _gradients as g


class KerasRandom:
    """`tf.random.Generator`-like `uniform`/`normal` on a `keras.random.SeedGenerator`.

    Lets `_gradients.random_start` draw from a seed generator a Keras model
    tracks (saved with it, safe inside a compiled `train_step`).
    """

    def __init__(self, seed_generator):
        self.seed_generator = seed_generator

    def uniform(self, shape, minval=0.0, maxval=1.0):
        return keras.random.uniform(shape, minval, maxval, seed=self.seed_generator)

    def normal(self, shape):
        return keras.random.normal(shape, seed=self.seed_generator)


# Up to this many steps the loop is unrolled in the graph. On CPU, a compiled training
# step whose attack runs in a `tf.while_loop` was about 1.2x slower than the same step
# unrolled in half of the model instances measured (benchmarks/RESULTS.md).
UNROLL_MAX_STEPS = 20


def sparse_labels(y):
    """Sparse int32 labels from sparse `(n,)`/`(n, 1)` or one-hot `(n, classes)` labels."""
    y = tf.convert_to_tensor(y)
    if y.shape.rank is not None and y.shape.rank >= 2 and y.shape[-1] not in (None, 1):
        return tf.argmax(y, axis=-1, output_type=tf.int32)
    return tf.cast(tf.reshape(y, [-1]), tf.int32)


def kl_divergence(p_clean, logits):
    """Per-example KL(p_clean || softmax(logits)), the TRADES objective."""
    log_q = tf.nn.log_softmax(logits, axis=-1)
    log_p = tf.math.log(tf.clip_by_value(p_clean, 1e-12, 1.0))
    return tf.reduce_sum(p_clean * (log_p - log_q), axis=-1)


def perturb(logits_fn, x, labels, *, eps, norm, step_size, steps, clip, random=None,
            init_scale=1.0, loss_fn=g.cross_entropy):
    """Maximises `loss_fn(labels, logits_fn(x_adv))` over the `norm` ball of radius `eps`.

    Args:
        logits_fn: callable `x -> logits` (see `_gradients.logits_function`,
            which runs the model in inference mode).
        x: float input batch (a tensor).
        labels: what `loss_fn` receives as its first argument (sparse labels
            for the cross-entropy, clean probabilities for the KL).
        eps: ball radius (> 0).
        norm: "linf" or "l2".
        step_size: length of each steepest-ascent step.
        steps: number of steps (int >= 1).
        clip: `(min, max)` input domain, or None.
        random: an object with `uniform`/`normal` (`tf.random.Generator` or
            `KerasRandom`) for the random start; None starts at `x`.
        init_scale: the random start is drawn from the ball of radius
            `init_scale * eps` (1.0 for PGD / FGSM-RS, small for TRADES).
        loss_fn: per-example objective `(labels, logits) -> (batch,)`.

    Returns:
        The adversarial batch, with `x_adv - x` inside the ball and `x_adv`
        inside `clip`; no gradient flows back through it.
    """
    x = tf.stop_gradient(tf.convert_to_tensor(x, tf.float32))
    eps = tf.cast(eps, tf.float32)
    step_size = tf.cast(step_size, tf.float32)
    x_adv = x
    if random is not None:
        start = g.random_start(random, tf.shape(x), eps * init_scale, norm)
        x_adv = g.clip_to_domain(x + start, clip)

    def step(x_adv):
        gradient, _, _ = g.input_gradient(logits_fn, x_adv, labels, loss_fn)
        x_next = x_adv + g.steepest_step(gradient, step_size, norm)
        x_next = g.clip_to_domain(x + g.project(x_next - x, eps, norm), clip)
        return tf.stop_gradient(x_next)

    if isinstance(steps, int) and steps <= UNROLL_MAX_STEPS:
        for _ in range(steps):
            x_adv = step(x_adv)
    else:
        _, x_adv = tf.while_loop(lambda i, _: i < steps, lambda i, x_adv: (i + 1, step(x_adv)),
                                 (tf.constant(0), x_adv), maximum_iterations=steps)
    return tf.stop_gradient(x_adv)
