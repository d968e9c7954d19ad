"""Perturbation math: norms, projection, steepest step, random start and the PGD loop.

Everything here is pure TensorFlow, safe to call inside `tf.function`.
"""

import keras
import numpy as np
import tensorflow as tf
from cleverhans.tf2.utils import clip_eta, optimize_linear

from keras_mlsec._core import losses

_NORM_ORDER = {"linf": np.inf, "l2": 2}


def norm_order(norm):
    """Maps "linf"/"l2" to CleverHans' NumPy-style norm order."""
    return _NORM_ORDER[norm]


def input_gradient(logits_fn, x, labels, loss_fn=losses.cross_entropy, targeted=False):
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


def where_examples(mask, a, b):
    """Per-example `tf.where`: rows of `a` where the (batch,) `mask` holds, else rows of `b`."""
    mask = tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([tf.rank(a) - 1], tf.int32)], 0))
    return tf.where(mask, a, b)


def is_worse_case(success, loss, best_success, best_loss):
    """Whether a candidate beats the kept worst case: success first, then a higher loss."""
    return (success & ~best_success) | ((success == best_success) & (loss > best_loss))


def make_generator(seed):
    """A `tf.random.Generator`, seeded when `seed` is an int."""
    if seed is None:
        return tf.random.Generator.from_non_deterministic_state()
    return tf.random.Generator.from_seed(int(seed))


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


def perturb(logits_fn, x, labels, *, eps, norm, step_size, steps, clip, random=None,
            init_scale=1.0, loss_fn=losses.cross_entropy):
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
        start = random_start(random, tf.shape(x), eps * init_scale, norm)
        x_adv = clip_to_domain(x + start, clip)

    def step(x_adv):
        gradient, _, _ = input_gradient(logits_fn, x_adv, labels, loss_fn)
        x_next = x_adv + steepest_step(gradient, step_size, norm)
        x_next = clip_to_domain(x + project(x_next - x, eps, norm), clip)
        return tf.stop_gradient(x_next)

    if isinstance(steps, int) and steps <= UNROLL_MAX_STEPS:
        for _ in range(steps):
            x_adv = step(x_adv)
    else:
        _, x_adv = tf.while_loop(lambda i, _: i < steps, lambda i, x_adv: (i + 1, step(x_adv)),
                                 (tf.constant(0), x_adv), maximum_iterations=steps)
    return tf.stop_gradient(x_adv)
