"""Square Attack (Andriushchenko et al. 2020): score-based black-box, L-inf.

It only ever calls the model forward: no gradient is taken anywhere. All
queries of a batch run in one `tf.while_loop` in a `tf.function` compiled once
per (model, targeted, clip, input shape); each iteration queries the model on
the examples not yet fooled only, and the loop ends when all are fooled.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_mlsec._core import validation as v
from keras_mlsec._core import losses, perturbation
from keras_mlsec.attacks.base import Attack, check_common, run_batched
from keras_mlsec._core.models import compiled
from keras_mlsec._core.perturbation import make_generator

# Iterations (out of 10,000) after which the paper halves the square fraction p.
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def fraction_schedule(p_init, steps):
    """Fraction of the input changed at each iteration: p_init halved at the paper's
    iterations {10, 50, 200, ..., 8000} of 10,000, rescaled to `steps`."""
    return [p_init / 2 ** sum(int(i / steps * 10000) > b for b in _HALVINGS)
            for i in range(steps)]


def grid_shape(shape):
    """(height, width, channels) a per-example shape is searched on.

    `(h, w, c)` images as they are, `(h, w)` as one channel; any other shape
    (tabular `(d,)` included) as a single row `(1, size, 1)`, where a "square"
    is a window of contiguous features.
    """
    if len(shape) == 3:
        return tuple(shape)
    if len(shape) == 2:
        return (shape[0], shape[1], 1)
    return (1, int(np.prod(shape)), 1)


def window_sizes(p_init, steps, grid):
    """(rows, cols) of the square at each iteration: side round(sqrt(p * h * w)) in
    [1, min(h, w) - 1] for images, length round(p * w) in [1, w - 1] for a row."""
    height, width, _ = grid
    sizes = []
    for p in fraction_schedule(p_init, steps):
        if height > 1:
            side = int(min(max(round(math.sqrt(p * height * width)), 1),
                           max(min(height, width) - 1, 1)))
            sizes.append((side, side))
        else:
            sizes.append((1, int(min(max(round(p * width), 1), max(width - 1, 1)))))
    return np.asarray(sizes, np.int32).reshape(-1, 2)


def _run_builder(logits_fn, targeted, clip, shape):
    def loss_of(x_grid, labels):
        gap = losses.margin(labels, logits_fn(tf.reshape(x_grid, [-1, *shape])))
        return -gap if targeted else gap  # below zero: goal reached

    def run(x, labels, eps, sizes, seed):
        n, height, width, channels = (tf.shape(x)[i] for i in range(4))
        stripes = tf.random.stateless_uniform(tf.stack([n, 1, width, channels]), seed, 0, 2,
                                              tf.int32)
        delta = eps * tf.cast(2 * stripes - 1, tf.float32) * tf.ones_like(x)
        loss = loss_of(perturbation.clip_to_domain(x + delta, clip), labels)

        def body(i, delta, loss):
            active = tf.where(loss >= 0)[:, 0]
            m = tf.shape(active)[0]
            rows, cols = sizes[i, 0], sizes[i, 1]
            keys = tf.random.experimental.stateless_split(
                tf.random.experimental.stateless_fold_in(seed, i + 1), 3)
            top = tf.random.stateless_uniform([m], keys[0], 0, height - rows + 1, tf.int32)
            left = tf.random.stateless_uniform([m], keys[1], 0, width - cols + 1, tf.int32)
            signs = tf.random.stateless_uniform(tf.stack([m, 1, 1, channels]), keys[2], 0, 2,
                                                tf.int32)
            r, c = tf.range(height)[None], tf.range(width)[None]
            in_rows = (r >= top[:, None]) & (r < top[:, None] + rows)
            in_cols = (c >= left[:, None]) & (c < left[:, None] + cols)
            window = in_rows[:, :, None, None] & in_cols[:, None, :, None]
            old_delta, old_loss = tf.gather(delta, active), tf.gather(loss, active)
            new_delta = tf.where(window, eps * tf.cast(2 * signs - 1, tf.float32), old_delta)
            new_loss = loss_of(perturbation.clip_to_domain(tf.gather(x, active) + new_delta, clip),
                               tf.gather(labels, active))
            better = new_loss < old_loss
            index = active[:, None]
            delta = tf.tensor_scatter_nd_update(
                delta, index, perturbation.where_examples(better, new_delta, old_delta))
            loss = tf.tensor_scatter_nd_update(loss, index, tf.where(better, new_loss, old_loss))
            return i + 1, delta, loss

        _, delta, _ = tf.while_loop(
            lambda i, _, loss: (i < tf.shape(sizes)[0]) & tf.reduce_any(loss >= 0),
            body, (tf.constant(0), delta, loss))
        return perturbation.clip_to_domain(x + delta, clip)

    return lambda: run


def square_attack(model, x, y=None, *, eps, steps=1000, p_init=0.8, targeted=False,
                  clip=(0.0, 1.0), batch_size=256, seed=None, verbose=0):
    """Square Attack: random search over squares of +-eps, black-box L-inf.

    Starts from vertical stripes of +-eps (one random sign per column and
    channel), then at each iteration sets a random square window to +-eps
    (one random sign per channel) and keeps the change only if it lowers the
    margin loss. The window covers a fraction `p` of the image, `p_init`
    halved at iterations 10, 50, 200, 500, 1k, 2k, 4k, 6k and 8k of 10k
    (rescaled to `steps`). Examples stop being queried once fooled.

    The loss is the margin `z_y - max_{i != y} z_i` on the logits (targeted:
    `max_{i != t} z_i - z_t`). For a softmax model this is exactly the margin
    of the log-probabilities, which a black-box API returning probabilities
    gives: the softmax's normaliser cancels. Only forward calls are made.

    Inputs of shape `(n, h, w, c)` are images; `(n, h, w)` one-channel
    images; anything else, `(n, d)` tables included, is one row of features
    where a "square" is a window of `round(p * d)` contiguous features and the
    stripes of the start are single features.

    Args:
        model: a single-output `keras.Model` (logits or softmax output).
        x: inputs inside `clip`.
        y: true labels (sparse or one-hot); target labels when `targeted`;
            None attacks the model's own predictions.
        eps: L-inf budget, >= 0.
        steps: queries per example (the start counts as one).
        p_init: initial fraction of the input a square covers, in (0, 1].
            The default 0.8 is AutoAttack's; on 8x8 digits it gives 7x7
            squares first. The paper uses 0.05 on ImageNet (224x224): large
            fractions suit small inputs, where a 0.05 square is 1-2 pixels.
        targeted: reach the classes in `y` instead of leaving them.
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed of the random search.
        verbose: 1 shows a progress bar.

    Returns:
        A float32 tensor of adversarial examples shaped like `x`.

    Raises:
        ValueError: for a bad `eps`, `steps`, `p_init`, domain, input or labels.
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> x_adv = square_attack(model, x_test, y_test, eps=0.1, steps=500)

    Reference:
        Andriushchenko, Croce, Flammarion and Hein, "Square Attack: a
        query-efficient black-box adversarial attack via random search",
        ECCV 2020.
    """
    p = _check(eps, steps, p_init, clip, batch_size, seed)
    targeted = bool(targeted)
    generator = make_generator(seed)
    eps_t = tf.constant(p["eps"], tf.float32)

    def attack_batch(logits_fn, xb, yb):
        if p["eps"] == 0:
            return xb
        shape = tuple(int(d) for d in xb.shape[1:])
        grid = grid_shape(shape)
        run = compiled(logits_fn, ("square", targeted, p["clip"], shape),
                       _run_builder(logits_fn, targeted, p["clip"], shape))
        sizes = tf.constant(window_sizes(p["p_init"], p["steps"], grid)[1:])
        seed_t = tf.cast(generator.make_seeds(1)[:, 0], tf.int32)
        x_adv = run(tf.reshape(xb, [-1, *grid]), yb, eps_t, sizes, seed_t)
        return tf.reshape(x_adv, tf.shape(xb))

    return run_batched(attack_batch, model, x, y, targeted=targeted, clip=p["clip"],
                       batch_size=p["batch_size"], verbose=verbose, name="SquareAttack")


def _check(eps, steps, p_init, clip, batch_size, seed):
    p = check_common(eps=eps, norm="linf", clip=clip, batch_size=batch_size, steps=steps,
                     seed=seed)
    p["p_init"] = v.check_positive(p_init, "p_init")
    if p["p_init"] > 1:
        raise ValueError(f"Expected `p_init` in (0, 1] (a fraction of the input). "
                         f"Received: p_init={p_init}")
    return p


@keras.saving.register_keras_serializable(package="keras_mlsec")
class SquareAttack(Attack):
    """Square Attack as an object; see `square_attack` for the arguments.

    Example:
        >>> x_adv = SquareAttack(eps=0.1, steps=500)(model, x, y)
    """

    attack_fn = square_attack
    name = "square"
    norms = ("linf",)
    uses_gradients = False

    def __init__(self, *, eps, steps=1000, p_init=0.8, targeted=False, clip=(0.0, 1.0),
                 batch_size=256, seed=None):
        _check(eps, steps, p_init, clip, batch_size, seed)
        self.eps = eps
        self.steps = steps
        self.p_init = p_init
        self.targeted = targeted
        self.clip = clip
        self.batch_size = batch_size
        self.seed = seed
