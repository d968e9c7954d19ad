"""Output hardening: what a served classifier reveals, reduced to hinder model extraction."""

import keras
import tensorflow as tf

from keras_mlsec._core import validation as v
from keras_mlsec.defenses._bpda import check_float_range, straight_through

MODES = ("top1", "top_k", "round", "reverse_sigmoid", "noise")


@keras.saving.register_keras_serializable(package="keras_mlsec")
class OutputHardening(keras.layers.Layer):
    """A layer appended to a served classifier that reveals less of its scores.

    Modes (input: class probabilities, or logits with `from_logits=True`):

    - "top1": the one-hot arg-max (label only); accuracy is unchanged.
    - "top_k": the `k` largest probabilities renormalised, the rest 0.
    - "round": probabilities rounded to `decimals` decimals (Tramer et al. 2016).
    - "reverse_sigmoid": `y' = alpha (y - beta (sigmoid(gamma logit(y)) - 1/2))`,
      renormalised (Lee et al. 2019): a perturbation that grows with the
      confidence and poisons the gradients a stealer trains on.
    - "noise": Gaussian noise of `stddev` added, clipped at 0, renormalised
      (random: `stochastic` is True).

    "top1", "top_k" and "round" are non-differentiable; they pass gradients
    straight through (BPDA) so white-box evaluations still see the model. The
    layer's configuration is saved in the `.keras` file with the model.

    Args:
        mode: one of "top1", "top_k", "round", "reverse_sigmoid", "noise".
        k: classes kept by "top_k" (>= 1).
        decimals: decimals kept by "round", in [0, 8].
        beta: strength of "reverse_sigmoid", in (0, 1].
        gamma: slope of "reverse_sigmoid", > 0.
        stddev: standard deviation of "noise", > 0.
        from_logits: whether the input is logits (a softmax is applied first).
        seed: seed of the "noise" generator.
        **kwargs: standard `keras.layers.Layer` arguments.

    Raises:
        ValueError: for an unknown `mode` or a bad parameter; on a single-column
            input (hardening needs one probability per class).

    Example:
        >>> served = keras.Sequential([model, OutputHardening(mode="top_k", k=1)])
        >>> served.save("served.keras")  # the hardening travels with the model

    Reference:
        Tramer et al., "Stealing Machine Learning Models via Prediction APIs",
        USENIX Security 2016; Lee et al., "Defending Against NN Model Stealing
        Attacks Using Deceptive Perturbations", IEEE S&P Workshops 2019.
    """

    def __init__(self, mode="top1", *, k=3, decimals=2, beta=0.7, gamma=0.4, stddev=0.05,
                 from_logits=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.mode = v.check_choice(mode, MODES, "mode")
        self.k = v.check_positive_int(k, "k")
        self.decimals = check_float_range(decimals, "decimals", 0, 8, integer=True)
        self.beta = check_float_range(beta, "beta", 0.0, 1.0)
        if self.beta == 0:
            raise ValueError("Expected `beta` in (0, 1]. Received: beta=0.0")
        self.gamma = v.check_positive(gamma, "gamma")
        self.stddev = v.check_positive(stddev, "stddev")
        self.from_logits = bool(from_logits)
        self.seed = v.check_seed(seed)
        self.stochastic = self.mode == "noise"
        self.seed_generator = keras.random.SeedGenerator(self.seed) if self.stochastic else None
        self._hard = straight_through(self._harden_discrete)

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] < 2:
            raise ValueError(
                "Expected one probability per class (batch, classes >= 2) as input of "
                f"OutputHardening. Received: input shape {tuple(input_shape)}. Give a "
                "sigmoid model a two-column output (1 - p, p).")
        super().build(input_shape)

    def _harden_discrete(self, probs):
        classes = tf.shape(probs)[-1]
        if self.mode == "top1":
            return tf.one_hot(tf.argmax(probs, -1), classes, dtype=probs.dtype)
        if self.mode == "top_k":
            k = tf.minimum(self.k, classes)
            kth = tf.math.top_k(probs, k).values[..., -1:]
            kept = tf.where(probs >= kth, probs, tf.zeros_like(probs))
            return kept / tf.reduce_sum(kept, -1, keepdims=True)
        scale = 10.0 ** self.decimals
        return tf.round(probs * scale) / scale

    def call(self, inputs, training=None):
        probs = tf.nn.softmax(inputs) if self.from_logits else tf.convert_to_tensor(inputs)
        if self.mode in ("top1", "top_k", "round"):
            return self._hard(probs)
        if self.mode == "reverse_sigmoid":
            clipped = tf.clip_by_value(probs, 1e-7, 1.0 - 1e-7)
            logit = tf.math.log(clipped) - tf.math.log1p(-clipped)
            perturbed = probs - self.beta * (tf.sigmoid(self.gamma * logit) - 0.5)
        else:
            noise = keras.random.normal(tf.shape(probs), stddev=self.stddev,
                                        seed=self.seed_generator, dtype=probs.dtype)
            perturbed = probs + noise
        perturbed = tf.maximum(perturbed, 0.0) + 1e-12
        return perturbed / tf.reduce_sum(perturbed, -1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "k": self.k, "decimals": self.decimals,
                       "beta": self.beta, "gamma": self.gamma, "stddev": self.stddev,
                       "from_logits": self.from_logits, "seed": self.seed})
        return config
