"""Median filtering (spatial smoothing) as a Keras layer."""

import keras
import tensorflow as tf

from keras_mlsec.defenses._bpda import check_float_range, straight_through
from keras_mlsec.defenses._images import check_image_batch


@keras.saving.register_keras_serializable(package="keras_mlsec")
class MedianFilter(keras.layers.Layer):
    """Replaces every pixel by the median of its `size x size` neighbourhood.

    Works per channel on batches of images shaped `(batch, height, width,
    channels)`, grayscale or color. Borders are padded symmetrically (the edge
    pixel repeated, as `scipy.ndimage.median_filter`'s default "reflect"
    mode), so the output keeps the input's shape and dtype, and every output
    value is one of the input values (the range is kept).

    The median is piecewise linear and its gradient only reaches one pixel
    per window; the layer uses a straight-through gradient (BPDA), the
    identity in the backward pass, so attacks see through it.

    Args:
        size: window side, an odd integer in [1, 15]; 1 is the identity.
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype...).

    Returns:
        Called on an image batch, the filtered batch (same shape and dtype).

    Raises:
        ValueError: for an even or out-of-range `size`, or inputs that are not
            4-D image batches.

    Example:
        >>> defended = keras.Sequential([MedianFilter(size=3), classifier])

    Reference:
        Xu, Evans and Qi, "Feature Squeezing: Detecting Adversarial Examples
        in Deep Neural Networks", NDSS 2018 (median smoothing as a squeezer).
    """

    stochastic = False

    def __init__(self, size=3, **kwargs):
        super().__init__(**kwargs)
        size = check_float_range(size, "size", 1, 15, integer=True)
        if size % 2 == 0:
            raise ValueError(
                "Expected `size` to be odd so that the window has a centre pixel. "
                f"Received: size={size}")
        self.size = size
        self._filter = straight_through(self._median)

    def build(self, input_shape):
        check_image_batch(input_shape, "MedianFilter")

    def _median(self, images):
        k = self.size
        if k == 1:
            return tf.identity(images)
        pad = k // 2
        padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
        shape = tf.shape(images)
        batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        # Channels go to the batch axis so that every window holds one channel.
        per_channel = tf.reshape(tf.transpose(padded, [0, 3, 1, 2]),
                                 [batch * channels, height + 2 * pad, width + 2 * pad, 1])
        patches = tf.image.extract_patches(per_channel, sizes=[1, k, k, 1], strides=[1, 1, 1, 1],
                                           rates=[1, 1, 1, 1], padding="VALID")
        # The smallest of the (k*k + 1) / 2 largest values is the median.
        median = tf.reduce_min(tf.math.top_k(patches, k=(k * k + 1) // 2, sorted=False).values,
                               axis=-1)
        median = tf.reshape(median, [batch, channels, height, width])
        return tf.transpose(median, [0, 2, 3, 1])

    def call(self, inputs):
        return self._filter(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size})
        return config
