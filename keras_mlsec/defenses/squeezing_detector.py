"""Feature-squeezing detection of adversarial examples (Xu et al. 2018), and its adaptive attack."""

import numbers

import numpy as np
import tensorflow as tf

from keras_mlsec import _validation as v
from keras_mlsec.defenses._bpda import straight_through


def _default_squeezers(input_shape):
    from keras_mlsec.defenses.feature_squeezing import FeatureSqueezing
    from keras_mlsec.defenses.median_filter import MedianFilter

    if len(input_shape) == 3:  # images (h, w, channels)
        squeezers = [FeatureSqueezing(bit_depth=4 if input_shape[-1] == 1 else 5)]
        if min(input_shape[0] or 0, input_shape[1] or 0) >= 16:  # a 3x3 median wipes out 8x8 digits
            squeezers.append(MedianFilter(size=3))
        return squeezers
    return [FeatureSqueezing(bit_depth=4)]


class FeatureSqueezingDetector:
    """Flags inputs whose prediction moves when the input is squeezed.

    For each squeezer s, the score of an input x is the L1 distance between
    `softmax(model(x))` and `softmax(model(s(x)))`; the detector's score is
    the largest over the squeezers. Clean inputs barely move when squeezed,
    adversarial ones often do. `fit` sets the threshold to the
    `1 - false_positive_rate` quantile of the scores of clean inputs, so
    about that share of clean inputs is flagged.

    Args:
        model: a single-output `keras.Model` classifier (logits or softmax
            output; softmax models are read through their logits).
        squeezers: list of defense layers or callables `x -> x_squeezed`
            (same shape). Default for images: `FeatureSqueezing(bit_depth=4)`
            (grey; Xu et al.'s 1 bit destroys interpolated digits) or
            `bit_depth=5` (colour), plus `MedianFilter(size=3)` for images of
            at least 16x16; for other inputs `FeatureSqueezing(bit_depth=4)`.
        batch_size: examples per batch when scoring.

    Raises:
        TypeError: when `model` is not a `keras.Model` or a squeezer is not callable.
        ValueError: for an empty `squeezers` list or a bad `batch_size`.

    Example:
        >>> detector = FeatureSqueezingDetector(model).fit(x_val, false_positive_rate=0.05)
        >>> flags, scores = detector.detect(x_adv)

    Reference:
        Xu, Evans and Qi, "Feature Squeezing: Detecting Adversarial Examples
        in Deep Neural Networks", NDSS 2018.
    """

    def __init__(self, model, squeezers=None, *, batch_size=256):
        from keras_mlsec.attacks._gradients import logits_function

        self.model = v.check_model(model)
        self.batch_size = v.check_positive_int(batch_size, "batch_size")
        if squeezers is not None:
            squeezers = list(squeezers) if isinstance(squeezers, (list, tuple)) else [squeezers]
            if not squeezers:
                raise ValueError("Expected at least one squeezer in `squeezers`. "
                                 f"Received: squeezers={squeezers!r}")
            for s in squeezers:
                if not callable(s):
                    raise TypeError("Expected every squeezer to be a defense layer or a callable "
                                    f"x -> x. Received: squeezers entry {s!r} of type "
                                    f"{type(s).__name__}")
        self.squeezers = squeezers
        self.threshold = None
        self.false_positive_rate = None
        self._logits_fn = logits_function(self.model)
        self._score_fn = None

    def _ready_squeezers(self, x):
        if self.squeezers is None:
            self.squeezers = _default_squeezers(tuple(x.shape[1:]))
        return self.squeezers

    def _scores_graph(self, x):
        """Per-example score tensor (differentiable through BPDA squeezers)."""
        probs = tf.nn.softmax(self._logits_fn(x))
        distances = [tf.reduce_sum(tf.abs(probs - tf.nn.softmax(self._logits_fn(s(x)))), axis=-1)
                     for s in self.squeezers]
        return tf.reduce_max(tf.stack(distances, axis=0), axis=0)

    def score(self, x):
        """Detector scores of `x` (float64 array, one per example, in [0, 2])."""
        x = v.check_inputs(x, model=self.model)
        self._ready_squeezers(x)
        if self._score_fn is None:
            self._score_fn = tf.function(self._scores_graph, reduce_retracing=True)
        parts = [self._score_fn(tf.constant(x[i:i + self.batch_size])).numpy()
                 for i in range(0, len(x), self.batch_size)]
        return np.concatenate(parts).astype(np.float64)

    def fit(self, x_clean, *, false_positive_rate=0.05):
        """Sets `threshold` to the `1 - false_positive_rate` quantile of clean scores.

        Args:
            x_clean: clean (not adversarial) inputs, ideally held out from training.
            false_positive_rate: share of clean inputs to flag, in (0, 1).

        Returns:
            The detector itself.

        Raises:
            ValueError: for a rate outside (0, 1) or bad inputs.
        """
        rate = false_positive_rate
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 < rate < 1:
            raise ValueError("Expected `false_positive_rate` in (0, 1). "
                             f"Received: false_positive_rate={false_positive_rate!r}")
        scores = self.score(x_clean)
        self.threshold = float(np.quantile(scores, 1.0 - float(rate)))
        self.false_positive_rate = float(rate)
        return self

    def detect(self, x):
        """Flags adversarial-looking inputs.

        Args:
            x: inputs shaped like the model's input.

        Returns:
            `(flags, scores)`: a bool array (True = flagged as adversarial,
            score above `threshold`) and the float scores.

        Raises:
            ValueError: when called before `fit`, or for bad inputs.
        """
        if self.threshold is None:
            raise ValueError("Expected a fitted detector: call `fit(x_clean)` before `detect`. "
                             "Received: threshold=None")
        scores = self.score(x)
        return scores > self.threshold, scores

    def __repr__(self):
        return (f"FeatureSqueezingDetector(squeezers={self.squeezers!r}, "
                f"threshold={self.threshold!r})")


def adaptive_pgd(detector, x, y, *, eps, detector_weight=1.0, confidence=2.0, steps=40,
                 step_size=None, norm="linf", clip=(0.0, 1.0), batch_size=256, seed=None):
    """PGD against a classifier and its `FeatureSqueezingDetector` at once.

    Ascends `-max(margin(x') + confidence, 0) - detector_weight * score(x')`,
    where margin is the true-class logit minus the best other logit (the
    Carlini-Wagner hinge; a capped stand-in for the cross-entropy, so that
    once the example is misclassified the detector term drives the search):
    the example should be misclassified and keep its prediction when
    squeezed, so that the detector does not flag it. The squeezers are differentiated through
    BPDA (straight-through), and the loop is the shared in-graph PGD of
    `keras_mlsec.attacks._in_graph.perturb` with a random start.

    Args:
        detector: a `FeatureSqueezingDetector` (fitted or not).
        x: inputs inside `clip`.
        y: true labels (sparse or one-hot).
        eps: perturbation budget (> 0) in `norm`.
        detector_weight: lambda, weight of the detector score in the objective (>= 0).
        confidence: logit margin past the decision boundary the hinge asks for (>= 0).
        steps: PGD steps.
        step_size: step length; default `2.5 * eps / steps`.
        norm: "linf" or "l2".
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed of the random start.

    Returns:
        A float32 array of adversarial examples shaped like `x`.

    Raises:
        TypeError: when `detector` is not a `FeatureSqueezingDetector`.
        ValueError: for bad budgets, inputs or labels.

    Example:
        >>> x_adv = adaptive_pgd(detector, x, y, eps=0.1, detector_weight=2.0)

    Reference:
        Carlini and Wagner, "Adversarial Examples Are Not Easily Detected:
        Bypassing Ten Detection Methods", AISec 2017.
    """
    from keras_mlsec.attacks import _gradients as g
    from keras_mlsec.attacks import _in_graph
    from keras_mlsec.attacks.base import check_common, make_generator, num_classes_of

    if not isinstance(detector, FeatureSqueezingDetector):
        raise TypeError("Expected `detector` to be a FeatureSqueezingDetector. "
                        f"Received: detector of type {type(detector).__name__}")
    p = check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     step_size=step_size, seed=seed)
    weight = v.check_non_negative(detector_weight, "detector_weight")
    confidence = v.check_non_negative(confidence, "confidence")
    x = v.check_inputs(x, model=detector.model, clip=p["clip"])
    logits_fn = detector._logits_fn
    labels = v.check_labels(y, len(x), num_classes_of(detector.model, logits_fn, x))
    squeezers = [straight_through(s) for s in detector._ready_squeezers(x)]
    step = p.get("step_size") or (2.5 * p["eps"] / p["steps"] if p["eps"] > 0 else 1.0)

    def stacked_logits(xb):  # [clean logits, squeezed logits...] along a new first axis
        return tf.stack([logits_fn(xb)] + [logits_fn(s(xb)) for s in squeezers], axis=0)

    def objective(labels_b, stacked):
        probs = tf.nn.softmax(stacked)
        score = tf.reduce_max(tf.reduce_sum(tf.abs(probs[1:] - probs[:1]), axis=-1), axis=0)
        # Capped margin loss: once misclassified by `confidence`, only the detector term counts.
        hinges = [tf.nn.relu(g.margin(labels_b, stacked[k]) + confidence)
                  for k in range(len(squeezers) + 1)]
        return -tf.add_n(hinges) - weight * score

    generator = make_generator(seed)

    @tf.function(reduce_retracing=True)
    def run(xb, yb):
        return _in_graph.perturb(stacked_logits, xb, yb, eps=p["eps"], norm=p["norm"],
                                 step_size=step, steps=p["steps"], clip=p["clip"],
                                 random=generator, loss_fn=objective)

    parts = [run(tf.constant(x[i:i + p["batch_size"]]), tf.constant(labels[i:i + p["batch_size"]]))
             .numpy() for i in range(0, len(x), p["batch_size"])]
    return np.concatenate(parts).astype(np.float32)
