"""The one iterative first-order loop behind FGSM, BIM and PGD.

Each step is CleverHans' `fast_gradient_method` (steepest ascent of the
cross-entropy under the chosen norm, clipped to the domain) followed by
CleverHans' `clip_eta` projection back onto the eps ball. The step is a
`tf.function` compiled once per (model, norm, targeted, clip) and driven by a
Python loop, the fastest form measured on CPU (see benchmarks/RESULTS.md).

Expectation over Transformation (EOT, Athalye et al. 2018): against models
with random layers (`stochastic = True`) each step can average the input
gradient over `eot_samples` forward/backward passes. `eot_samples=1` (the
default) compiles exactly the plain step above; `evaluate_robustness` sets
`eot_samples` itself when the model holds random defense layers.
"""

import tensorflow as tf
from cleverhans.tf2.attacks.fast_gradient_method import fast_gradient_method

from keras_mlsec._core import losses, perturbation
from keras_mlsec.attacks.base import run_batched
from keras_mlsec._core.models import compiled
from keras_mlsec._core.perturbation import make_generator


def _step_builder(logits_fn, norm, targeted, clip):
    clip_min, clip_max = clip if clip is not None else (None, None)
    order = perturbation.norm_order(norm)

    def step(x_adv, x, labels, eps, step_size):
        x_next = fast_gradient_method(
            logits_fn, x_adv, step_size, order, clip_min=clip_min, clip_max=clip_max,
            y=labels, targeted=targeted, sanity_checks=False)
        return perturbation.clip_to_domain(x + perturbation.project(x_next - x, eps, norm), clip)

    return lambda: step


def _eot_step_builder(logits_fn, norm, targeted, clip, samples):
    """The step on the input gradient averaged over `samples` random forward passes."""

    def step(x_adv, x, labels, eps, step_size):
        gradients = [perturbation.input_gradient(logits_fn, x_adv, labels, targeted=targeted)[0]
                     for _ in range(samples)]
        gradient = tf.add_n(gradients) / float(samples)
        x_next = perturbation.clip_to_domain(x_adv + perturbation.steepest_step(gradient, step_size, norm), clip)
        return perturbation.clip_to_domain(x + perturbation.project(x_next - x, eps, norm), clip)

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
        if samples == 1:
            step = compiled(logits_fn, ("step", norm, targeted, clip),
                            _step_builder(logits_fn, norm, targeted, clip))
        else:
            step = compiled(logits_fn, ("step_eot", norm, targeted, clip, samples),
                            _eot_step_builder(logits_fn, norm, targeted, clip, samples))
        best, best_success, best_loss = None, None, None
        for _ in range(restarts):
            x_adv = xb
            if rand_init and eps > 0:
                x_adv = perturbation.clip_to_domain(xb + perturbation.random_start(generator, tf.shape(xb), eps_t, norm),
                                         clip)
            for _ in range(steps):
                x_adv = step(x_adv, xb, yb, eps_t, step_t)
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
