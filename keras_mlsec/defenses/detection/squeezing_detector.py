"""Feature-squeezing detection of adversarial examples (Xu et al. 2018), and its adaptive attack."""

import numbers

import numpy as np
import tensorflow as tf

from keras_mlsec._core import validation as v
from keras_mlsec.defenses.preprocessing.feature_squeezing import FeatureSqueezing
from keras_mlsec.defenses.preprocessing.median_filter import MedianFilter


def stack_logits(logits_fn, squeezers, x):
    """`[logits of x, logits of each squeezer(x)...]` stacked along a new first axis."""
    return tf.stack([logits_fn(x)] + [logits_fn(s(x)) for s in squeezers], axis=0)


def squeezing_score(stacked_logits):
    """Detector score from `[plain logits, squeezed logits...]` stacked on axis 0.

    The largest over the squeezers of the L1 distance between the softmax of
    the plain input and that of the squeezed input, one per example.
    """
    probs = tf.nn.softmax(stacked_logits)
    return tf.reduce_max(tf.reduce_sum(tf.abs(probs[1:] - probs[:1]), axis=-1), axis=0)


def _default_squeezers(input_shape):
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
        from keras_mlsec._core.models import logits_function

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
        return squeezing_score(stack_logits(self._logits_fn, self.squeezers, x))

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
