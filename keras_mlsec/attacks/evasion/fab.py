"""FAB, the Fast Adaptive Boundary attack (Croce and Hein 2020): minimum-norm, L-inf and L2.

A whole run (all steps) is one `tf.while_loop` in a `tf.function` compiled
once per (model, norm, mode, clip). It is a minimum-norm attack: it takes no
budget and returns, per example, the smallest adversarial perturbation it
found (the clean input where it found none).
"""

import keras
import tensorflow as tf

from keras_mlsec._core import validation as v
from keras_mlsec._core import perturbation
from keras_mlsec._core.models import compiled, num_classes_of
from keras_mlsec._core.perturbation import make_generator
from keras_mlsec.attacks.base import (MINIMUM_NORM, Attack, check_common,
                                      check_target_classes, check_target_classes_fit,
                                      run_batched)
from keras_mlsec.attacks.evasion._fab_projection import project_to_hyperplane

_NO_ADVERSARIAL = 1e10  # the norm of "nothing found yet"


def _boundary(logits_fn, mode, dual, reach_target):
    """Linearised closest decision boundary: `(f_t - f_y, its gradient)` per example.

    Untargeted: the class `t != y` whose linearised boundary is nearest,
    `|f_t - f_y| / ||grad(f_t - f_y)||_dual` (one Jacobian of all logits).
    Targeted: the given class `t` (one gradient); when the target must be
    reached (`reach_target`), `y` is the strongest other class at the
    current point, so that crossing the boundary makes `t` the top class.
    """
    def untargeted(x, labels, targets):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = logits_fn(x)
        jacobian = tape.batch_jacobian(logits, x)  # (batch, classes, ...)
        jacobian = tf.reshape(jacobian, [tf.shape(x)[0], tf.shape(logits)[1], -1])
        true_grad = tf.gather(jacobian, labels, batch_dims=1)
        diff = logits - tf.gather(logits, labels, batch_dims=1)[:, None]
        grads = jacobian - true_grad[:, None]
        distance = tf.abs(diff) / (dual(grads) + 1e-12)
        distance += 1e10 * tf.one_hot(labels, tf.shape(logits)[1])
        nearest = tf.argmin(distance, axis=1, output_type=tf.int32)
        return (tf.gather(diff, nearest, batch_dims=1), tf.gather(grads, nearest, batch_dims=1),
                logits)

    def targeted(x, labels, targets):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = logits_fn(x)
            if reach_target:
                labels = tf.argmax(logits - 1e9 * tf.one_hot(targets, tf.shape(logits)[1]), -1,
                                   output_type=tf.int32)
            diff = (tf.gather(logits, targets, batch_dims=1)
                    - tf.gather(logits, labels, batch_dims=1))
            total = tf.reduce_sum(diff)
        grad = tape.gradient(total, x)
        return diff, tf.reshape(grad, [tf.shape(x)[0], -1]), logits

    return untargeted if mode == "untargeted" else targeted


def _run_builder(logits_fn, norm, mode, clip, reach_target):
    dual = ((lambda g: tf.reduce_sum(tf.abs(g), axis=-1)) if norm == "linf"
            else (lambda g: tf.norm(g, axis=-1)))
    boundary = _boundary(logits_fn, mode, dual, reach_target)

    def run(x, labels, targets, x_start, steps, alpha_max, eta, beta):
        """One FAB run from `x_start`; returns the smallest adversarial found and its norm."""
        shape = tf.shape(x)
        x0 = tf.reshape(x, [shape[0], -1])

        def fooled(x_flat):
            predicted = tf.argmax(logits_fn(tf.reshape(x_flat, shape)), -1, output_type=tf.int32)
            return (predicted == targets) if reach_target else (predicted != labels)

        def body(k, x1, best, best_norm):
            diff, w, _ = boundary(tf.reshape(x1, shape), labels, targets)
            b = tf.reduce_sum(w * x1, axis=1) - diff
            d1 = project_to_hyperplane(x1, w, b, norm, clip)
            d0 = project_to_hyperplane(x0, w, b, norm, clip)
            a1, a0 = perturbation.lp_norm(d1, norm), perturbation.lp_norm(d0, norm)
            alpha = tf.clip_by_value(a1 / tf.maximum(a1 + a0, 1e-12), 0.0, alpha_max)[:, None]
            x_next = (1.0 - alpha) * (x1 + eta * d1) + alpha * (x0 + eta * d0)
            x_next = perturbation.clip_to_domain(x_next, clip)
            success = fooled(x_next)
            size = perturbation.lp_norm(x_next - x0, norm)
            better = success & (size < best_norm)
            best = perturbation.where_examples(better, x_next, best)
            best_norm = tf.where(better, size, best_norm)
            # Once over the boundary, step back towards x to look for a closer crossing.
            x_next = perturbation.where_examples(success, x0 + beta * (x_next - x0), x_next)
            return k + 1, x_next, best, best_norm

        x1 = tf.reshape(x_start, [shape[0], -1])
        start_success = fooled(x1)
        best_norm = tf.where(start_success, perturbation.lp_norm(x1 - x0, norm),
                             _NO_ADVERSARIAL)
        _, _, best, best_norm = tf.while_loop(
            lambda k, *_: k < steps, body, (tf.constant(0), x1, x1, best_norm))
        best = perturbation.where_examples(best_norm < _NO_ADVERSARIAL, best, x0)
        return tf.reshape(best, shape), best_norm

    return lambda: run


def fab(model, x, y=None, *, norm="linf", steps=100, restarts=1, targeted=False,
        num_target_classes=None, eps=None, alpha_max=0.1, eta=1.05, beta=0.9,
        clip=(0.0, 1.0), batch_size=256, seed=None, verbose=0):
    """FAB: walks along the decision boundary towards the smallest adversarial perturbation.

    Each step linearises the model at the current point, takes the nearest
    linearised boundary `f_t - f_y = 0` (untargeted: over all classes `t`;
    targeted: the target), and projects both the current point and the
    original input onto it inside the input box (minimum L-inf or L2
    projection). The next point mixes the two projections, extrapolated by
    `eta`: `(1 - alpha)(x_k + eta d_k) + alpha (x + eta d_0)`, with
    `alpha = min(|d_k| / (|d_k| + |d_0|), alpha_max)` biasing the walk towards
    the original input. Once a point is adversarial it is kept if smaller
    than the best so far, and the walk steps back to `x + beta (x_k - x)` to
    look for a closer crossing.

    Args:
        model: a single-output `keras.Model` (logits or softmax output).
        x: inputs inside `clip`.
        y: true labels (sparse or one-hot); target labels when `targeted`;
            None attacks the model's own predictions.
        norm: "linf" or "l2": the norm that is minimised.
        steps: iterations per run (each: one gradient when targeted or with
            `num_target_classes`, one Jacobian of all logits when untargeted).
        restarts: runs per target; the second and later start from a random
            point at distance `min(best norm so far, eps) / 2` from `x`.
        targeted: reach the classes in `y` (each step aims at the boundary
            between the target and the strongest other class).
        num_target_classes: untargeted only: AutoAttack's FAB-T. Runs the
            targeted boundary towards each of the `num_target_classes` classes
            with the highest clean logits after the true one and keeps the
            smallest perturbation that fools the model.
        eps: optional cap on the radius of the random restarts (the paper's
            epsilon); it does not bound the result. Without it, restarts of
            examples not yet fooled start from `x` again.
        alpha_max: largest weight of the original input in a step, in [0, 1).
        eta: extrapolation of the projections, >= 1.
        beta: backward step once adversarial, in (0, 1).
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed of the random restarts.
        verbose: 1 shows a progress bar.

    Returns:
        A float32 tensor shaped like `x`: per example the smallest adversarial
        example found, or the clean input where none was found.

    Raises:
        ValueError: for a bad `norm`, `steps`, `restarts`, `alpha_max`, `eta`,
            `beta`, `num_target_classes` (also more than the classes minus
            one), domain, input or labels.
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> x_adv = fab(model, x_test, y_test, norm="l2", num_target_classes=9)

    Reference:
        Croce and Hein, "Minimally distorted adversarial examples with a fast
        adaptive boundary attack", ICML 2020.
    """
    p = _check(norm, steps, restarts, targeted, num_target_classes, eps, alpha_max, eta, beta,
               clip, batch_size, seed)
    mode = "targeted" if p["targeted"] else ("multi" if num_target_classes else "untargeted")
    generator = make_generator(seed)
    constants = [tf.constant(p["steps"]), tf.constant(p["alpha_max"], tf.float32),
                 tf.constant(p["eta"], tf.float32), tf.constant(p["beta"], tf.float32)]

    def attack_batch(logits_fn, xb, yb):
        graph_mode = "untargeted" if mode == "untargeted" else "targeted"
        reach = mode == "targeted"
        run = compiled(logits_fn, ("fab", p["norm"], graph_mode, p["clip"], reach),
                       _run_builder(logits_fn, p["norm"], graph_mode, p["clip"], reach))
        num_classes = num_classes_of(model, logits_fn, xb)
        logits = logits_fn(xb)
        labels, targets_list = yb, [yb]
        if mode == "targeted":  # the source class is chosen at every step
            labels = tf.argmax(logits, -1, output_type=tf.int32)
        elif mode == "multi":
            check_target_classes_fit(p["num_target_classes"], num_classes)
            ranked = tf.argsort(logits - 1e9 * tf.one_hot(yb, num_classes), -1,
                                direction="DESCENDING", stable=True)
            targets_list = [ranked[:, i] for i in range(p["num_target_classes"])]
        best, best_norm = xb, tf.fill([tf.shape(xb)[0]], _NO_ADVERSARIAL)
        for targets in targets_list:
            for restart in range(p["restarts"]):
                start = xb
                if restart > 0:
                    start = _random_start(generator, xb, best_norm, p)
                x_adv, size = run(xb, labels, targets, start, *constants)
                smaller = size < best_norm
                best = perturbation.where_examples(smaller, x_adv, best)
                best_norm = tf.where(smaller, size, best_norm)
        return best

    return run_batched(attack_batch, model, x, y, targeted=p["targeted"], clip=p["clip"],
                       batch_size=p["batch_size"], verbose=verbose, name="FAB")


def _random_start(generator, xb, best_norm, p):
    """A random point at distance min(best norm, eps) / 2 from `xb` (x itself if unknown)."""
    radius = best_norm if p["eps"] is None else tf.minimum(best_norm, p["eps"])
    radius = tf.where(radius < _NO_ADVERSARIAL, 0.5 * radius, 0.0)
    direction = perturbation.random_start(generator, tf.shape(xb), 1.0, p["norm"])
    flat = tf.reshape(direction, [tf.shape(xb)[0], -1])
    unit = flat / tf.maximum(perturbation.lp_norm(direction, p["norm"]), 1e-12)[:, None]
    return perturbation.clip_to_domain(
        xb + tf.reshape(unit * radius[:, None], tf.shape(xb)), p["clip"])


def _check(norm, steps, restarts, targeted, num_target_classes, eps, alpha_max, eta, beta, clip,
           batch_size, seed):
    p = check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     restarts=restarts, seed=seed)
    p.setdefault("eps", None)
    p["alpha_max"] = v.check_non_negative(alpha_max, "alpha_max")
    if p["alpha_max"] >= 1:
        raise ValueError(f"Expected `alpha_max` in [0, 1). Received: alpha_max={alpha_max}")
    p["eta"] = v.check_positive(eta, "eta")
    if p["eta"] < 1:
        raise ValueError(f"Expected `eta` >= 1 (an extrapolation). Received: eta={eta}")
    p["beta"] = v.check_positive(beta, "beta")
    if p["beta"] >= 1:
        raise ValueError(f"Expected `beta` in (0, 1). Received: beta={beta}")
    p["targeted"], p["num_target_classes"] = check_target_classes(targeted, num_target_classes)
    return p


@keras.saving.register_keras_serializable(package="keras_mlsec")
class FAB(Attack):
    """FAB (minimum-norm) as an object; see `fab` for the arguments.

    Example:
        >>> x_adv = FAB(norm="linf", num_target_classes=9)(model, x, y)
    """

    attack_fn = fab
    name = "fab"
    kind = MINIMUM_NORM

    def __init__(self, *, norm="linf", steps=100, restarts=1, targeted=False,
                 num_target_classes=None, eps=None, alpha_max=0.1, eta=1.05, beta=0.9,
                 clip=(0.0, 1.0), batch_size=256, seed=None):
        _check(norm, steps, restarts, targeted, num_target_classes, eps, alpha_max, eta, beta,
               clip, batch_size, seed)
        self.norm = norm
        self.steps = steps
        self.restarts = restarts
        self.targeted = targeted
        self.num_target_classes = num_target_classes
        self.eps = eps
        self.alpha_max = alpha_max
        self.eta = eta
        self.beta = beta
        self.clip = clip
        self.batch_size = batch_size
        self.seed = seed
