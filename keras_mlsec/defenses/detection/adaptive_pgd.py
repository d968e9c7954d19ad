"""The adaptive attack on `FeatureSqueezingDetector`: fool the classifier and the detector at once.

The detector flags an input when squeezing it moves the softmax. The attack
therefore drives the plain input and every squeezed input to the same wrong
class with high confidence (all softmaxes saturate on one class, so they
agree and the L1 score collapses), while a per-example Lagrange-style weight
on the detector score grows for iterates that fool the classifier but are
still flagged and shrinks for those that no longer fool it.
"""

import math

import numpy as np
import tensorflow as tf

from keras_mlsec._core import losses, perturbation
from keras_mlsec._core import validation as v
from keras_mlsec._core.models import num_classes_of
from keras_mlsec._core.perturbation import make_generator
from keras_mlsec.attacks.base import check_common
from keras_mlsec.defenses.preprocessing.median_filter import MedianFilter
from keras_mlsec.defenses._bpda import check_float_range, straight_through
from keras_mlsec.defenses.detection.squeezing_detector import (FeatureSqueezingDetector,
                                                               squeezing_score, stack_logits)

_WEIGHT_GROWTH = 1.05  # per-step factor of the per-example detector weight
_WEIGHT_SPAN = 1e3  # the weight stays within [w / span, w * span] of its start w


def _attack_view(squeezer):
    """The squeezer as the attack differentiates it (the forward pass is unchanged).

    A `MedianFilter` is piecewise linear: its true gradient (which reaches the
    median pixel of each window) is used, the straight-through identity being
    a much poorer guide to what survives the filter. Every other squeezer
    (bit-depth rounding, arbitrary callables) is straight-through (BPDA).
    """
    if isinstance(squeezer, MedianFilter):
        return squeezer._median
    return straight_through(squeezer)


def _run_builder(stacked_logits, *, norm, clip, confidence, steps):
    """Targeted PGD on one batch, returning its best iterate, score and misclassification."""
    def evaluate(x_adv, labels, targets, weight):
        stacked = stacked_logits(x_adv)
        outputs = range(stacked.shape[0])
        score = squeezing_score(stacked)
        pull = tf.add_n([losses.cross_entropy(targets, stacked[k])
                         + losses.cw_objective(targets, stacked[k], confidence, targeted=True)
                         for k in outputs])
        fooled = tf.not_equal(tf.argmax(stacked[0], -1, output_type=tf.int32), labels)
        return -pull - weight * score, score, fooled

    def keep(x_adv, score, fooled, best, best_score, best_fooled):
        # Misclassified beats not; among misclassified the lower score; otherwise the latest.
        better = (fooled & (~best_fooled | (score < best_score))) | (~fooled & ~best_fooled)
        return (perturbation.where_examples(better, x_adv, best), tf.where(better, score, best_score),
                best_fooled | fooled)

    def run(x, labels, targets, x_start, eps, step_size, weight, threshold):
        low, high = weight / _WEIGHT_SPAN, weight * _WEIGHT_SPAN

        def body(i, x_adv, weights, best, best_score, best_fooled):
            with tf.GradientTape() as tape:
                tape.watch(x_adv)
                objective, score, fooled = evaluate(x_adv, labels, targets, weights)
                total = tf.reduce_sum(objective)
            gradient = tape.gradient(total, x_adv)
            best, best_score, best_fooled = keep(x_adv, score, fooled, best, best_score,
                                                 best_fooled)
            flagged = fooled & (score > threshold)
            weights = tf.where(flagged, weights * _WEIGHT_GROWTH,
                               tf.where(fooled, weights, weights / _WEIGHT_GROWTH))
            weights = tf.clip_by_value(weights, low, high)
            decay = 0.5 * (1.0 + tf.cos(math.pi * tf.cast(i, tf.float32) / float(steps)))
            x_next = perturbation.projected_step(None, x_adv, x, None, gradient=gradient, eps=eps,
                                                 step_size=step_size * decay, norm=norm,
                                                 clip=clip)
            return i + 1, tf.stop_gradient(x_next), weights, best, best_score, best_fooled

        n = tf.shape(x)[0]
        state = (tf.constant(0), x_start, tf.fill([n], weight), x_start,
                 tf.fill([n], np.float32(np.inf)), tf.zeros([n], tf.bool))
        _, x_adv, weights, best, best_score, best_fooled = tf.while_loop(
            lambda i, *_: i < steps, body, state, maximum_iterations=steps)
        _, score, fooled = evaluate(x_adv, labels, targets, weights)
        return keep(x_adv, score, fooled, best, best_score, best_fooled)

    return run


def adaptive_pgd(detector, x, y, *, eps, detector_weight=3.0, confidence=2.0, steps=100,
                 step_size=None, norm="linf", clip=(0.0, 1.0), batch_size=256, seed=None,
                 targets=3, restarts=1):
    """Targeted PGD against a classifier and its `FeatureSqueezingDetector` at once.

    For each target class t (the `targets` most likely wrong classes of the
    clean input) and each of `restarts` random starts, ascends

        -sum_k [CE(t, z_k) + max(max_{i != t} z_k,i - z_k,t + confidence, 0)]
        - w * score(x')

    over the `eps` ball, where z_0 are the logits of x' and z_k those of its
    k-th squeezed copy, with `steps` steepest-ascent steps whose length
    decays from `step_size` to 0 (cosine). Driving every output to the same
    class with high confidence saturates all the softmaxes on it, so they
    agree and the detector score collapses. The weight w starts at
    `detector_weight` and is adapted per example at every step: multiplied
    by 1.05 while the iterate fools the classifier but is flagged (score
    above the fitted threshold; any positive score when the detector is not
    fitted), divided by 1.05 while it does not fool the classifier. Bit-depth
    squeezers and callables are differentiated straight-through (BPDA), a
    `MedianFilter` through its true, piecewise-linear gradient.

    Each example keeps its best iterate under the real criterion, computed
    with the real squeezers, model and detector score: misclassified with
    the lowest detector score (so undetected whenever any iterate was),
    else the last iterate. With a fitted detector, examples already
    misclassified and under the threshold are not attacked again for the
    remaining targets and restarts.

    Args:
        detector: a `FeatureSqueezingDetector` (fitted or not).
        x: inputs inside `clip`.
        y: true labels (sparse or one-hot).
        eps: perturbation budget (> 0) in `norm`.
        detector_weight: starting weight w of the detector score (>= 0; 0
            ignores the detector, which then only loses through saturation).
        confidence: logit margin past the target's rivals the hinge asks for,
            on the plain and on every squeezed input (>= 0).
        steps: steps per target and restart (int >= 1).
        step_size: first step length (> 0); default `eps / 4`.
        norm: "linf" or "l2".
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed of the random starts.
        targets: number of target classes tried per example, the most likely
            wrong classes of the clean input first (int in [1, classes - 1]).
        restarts: random starts per target (int >= 1).

    Returns:
        A float32 array of adversarial examples shaped like `x`, each within
        `eps` of its input (in `norm`) and inside `clip`.

    Raises:
        TypeError: when `detector` is not a `FeatureSqueezingDetector`.
        ValueError: for bad budgets, counts, weights, inputs or labels (the
            message names the argument).

    Example:
        >>> x_adv = adaptive_pgd(detector, x, y, eps=0.1, targets=3)
        >>> fooled = model.predict(x_adv).argmax(-1) != y
        >>> undetected = fooled & ~detector.detect(x_adv)[0]

    Reference:
        Carlini and Wagner, "Adversarial Examples Are Not Easily Detected:
        Bypassing Ten Detection Methods", AISec 2017; He, Wei, Chen, Carlini
        and Song, "Adversarial Example Defenses: Ensembles of Weak Defenses
        are not Strong", WOOT 2017; Sharma and Chen, "Bypassing Feature
        Squeezing by Increasing Adversary Strength", arXiv:1803.09868, 2018.
    """

    if not isinstance(detector, FeatureSqueezingDetector):
        raise TypeError("Expected `detector` to be a FeatureSqueezingDetector. "
                        f"Received: detector of type {type(detector).__name__}")
    p = check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     step_size=step_size, restarts=restarts, seed=seed)
    weight = v.check_non_negative(detector_weight, "detector_weight")
    confidence = v.check_non_negative(confidence, "confidence")
    x = v.check_inputs(x, model=detector.model, clip=p["clip"])
    logits_fn = detector._logits_fn
    num_classes = num_classes_of(detector.model, logits_fn, x)
    labels = v.check_labels(y, len(x), num_classes)
    num_targets = check_float_range(targets, "targets", 1, max(num_classes - 1, 1), integer=True)
    views = [_attack_view(s) for s in detector._ready_squeezers(x)]

    def stacked_logits(xb):
        return stack_logits(logits_fn, views, xb)

    run = tf.function(_run_builder(stacked_logits, norm=p["norm"], clip=p["clip"],
                                   confidence=confidence, steps=p["steps"]),
                      reduce_retracing=True)
    threshold = detector.threshold
    constants = [tf.constant(c, tf.float32) for c in (
        p["eps"], p.get("step_size") or 0.25 * p["eps"], weight,
        0.0 if threshold is None else threshold)]
    batches = range(0, len(x), p["batch_size"])
    clean = np.concatenate([logits_fn(tf.constant(x[i:i + p["batch_size"]])).numpy()
                            for i in batches])
    clean[np.arange(len(x)), labels] = -np.inf
    ranked = np.argsort(-clean, axis=-1, kind="stable").astype(np.int32)  # wrong classes first

    generator = make_generator(seed)
    best, best_score = x.copy(), np.full(len(x), np.inf)
    best_fooled = np.zeros(len(x), bool)
    for k in range(num_targets):
        for _ in range(p["restarts"]):
            done = best_fooled & (best_score <= threshold) if threshold is not None else None
            active = np.flatnonzero(~done) if done is not None else np.arange(len(x))
            for i in range(0, len(active), p["batch_size"]):
                idx = active[i:i + p["batch_size"]]
                xb = tf.constant(x[idx])
                start = perturbation.random_point(generator, xb, constants[0], p["norm"],
                                                  p["clip"])
                candidate = run(xb, tf.constant(labels[idx]), tf.constant(ranked[idx, k]),
                                start, *constants)[0].numpy()
                # The real criterion: the model's prediction and the detector's own score.
                fooled = np.argmax(logits_fn(tf.constant(candidate)).numpy(), -1) != labels[idx]
                score = detector.score(candidate)
                better = (fooled & (~best_fooled[idx] | (score < best_score[idx]))
                          | (~fooled & ~best_fooled[idx]))
                best[idx[better]] = candidate[better]
                best_score[idx[better]] = score[better]
                best_fooled[idx] |= fooled
    return best.astype(np.float32)
