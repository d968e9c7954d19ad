"""STRIP (Gao et al. 2019): flags inputs whose prediction survives superimposed clean images."""

import numbers

import numpy as np
import tensorflow as tf

from keras_mlsec._core import models
from keras_mlsec._core import validation as v


def _entropy_builder(logits_fn, clip):
    def entropy(xb, backgrounds):
        # (batch, n, ...) superimpositions of every input with every background image.
        mixed = xb[:, None] + backgrounds[None]
        mixed = tf.clip_by_value(mixed, clip[0], clip[1]) if clip is not None else mixed / 2.0
        flat = tf.reshape(mixed, tf.concat([[-1], tf.shape(xb)[1:]], 0))
        probs = tf.nn.softmax(logits_fn(flat))
        h = -tf.reduce_sum(probs * tf.math.log(probs + 1e-12), axis=-1)
        return tf.reduce_mean(tf.reshape(h, (tf.shape(xb)[0], -1)), axis=1)

    return lambda: entropy


class STRIP:
    """Inference-time filter of trojaned inputs by the entropy of perturbed predictions.

    Each input is superimposed with `num_perturbations` clean images (added
    and clipped to `clip`, as in the paper; averaged when `clip` is None) and
    the model's mean prediction entropy over them is its score. A clean
    input's prediction scatters once another image is laid over it (high
    entropy); a trojaned input keeps being classified as the target because
    its trigger survives (low entropy). The threshold is the
    `false_rejection_rate` quantile of the scores of `x_clean`, so that share
    of clean inputs is rejected.

    Args:
        model: the deployed `keras.Model` (logits or softmax output).
        x_clean: clean inputs held by the defender: superimposed images and
            threshold calibration.
        false_rejection_rate: share of clean inputs flagged, in (0, 1).
        num_perturbations: clean images laid over each input.
        clip: input domain `(min, max)` for the superimposition, or None.
        batch_size: inputs per forward pass (each expands to
            `num_perturbations` images).
        seed: seed of the choice of superimposed images.

    Attributes:
        threshold: inputs scoring below it are flagged.

    Raises:
        ValueError: for a rate outside (0, 1), bad counts or inputs.
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> strip = STRIP(model, x_val, false_rejection_rate=0.01)
        >>> flags = strip.flag(x_incoming)

    Reference:
        Gao et al., "STRIP: A Defence Against Trojan Attacks on Deep Neural
        Networks", ACSAC 2019.
    """

    def __init__(self, model, x_clean, *, false_rejection_rate=0.01, num_perturbations=32,
                 clip=(0.0, 1.0), batch_size=16, seed=0):
        self.model = v.check_model(model)
        rate = false_rejection_rate
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 < rate < 1:
            raise ValueError("Expected `false_rejection_rate` in (0, 1). "
                             f"Received: false_rejection_rate={rate!r}")
        self.false_rejection_rate = float(rate)
        self.num_perturbations = v.check_positive_int(num_perturbations, "num_perturbations")
        self.clip = v.check_clip(clip)
        self.batch_size = v.check_positive_int(batch_size, "batch_size")
        self.seed = v.check_seed(seed)
        self.x_clean = v.check_inputs(x_clean, model=self.model, clip=self.clip, name="x_clean")
        rng = np.random.default_rng(self.seed)
        chosen = rng.choice(len(self.x_clean), size=self.num_perturbations,
                            replace=len(self.x_clean) < self.num_perturbations)
        self._backgrounds = tf.constant(self.x_clean[chosen])
        logits_fn = models.logits_function(self.model)
        self._entropy = models.compiled(logits_fn, ("strip", self.clip),
                                        _entropy_builder(logits_fn, self.clip))
        self.clean_scores = self.score(self.x_clean)
        self.threshold = float(np.quantile(self.clean_scores, self.false_rejection_rate))

    def score(self, x):
        """Mean prediction entropy of each input under superimposition (low = suspect)."""
        x = v.check_inputs(x, model=self.model, clip=self.clip)
        parts = [self._entropy(tf.constant(x[i:i + self.batch_size]), self._backgrounds)
                 for i in range(0, len(x), self.batch_size)]
        return tf.concat(parts, 0).numpy().astype(np.float64)

    def flag(self, x):
        """True for inputs whose score is below `threshold` (suspected trojaned)."""
        return self.score(x) < self.threshold

    def __repr__(self):
        return (f"STRIP(false_rejection_rate={self.false_rejection_rate}, "
                f"num_perturbations={self.num_perturbations}, threshold={self.threshold:.4g})")
