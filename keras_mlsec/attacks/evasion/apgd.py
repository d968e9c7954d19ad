"""Auto-PGD (Croce and Hein 2020): step-size-free PGD with momentum, L-inf and L2.

A whole run (all steps, checkpoints and step halvings) is one `tf.while_loop`
in a `tf.function` compiled once per (model, norm, loss, mode, clip).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_mlsec._core import validation as v
from keras_mlsec._core import losses, perturbation
from keras_mlsec.attacks.base import (Attack, check_common, check_target_classes,
                                      check_target_classes_fit, run_batched)
from keras_mlsec._core.models import compiled, num_classes_of
from keras_mlsec._core.perturbation import make_generator

LOSSES = ("ce", "dlr")
_ALPHA = 0.75  # momentum weight of the paper


def checkpoints(steps):
    """Iterations where APGD may halve its step: w_j = ceil(p_j * steps), p_0 = 0.

    p_1 = 0.22 and p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06). Returns a
    length-`steps` int array holding `w_j - w_{j-1}` at each `w_j`, 0 elsewhere.
    """
    fractions = [0.0, 0.22]
    while fractions[-1] < 1.0:
        fractions.append(fractions[-1] + max(fractions[-1] - fractions[-2] - 0.03, 0.06))
    lengths = np.zeros(steps, np.int32)
    previous = 0
    for fraction in fractions[1:]:
        w = math.ceil(fraction * steps - 1e-9)
        if previous < w < steps:
            lengths[w] = w - previous
            previous = w
    return lengths


def _objective(logits_fn, loss, mode):
    def objective(x_adv, labels, targets):
        logits = logits_fn(x_adv)
        predicted = tf.argmax(logits, -1, output_type=tf.int32)
        if mode == "untargeted":
            value = (losses.cross_entropy if loss == "ce" else losses.dlr_loss)(labels, logits)
            return value, predicted != labels
        if loss == "ce":
            value = -losses.cross_entropy(targets, logits)
        else:
            if mode == "targeted":  # no true label: the strongest class other than the target
                labels = tf.argmax(logits - 1e9 * tf.one_hot(targets, tf.shape(logits)[-1]), -1,
                                   output_type=tf.int32)
            value = losses.dlr_loss(labels, logits, targets)
        return value, (predicted == targets) if mode == "targeted" else (predicted != labels)

    return objective


def _run_builder(logits_fn, norm, loss, mode, clip, samples=1):
    objective = _objective(logits_fn, loss, mode)

    def one_pass(x_adv, labels, targets):
        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            value, success = objective(x_adv, labels, targets)
            total = tf.reduce_sum(value)
        return value, tape.gradient(total, x_adv), success

    def value_and_grad(x_adv, labels, targets):
        """The loss and its gradient, averaged over `samples` passes (EOT) when > 1."""
        if samples == 1:
            return one_pass(x_adv, labels, targets)
        passes = [one_pass(x_adv, labels, targets) for _ in range(samples)]
        value = tf.add_n([p[0] for p in passes]) / float(samples)
        gradient = tf.add_n([p[1] for p in passes]) / float(samples)
        return value, gradient, passes[-1][2]

    def run(x, labels, targets, x0, eps, rho, ckpt_len):
        """One APGD run from `x0`; returns the worst case seen and its success and loss."""
        rank = len(x.shape)
        per_example = [-1] + [1] * (rank - 1)

        def body(k, x_k, x_prev, f_k, g_k, eta, x_max, f_max, g_max, count, reduced_last,
                 f_last, x_out, s_out, f_out):
            z = perturbation.projected_step(None, x_k, x, None, gradient=g_k, eps=eps, norm=norm,
                                            step_size=tf.reshape(eta, per_example), clip=clip)
            alpha = tf.where(k == 0, 1.0, _ALPHA)
            x_next = x_k + alpha * (z - x_k) + (1.0 - alpha) * (x_k - x_prev)
            x_next = perturbation.into_ball(x_next, x, eps, norm, clip)
            f_next, g_next, s_next = value_and_grad(x_next, labels, targets)
            count = count + tf.cast(f_next > f_k, tf.float32)
            improved = f_next > f_max
            x_max = perturbation.where_examples(improved, x_next, x_max)
            g_max = perturbation.where_examples(improved, g_next, g_max)
            f_max = tf.where(improved, f_next, f_max)
            worse = perturbation.is_worse_case(s_next, f_next, s_out, f_out)
            x_out = perturbation.where_examples(worse, x_next, x_out)
            f_out = tf.where(worse, f_next, f_out)
            s_out = s_out | s_next
            length = tf.cast(ckpt_len[k], tf.float32)
            at_check = length > 0
            too_few_gains = count < rho * length
            stalled = ~reduced_last & (f_max <= f_last)
            reduce = at_check & (too_few_gains | stalled)
            eta = tf.where(reduce, eta / 2.0, eta)
            x_new = perturbation.where_examples(reduce, x_max, x_next)
            x_prev = perturbation.where_examples(reduce, x_max, x_k)
            g_k = perturbation.where_examples(reduce, g_max, g_next)
            f_k = tf.where(reduce, f_max, f_next)
            count = tf.where(at_check, tf.zeros_like(count), count)
            reduced_last = tf.where(at_check, reduce, reduced_last)
            f_last = tf.where(at_check, f_max, f_last)
            return (k + 1, x_new, x_prev, f_k, g_k, eta, x_max, f_max, g_max, count,
                    reduced_last, f_last, x_out, s_out, f_out)

        f0, g0, s0 = value_and_grad(x0, labels, targets)
        eta = tf.fill(tf.shape(f0), 2.0 * eps)
        start = (tf.constant(0), x0, x0, f0, g0, eta, x0, f0, g0, tf.zeros_like(f0),
                 tf.zeros_like(s0), f0, x0, s0, f0)
        steps = tf.shape(ckpt_len)[0]
        out = tf.while_loop(lambda k, *_: k < steps, body, start)
        return out[-3], out[-2], out[-1]

    return lambda: run


def apgd(model, x, y=None, *, eps, norm="linf", steps=100, loss="ce", restarts=1, rho=0.75,
         targeted=False, num_target_classes=None, clip=(0.0, 1.0), batch_size=256, seed=None,
         eot_samples=None, verbose=0):
    """Auto-PGD: PGD with momentum and a step size that adapts itself.

    The step starts at `2 * eps` and is halved at checkpoints (22%, 41%, 57%,
    ... of `steps`) for the examples where fewer than a fraction `rho` of the
    steps since the last checkpoint raised the loss, or where neither the step
    nor the best loss changed since then; a halving restarts from the best
    point found. Steps mix the projected gradient step and the last move with
    momentum 0.75. Each run starts from a uniform random point of the ball;
    the kept example is the worst case seen (a successful point first, then
    the highest loss), over all steps and restarts.

    Args:
        model: a single-output `keras.Model` (logits or softmax output).
        x: inputs inside `clip`.
        y: true labels (sparse or one-hot); target labels when `targeted`;
            None attacks the model's own predictions.
        eps: perturbation budget, >= 0.
        norm: "linf" or "l2".
        steps: iterations per run (one gradient each, plus one at the start).
        loss: "ce" (cross-entropy) or "dlr" (Difference of Logits Ratio,
            invariant to the scale of the logits; needs >= 3 classes, 4 when
            targeted). Targeted "ce" descends the cross-entropy to the target;
            targeted "dlr" is the paper's targeted DLR, its true class being
            the strongest class other than the target.
        restarts: independent runs from new random starts; worst case kept.
        rho: fraction of loss-raising steps under which the step is halved.
        targeted: reach the classes in `y` instead of leaving them.
        num_target_classes: untargeted only: AutoAttack's APGD-T. Runs the
            targeted loss towards each of the `num_target_classes` classes with
            the highest clean logits after the true one (`restarts` runs each)
            and keeps the worst case for the true label.
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed of the random starts.
        eot_samples: average the loss and its input gradient at every step
            over this many forward/backward passes (Expectation over
            Transformation, for models with random layers; AutoAttack's
            "rand" version uses 20); None means 1, and lets
            `evaluate_robustness` choose EOT for models with random layers.
        verbose: 1 shows a progress bar.

    Returns:
        A float32 tensor of adversarial examples shaped like `x`.

    Raises:
        ValueError: for a bad budget, `loss`, `norm`, `rho`, `num_target_classes`
            (or too few classes for it or for DLR), domain, input or labels.
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> x_adv = apgd(model, x_test, y_test, eps=8 / 255, loss="dlr", restarts=2)

    Reference:
        Croce and Hein, "Reliable evaluation of adversarial robustness with an
        ensemble of diverse parameter-free attacks", ICML 2020.
    """
    p = _check(eps, norm, steps, loss, restarts, rho, targeted, num_target_classes, clip,
               batch_size, seed, eot_samples)
    samples = p.get("eot_samples") or 1
    mode = "targeted" if targeted else ("multi" if num_target_classes else "untargeted")
    ckpt_len = tf.constant(checkpoints(p["steps"]))
    eps_t, rho_t = tf.constant(p["eps"], tf.float32), tf.constant(p["rho"], tf.float32)
    generator = make_generator(seed)

    def attack_batch(logits_fn, xb, yb):
        run = compiled(logits_fn, ("apgd", p["norm"], p["loss"], mode, p["clip"], samples),
                       _run_builder(logits_fn, p["norm"], p["loss"], mode, p["clip"], samples))
        num_classes = num_classes_of(model, logits_fn, xb)
        _check_classes(p, mode, num_classes)
        targets_list = [yb]
        if mode == "multi":
            ranked = tf.argsort(logits_fn(xb) - 1e9 * tf.one_hot(yb, num_classes),
                                -1, direction="DESCENDING", stable=True)
            targets_list = [ranked[:, i] for i in range(p["num_target_classes"])]
        best = None
        for targets in targets_list:
            for _ in range(p["restarts"]):
                x0 = xb
                if p["eps"] > 0:
                    x0 = perturbation.random_point(generator, xb, eps_t, p["norm"], p["clip"])
                x_adv, success, value = run(xb, yb, targets, x0, eps_t, rho_t, ckpt_len)
                if best is None:
                    best = [x_adv, success, value]
                    continue
                worse = perturbation.is_worse_case(success, value, best[1], best[2])
                best = [perturbation.where_examples(worse, x_adv, best[0]), best[1] | success,
                        tf.where(worse, value, best[2])]
        return best[0]

    return run_batched(attack_batch, model, x, y, targeted=p["targeted"], clip=p["clip"],
                       batch_size=p["batch_size"], verbose=verbose, name="APGD")


def _check_classes(p, mode, num_classes):
    check_target_classes_fit(p["num_target_classes"], num_classes)
    needed = 3 if mode == "untargeted" else 4
    if p["loss"] == "dlr" and num_classes < needed:
        raise ValueError(
            f"Expected a model with at least {needed} classes for loss='dlr' (its "
            f"denominator uses the 3rd largest logit). Received: {num_classes} classes; "
            "use loss='ce'.")


def _check(eps, norm, steps, loss, restarts, rho, targeted, num_target_classes, clip, batch_size,
           seed, eot_samples=None):
    p = check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     restarts=restarts, seed=seed, eot_samples=eot_samples)
    if not isinstance(loss, str) or loss.lower() not in LOSSES:
        raise ValueError(f'Expected `loss` to be "ce" or "dlr". Received: loss={loss!r}')
    p["loss"] = loss.lower()
    p["rho"] = v.check_positive(rho, "rho")
    if p["rho"] > 1:
        raise ValueError(f"Expected `rho` in (0, 1]. Received: rho={rho}")
    p["targeted"], p["num_target_classes"] = check_target_classes(targeted, num_target_classes)
    return p


@keras.saving.register_keras_serializable(package="keras_mlsec")
class APGD(Attack):
    """Auto-PGD as an object; see `apgd` for the arguments.

    Example:
        >>> x_adv = APGD(eps=0.1, loss="dlr")(model, x, y)
    """

    attack_fn = apgd
    name = "apgd"
    supports_eot = True

    def __init__(self, *, eps, norm="linf", steps=100, loss="ce", restarts=1, rho=0.75,
                 targeted=False, num_target_classes=None, clip=(0.0, 1.0), batch_size=256,
                 seed=None, eot_samples=None):
        _check(eps, norm, steps, loss, restarts, rho, targeted, num_target_classes, clip,
               batch_size, seed, eot_samples)
        self.eps = eps
        self.norm = norm
        self.steps = steps
        self.loss = loss
        self.restarts = restarts
        self.rho = rho
        self.targeted = targeted
        self.num_target_classes = num_target_classes
        self.clip = clip
        self.batch_size = batch_size
        self.seed = seed
        self.eot_samples = eot_samples
