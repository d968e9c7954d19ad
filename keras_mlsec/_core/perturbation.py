"""Perturbation math: norms, projection, steepest step, random start and the PGD loop.

Everything here is pure TensorFlow, safe to call inside `tf.function`.
"""

import keras
import numpy as np
import tensorflow as tf
from cleverhans.tf2.attacks.fast_gradient_method import fast_gradient_method
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

    Lets `random_start` draw from a seed generator a Keras model
    tracks (saved with it, safe inside a compiled `train_step`).
    """

    def __init__(self, seed_generator):
        self.seed_generator = seed_generator

    def uniform(self, shape, minval=0.0, maxval=1.0):
        return keras.random.uniform(shape, minval, maxval, seed=self.seed_generator)

    def normal(self, shape):
        return keras.random.normal(shape, seed=self.seed_generator)


# Up to this many steps the in-graph loop is unrolled. On CPU, a compiled training step
# whose attack runs in a `tf.while_loop` was about 1.2x slower than the same step unrolled
# in half of the model instances measured (benchmarks/RESULTS.md).
UNROLL_MAX_STEPS = 20


def into_ball(x_adv, x, eps, norm, clip):
    """Projects `x_adv` onto the `norm` ball of radius `eps` around `x`, then into `clip`."""
    return clip_to_domain(x + project(x_adv - x, eps, norm), clip)


def random_point(random, x, eps, norm, clip):
    """A uniform random point of the `eps` ball around `x`, clipped to the domain.

    Args:
        random: an object with `uniform`/`normal` (`tf.random.Generator` or `KerasRandom`).
    """
    return clip_to_domain(x + random_start(random, tf.shape(x), eps, norm), clip)


def _cleverhans_loss(loss_fn):
    if loss_fn is None or loss_fn is losses.cross_entropy:
        return None  # CleverHans' default: the sparse softmax cross-entropy
    return lambda labels, logits: loss_fn(labels, logits)


def projected_step(logits_fn, x_adv, x, labels, *, eps, step_size, norm, clip,
                   targeted=False, loss_fn=None, eot_samples=1, gradient=None):
    """One projected steepest-ascent step: THE step of FGSM, BIM, PGD and their kin.

    `x_adv` moves by `step_size` along the steepest-ascent direction of the
    per-example loss under `norm` (the sign of the gradient for "linf", the
    normalised gradient for "l2"; CleverHans' `optimize_linear`), is clipped
    to the domain, projected back onto the `eps` ball around `x` (CleverHans'
    `clip_eta`) and clipped to the domain again. The gradient comes from
    CleverHans' `fast_gradient_method`, or is averaged over `eot_samples`
    forward/backward passes (Expectation over Transformation), or is given.

    Args:
        logits_fn: callable `x -> logits` (see `models.logits_function`).
        x_adv: the current iterate.
        x: the clean batch (centre of the ball).
        labels: what `loss_fn` receives as its first argument (sparse labels
            for the cross-entropy, target classes when `targeted`).
        eps: ball radius.
        step_size: step length (a scalar or a tensor broadcasting per example).
        norm: "linf" or "l2".
        clip: `(min, max)` input domain, or None.
        targeted: descend the loss (move towards `labels`) instead of ascending it.
        loss_fn: per-example objective `(labels, logits) -> (batch,)`; None is
            the cross-entropy.
        eot_samples: average the gradient over this many passes (random models).
        gradient: a gradient already computed by the caller (its own
            objective); `logits_fn`, `labels`, `loss_fn` and `eot_samples` are
            then unused.

    Returns:
        The next iterate, inside the ball and the domain.
    """
    if gradient is None and eot_samples == 1:
        clip_min, clip_max = clip if clip is not None else (None, None)
        x_next = fast_gradient_method(
            logits_fn, x_adv, step_size, norm_order(norm), loss_fn=_cleverhans_loss(loss_fn),
            clip_min=clip_min, clip_max=clip_max, y=labels, targeted=targeted,
            sanity_checks=False)
        return into_ball(x_next, x, eps, norm, clip)
    if gradient is None:
        loss_fn = loss_fn or losses.cross_entropy
        gradients = [input_gradient(logits_fn, x_adv, labels, loss_fn, targeted)[0]
                     for _ in range(eot_samples)]
        gradient = gradients[0] if eot_samples == 1 else tf.add_n(gradients) / float(eot_samples)
    x_next = clip_to_domain(x_adv + steepest_step(gradient, step_size, norm), clip)
    return into_ball(x_next, x, eps, norm, clip)


def iterate(step, x_adv, steps):
    """THE iteration loop: `steps` applications of `step` (`x_adv -> x_adv`).

    Eagerly, or inside a graph with a Python int `steps` up to
    `UNROLL_MAX_STEPS`, a Python loop (driving a compiled step from Python is
    the fastest form measured on CPU; unrolled in a graph); otherwise a
    `tf.while_loop`.
    """
    if isinstance(steps, int) and (steps <= UNROLL_MAX_STEPS or tf.executing_eagerly()):
        for _ in range(steps):
            x_adv = step(x_adv)
        return x_adv
    _, x_adv = tf.while_loop(lambda i, _: i < steps, lambda i, x_adv: (i + 1, step(x_adv)),
                             (tf.constant(0), x_adv), maximum_iterations=steps)
    return x_adv


def perturb(logits_fn, x, labels, *, eps, norm, step_size, steps, clip, random=None,
            init_scale=1.0, loss_fn=losses.cross_entropy, targeted=False, eot_samples=1,
            start=None):
    """Maximises `loss_fn(labels, logits_fn(x_adv))` over the `norm` ball of radius `eps`.

    The whole PGD loop (random start, `steps` x `projected_step`) in one
    call, safe inside `tf.function` (adversarial training runs it in its
    `train_step`); the attacks run the same step and loop from Python.

    Args:
        logits_fn: callable `x -> logits` (see `models.logits_function`,
            which runs the model in inference mode).
        x: float input batch (a tensor).
        labels: what `loss_fn` receives as its first argument (sparse labels
            for the cross-entropy, clean probabilities for the KL).
        eps: ball radius (> 0).
        norm: "linf" or "l2".
        step_size: length of each steepest-ascent step.
        steps: number of steps (int >= 1, or an int tensor).
        clip: `(min, max)` input domain, or None.
        random: an object with `uniform`/`normal` (`tf.random.Generator` or
            `KerasRandom`) for the random start; None starts at `x`.
        init_scale: the random start is drawn from the ball of radius
            `init_scale * eps` (1.0 for PGD / FGSM-RS, small for TRADES).
        loss_fn: per-example objective `(labels, logits) -> (batch,)`.
        targeted: descend the loss instead (move towards `labels`).
        eot_samples: average each step's gradient over this many passes.
        start: the first iterate (overrides `random`), e.g. a start drawn
            outside the graph.

    Returns:
        The adversarial batch, with `x_adv - x` inside the ball and `x_adv`
        inside `clip`; no gradient flows back through it.
    """
    x = tf.stop_gradient(tf.convert_to_tensor(x, tf.float32))
    eps = tf.cast(eps, tf.float32)
    step_size = tf.cast(step_size, tf.float32)
    x_adv = x
    if start is not None:
        x_adv = tf.convert_to_tensor(start, tf.float32)
    elif random is not None:
        x_adv = random_point(random, x, eps * init_scale, norm, clip)

    def step(x_adv):
        return tf.stop_gradient(projected_step(
            logits_fn, x_adv, x, labels, eps=eps, step_size=step_size, norm=norm, clip=clip,
            targeted=targeted, loss_fn=loss_fn, eot_samples=eot_samples))

    return tf.stop_gradient(iterate(step, x_adv, steps))


def perturb_momentum(logits_fn, x, labels, *, eps, norm, step_size, steps, clip,
                     decay_factor=1.0, start=None, loss_fn=losses.cross_entropy):
    """The Momentum Iterative Method's loop (MI-FGSM), in the graph.

    Each step divides the input gradient by its per-example mean absolute
    value, accumulates it in `momentum = decay_factor * momentum + gradient`
    and takes a steepest step of `step_size` along the momentum, then
    projects onto the `norm` ball and into `clip` (as CleverHans'
    `momentum_iterative_method`, which `keras_mlsec.attacks.mim` runs).

    Args:
        logits_fn, x, labels, eps, norm, step_size, steps, clip, loss_fn: as
            for `perturb` (`steps` a Python int).
        decay_factor: momentum decay `mu` (1.0 in the paper).
        start: the first point (default `x`, as MIM).

    Returns:
        The adversarial batch; no gradient flows back through it.

    Reference:
        Dong et al., "Boosting Adversarial Attacks with Momentum", CVPR 2018.
    """
    x = tf.stop_gradient(tf.convert_to_tensor(x, tf.float32))
    eps, step_size = tf.cast(eps, tf.float32), tf.cast(step_size, tf.float32)
    to_ball = lambda point: into_ball(point, x, eps, norm, clip)  # noqa: E731
    axes = list(range(1, len(x.shape)))

    def step(state):
        x_adv, momentum = state
        gradient, _, _ = input_gradient(logits_fn, x_adv, labels, loss_fn)
        scale = tf.maximum(tf.reduce_mean(tf.abs(gradient), axes, keepdims=True), 1e-12)
        momentum = decay_factor * momentum + gradient / scale
        x_next = to_ball(x_adv + steepest_step(momentum, step_size, norm))
        return tf.stop_gradient(x_next), momentum

    x0 = x if start is None else tf.stop_gradient(start)
    x_adv, _ = iterate(step, (x0, tf.zeros_like(x)), int(steps))
    return tf.stop_gradient(x_adv)


def apgd_checkpoints(steps):
    """Iterations where APGD may halve its step: `w_j = ceil(p_j * steps)`, `p_0 = 0`.

    `p_1 = 0.22`, `p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`. Returns a
    length-`steps` int list holding `w_j - w_{j-1}` at each `w_j`, 0 elsewhere.
    """
    fractions = [0.0, 0.22]
    while fractions[-1] < 1.0:
        fractions.append(fractions[-1] + max(fractions[-1] - fractions[-2] - 0.03, 0.06))
    lengths, previous = [0] * steps, 0
    for fraction in fractions[1:]:
        w = int(np.ceil(fraction * steps - 1e-9))
        if previous < w < steps:
            lengths[w], previous = w - previous, w
    return lengths


APGD_MOMENTUM = 0.75  # alpha of Croce and Hein 2020


def perturb_apgd(logits_fn, x, labels, *, eps, norm, steps, clip, rho=0.75, start=None,
                 loss_fn=losses.cross_entropy):
    """One run of Auto-PGD, step-size schedule and momentum included, in the graph.

    The step starts at `2 * eps`; at the checkpoints of `apgd_checkpoints` it
    is halved for the examples where fewer than `rho` of the steps since the
    last checkpoint raised the loss, or where neither the step nor the best
    loss changed since then, and those restart from their best point. Each
    step mixes the projected gradient step with the last move (momentum 0.75
    after the first step). The kept example is the worst case seen: a
    misclassified point first (for integer `labels`), then the highest loss.

    Args:
        logits_fn, x, labels, eps, norm, clip, loss_fn: as for `perturb`.
        steps: iterations (a Python int), one gradient each plus one at the start.
        rho: fraction of loss-raising steps under which the step is halved.
        start: the first point (APGD draws it uniformly in the ball; default `x`).

    Returns:
        The adversarial batch; no gradient flows back through it.

    Reference:
        Croce and Hein, "Reliable evaluation of adversarial robustness with an
        ensemble of diverse parameter-free attacks", ICML 2020.
    """
    x = tf.stop_gradient(tf.convert_to_tensor(x, tf.float32))
    eps = tf.cast(eps, tf.float32)
    to_ball = lambda point: into_ball(point, x, eps, norm, clip)  # noqa: E731
    per_example = [-1] + [1] * (len(x.shape) - 1)
    lengths = tf.constant(apgd_checkpoints(int(steps)), tf.float32)
    with_success = tf.convert_to_tensor(labels).dtype.is_integer

    def value_and_grad(x_adv):
        gradient, value, logits = input_gradient(logits_fn, x_adv, labels, loss_fn)
        if with_success:
            success = tf.argmax(logits, -1, output_type=labels.dtype) != labels
        else:
            success = tf.zeros_like(value, tf.bool)
        return tf.stop_gradient(value), tf.stop_gradient(gradient), success

    def body(k, x_k, x_prev, f_k, g_k, eta, x_max, f_max, g_max, count, reduced_last, f_last,
             x_out, s_out, f_out):
        z = to_ball(x_k + steepest_step(g_k, tf.reshape(eta, per_example), norm))
        alpha = tf.where(k == 0, 1.0, APGD_MOMENTUM)
        x_next = tf.stop_gradient(to_ball(x_k + alpha * (z - x_k) + (1.0 - alpha) * (x_k - x_prev)))
        f_next, g_next, s_next = value_and_grad(x_next)
        count += tf.cast(f_next > f_k, tf.float32)
        improved = f_next > f_max
        x_max = where_examples(improved, x_next, x_max)
        g_max = where_examples(improved, g_next, g_max)
        f_max = tf.where(improved, f_next, f_max)
        worse = is_worse_case(s_next, f_next, s_out, f_out)
        x_out = where_examples(worse, x_next, x_out)
        f_out, s_out = tf.where(worse, f_next, f_out), s_out | s_next
        length = tf.gather(lengths, k)
        at_check = length > 0
        reduce = at_check & ((count < rho * length) | (~reduced_last & (f_max <= f_last)))
        eta = tf.where(reduce, eta / 2.0, eta)
        x_new = where_examples(reduce, x_max, x_next)
        x_prev = where_examples(reduce, x_max, x_k)
        g_k = where_examples(reduce, g_max, g_next)
        f_k = tf.where(reduce, f_max, f_next)
        count = tf.where(at_check, tf.zeros_like(count), count)
        reduced_last = tf.where(at_check, reduce, reduced_last)
        f_last = tf.where(at_check, f_max, f_last)
        return (k + 1, x_new, x_prev, f_k, g_k, eta, x_max, f_max, g_max, count, reduced_last,
                f_last, x_out, s_out, f_out)

    x0 = x if start is None else tf.stop_gradient(start)
    f0, g0, s0 = value_and_grad(x0)
    state = (tf.constant(0), x0, x0, f0, g0, 2.0 * eps * tf.ones_like(f0), x0, f0, g0,
             tf.zeros_like(f0), tf.zeros_like(s0), f0, x0, s0, f0)
    out = tf.while_loop(lambda k, *_: k < int(steps), body, state,
                        maximum_iterations=int(steps))
    return tf.stop_gradient(out[12])
