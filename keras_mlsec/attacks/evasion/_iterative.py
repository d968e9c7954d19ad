"""FGSM, BIM and PGD: restarts and worst-case bookkeeping around the core's PGD loop.

The step and the loop are `_core.perturbation.projected_step` and
`_core.perturbation.iterate` (the ones adversarial training and the adaptive
attacks use): CleverHans' `fast_gradient_method` (steepest ascent of the
cross-entropy under the chosen norm, clipped to the domain) followed by
CleverHans' `clip_eta` projection back onto the eps ball. The step is a
`tf.function` compiled once per (model, norm, targeted, clip, EOT samples)
and driven by a Python loop, the fastest form measured on CPU (see
benchmarks/RESULTS.md).

Expectation over Transformation (EOT, Athalye et al. 2018): against models
with random layers (`stochastic = True`) each step can average the input
gradient over `eot_samples` forward/backward passes. `eot_samples=1` (the
default) compiles exactly the plain step above; `evaluate_robustness` sets
`eot_samples` itself when the model holds random defense layers.
"""

import tensorflow as tf

from keras_mlsec._core import losses, perturbation
from keras_mlsec._core.models import compiled
from keras_mlsec._core.perturbation import make_generator
from keras_mlsec.attacks.base import run_batched


def _step_builder(logits_fn, norm, targeted, clip, samples):
    """The core's `projected_step`, with the static options bound, for `compiled`."""

    def step(x_adv, x, labels, eps, step_size):
        return perturbation.projected_step(logits_fn, x_adv, x, labels, eps=eps,
                                           step_size=step_size, norm=norm, clip=clip,
                                           targeted=targeted, eot_samples=samples)

    return lambda: step


def default_step_size(eps, steps, factor):
    """`factor * eps / steps`, the step an iterative attack takes when none is given."""
    return factor * eps / steps if eps > 0 else 1.0


def _score_builder(logits_fn, targeted):
    def score(x_adv, labels):
        logits = logits_fn(x_adv)
        loss = losses.cross_entropy(labels, logits)
        hit = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
        success = hit if targeted else tf.logical_not(hit)
        return success, -loss if targeted else loss

    return lambda: score


def iterative_attack(model, x, y, *, eps, norm, step_size, steps, rand_init, restarts,
                     targeted, clip, batch_size, seed, verbose=0, name="attack",
                     eot_samples=None):
    """Runs `restarts` x `steps` projected steps; keeps the worst case per example.

    Arguments are validated by the caller (see `check_common`); `eot_samples`
    (None means 1) averages each step's gradient over that many passes.
    Returns a float32 tensor shaped like `x`.
    """
    samples = int(eot_samples or 1)
    generator = make_generator(seed)
    eps_t = tf.constant(eps, tf.float32)
    step_t = tf.constant(step_size, tf.float32)

    def attack_batch(logits_fn, xb, yb):
        step = compiled(logits_fn, ("step", norm, targeted, clip, samples),
                        _step_builder(logits_fn, norm, targeted, clip, samples))
        best, best_success, best_loss = None, None, None
        for _ in range(restarts):
            x_adv = xb
            if rand_init and eps > 0:
                x_adv = perturbation.random_point(generator, xb, eps_t, norm, clip)
            x_adv = perturbation.iterate(lambda a: step(a, xb, yb, eps_t, step_t), x_adv, steps)
            if restarts == 1:
                return x_adv
            score = compiled(logits_fn, ("score", targeted), _score_builder(logits_fn, targeted))
            success, loss = score(x_adv, yb)
            if best is None:
                best, best_success, best_loss = x_adv, success, loss
                continue
            better = perturbation.is_worse_case(success, loss, best_success, best_loss)
            best = perturbation.where_examples(better, x_adv, best)
            best_success = best_success | success
            best_loss = tf.where(better, loss, best_loss)
        return best

    return run_batched(attack_batch, model, x, y, targeted=targeted, clip=clip,
                       batch_size=batch_size, verbose=verbose, name=name)
