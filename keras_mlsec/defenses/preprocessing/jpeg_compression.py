"""JPEG compression as a Keras layer."""

import keras
import tensorflow as tf

from keras_mlsec.defenses._bpda import check_float_range, straight_through
from keras_mlsec.defenses._images import check_image_batch


@keras.saving.register_keras_serializable(package="keras_mlsec")
class JPEGCompression(keras.layers.Layer):
    """Encodes every image as JPEG at `quality` and decodes it again.

    Inputs are batches of images shaped `(batch, height, width, channels)`
    with 1 (grayscale) or 3 (RGB) channels and values in [0, 1] (values
    outside are clipped first). Each image goes through
    `tf.image.adjust_jpeg_quality` (8-bit quantisation, then the JPEG codec);
    the output has the input's shape and dtype, with values in [0, 1].

    JPEG coding has no gradient; the layer uses a straight-through gradient
    (BPDA), the identity in the backward pass, so attacks see through it.
    JPEG works on 8x8 blocks: on very small images (such as the 8x8 digits)
    the whole image is one block and mostly loses its high frequencies.

    Args:
        quality: JPEG quality, an integer in [1, 100] (higher keeps more
            detail).
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype...).

    Returns:
        Called on an image batch, the JPEG-compressed batch.

    Raises:
        ValueError: for a `quality` outside [1, 100], or inputs that are not
            4-D image batches with 1 or 3 channels.

    Example:
        >>> defended = keras.Sequential([JPEGCompression(quality=75), classifier])

    Reference:
        Dziugaite, Ghahramani and Roy, "A study of the effect of JPG
        compression on adversarial images", 2016; Guo et al., "Countering
        Adversarial Images using Input Transformations", ICLR 2018.
    """

    stochastic = False

    def __init__(self, quality=75, **kwargs):
        super().__init__(**kwargs)
        self.quality = check_float_range(quality, "quality", 1, 100, integer=True)
        self._compress = straight_through(self._jpeg)

    def build(self, input_shape):
        check_image_batch(input_shape, "JPEGCompression", channels=(1, 3))

    def _jpeg(self, images):
        dtype = images.dtype
        pixels = tf.image.convert_image_dtype(
            tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0), tf.uint8, saturate=True)
        coded = tf.map_fn(lambda image: tf.image.adjust_jpeg_quality(image, self.quality),
                          pixels, fn_output_signature=tf.TensorSpec(None, tf.uint8))
        coded = tf.ensure_shape(coded, images.shape)
        return tf.cast(tf.image.convert_image_dtype(coded, tf.float32), dtype)

    def call(self, inputs):
        return self._compress(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"quality": self.quality})
        return config
