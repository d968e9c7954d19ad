"""MedianFilter: hand-worked values, scipy agreement, BPDA gradient, save/load, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from keras_mlsec.defenses import MedianFilter


def test_centre_of_a_known_patch_is_its_median():
    patch = np.array([[0.9, 0.1, 0.5],
                      [0.3, 1.0, 0.2],
                      [0.8, 0.4, 0.7]], np.float32)  # sorted: .1 .2 .3 .4 .5 .7 .8 .9 1
    out = MedianFilter(size=3)(patch[None, :, :, None]).numpy()[0, :, :, 0]
    assert out[1, 1] == pytest.approx(0.5)
    # Corner (0, 0), edge repeated: window rows [.9 .9 .1] [.9 .9 .1] [.3 .3 1] -> .9
    assert out[0, 0] == pytest.approx(0.9)


def test_removes_salt_noise_from_a_flat_image():
    image = np.full((1, 6, 6, 1), 0.25, np.float32)
    image[0, 2, 3, 0] = 1.0
    out = MedianFilter(size=3)(image).numpy()
    np.testing.assert_allclose(out, 0.25)


@pytest.mark.parametrize("size,channels", [(3, 1), (3, 3), (5, 3), (1, 2)])
def test_matches_scipy_median_filter_per_channel(size, channels):
    x = np.random.default_rng(size).random((2, 9, 7, channels)).astype(np.float32)
    expected = ndimage.median_filter(x, size=(1, size, size, 1), mode="reflect")
    out = MedianFilter(size=size)(x)
    assert out.shape == x.shape and out.dtype == tf.float32
    np.testing.assert_array_equal(out.numpy(), expected)


def test_gradient_is_straight_through():
    x = tf.constant(np.random.default_rng(0).random((1, 5, 5, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(MedianFilter(size=3)(x) * 3.0)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.full(x.shape, 3.0))


def test_runs_in_predict_with_unknown_image_size_and_round_trips(tmp_path):
    model = keras.Sequential([keras.Input((None, None, 3)), MedianFilter(size=5)])
    x = np.random.default_rng(2).random((3, 10, 8, 3)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].size == 5
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert MedianFilter().stochastic is False


@pytest.mark.parametrize("size", [2, 0, -3, 17, 3.0, "3", None])
def test_bad_size_is_named(size):
    with pytest.raises(ValueError, match="Expected `size`.*Received: size="):
        MedianFilter(size=size)


def test_non_image_input_is_refused():
    with pytest.raises(ValueError, match="Expected MedianFilter inputs.*Received: input_shape"):
        MedianFilter()(np.zeros((2, 8), np.float32))
