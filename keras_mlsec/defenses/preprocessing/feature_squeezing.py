"""Bit-depth reduction (feature squeezing) as a Keras layer."""

import keras
import tensorflow as tf

from keras_mlsec._core import validation as v
from keras_mlsec.defenses._bpda import check_float_range, straight_through


@keras.saving.register_keras_serializable(package="keras_mlsec")
class FeatureSqueezing(keras.layers.Layer):
    """Reduces the bit depth of every input value (feature squeezing).

    Each value is clipped to `clip = (low, high)`, mapped to [0, 1], rounded to
    one of `2**bit_depth` evenly spaced levels,
    `round(x * (2**b - 1)) / (2**b - 1)`, and mapped back to `[low, high]`.
    The layer is element-wise, so it works on any shape: images, sequences and
    tabular rows alike. Shape and dtype are kept and outputs stay in `clip`.

    Rounding has a zero gradient almost everywhere; the layer therefore uses
    a straight-through gradient (BPDA): the backward pass is the identity, so
    attacks and adversarial training see through it.

    Args:
        bit_depth: bits kept per value, an integer in [1, 16]; 1 binarises
            at the middle of the range.
        clip: `(low, high)` input range, `(0.0, 1.0)` by default (images
            scaled to [0, 1]); pass the data's range for other scales.
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype...).

    Returns:
        Called on a tensor, a tensor of the same shape and dtype, with at most
        `2**bit_depth` distinct values, all within `clip`.

    Raises:
        ValueError: for a `bit_depth` outside [1, 16] or a bad `clip`.

    Example:
        >>> squeeze = FeatureSqueezing(bit_depth=1)
        >>> squeeze(np.array([[0.2, 0.6]], "float32"))  # [[0., 1.]]
        >>> model = keras.Sequential([FeatureSqueezing(bit_depth=4), classifier])

    Reference:
        Xu, Evans and Qi, "Feature Squeezing: Detecting Adversarial Examples
        in Deep Neural Networks", NDSS 2018.
    """

    stochastic = False

    def __init__(self, bit_depth=4, clip=(0.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.bit_depth = check_float_range(bit_depth, "bit_depth", 1, 16, integer=True)
        checked = v.check_clip(clip)
        if checked is None:
            raise ValueError(
                "Expected `clip` to be a pair (min, max) of numbers: bit-depth reduction "
                f"needs a bounded range. Received: clip={clip!r}")
        self.clip = checked
        self.supports_masking = True
        self._squeeze = straight_through(self._squeeze_values)

    def _squeeze_values(self, x):
        low, high = self.clip
        levels = float(2 ** self.bit_depth - 1)
        unit = (tf.clip_by_value(x, low, high) - low) / (high - low)
        squeezed = tf.round(unit * levels) / levels
        return tf.clip_by_value(squeezed * (high - low) + low, low, high)

    def call(self, inputs):
        return self._squeeze(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"bit_depth": self.bit_depth, "clip": list(self.clip)})
        return config
