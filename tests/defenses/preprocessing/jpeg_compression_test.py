"""JPEGCompression: fixed points, closeness, BPDA gradient, save/load, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec.defenses import JPEGCompression
from test_case import digits


def test_flat_images_survive_jpeg_exactly():
    # A constant block has only a DC coefficient, which JPEG keeps (8-bit levels).
    for channels in (1, 3):
        x = np.full((2, 16, 16, channels), 128 / 255, np.float32)
        np.testing.assert_allclose(JPEGCompression(quality=50)(x).numpy(), x, atol=1 / 255)


@pytest.mark.parametrize("channels", [1, 3])
def test_keeps_shape_dtype_and_range_and_stays_close_on_digits(channels):
    _, (x, _) = digits(28)
    x = np.repeat(x[:8], channels, axis=-1)
    out = JPEGCompression(quality=75)(x).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    error = np.abs(out - x).mean()
    assert 0.0 < error < 0.05


def test_lower_quality_loses_more():
    _, (x, _) = digits(28)
    errors = [np.abs(JPEGCompression(quality=q)(x[:8]).numpy() - x[:8]).mean() for q in (95, 10)]
    assert errors[0] < errors[1]


def test_without_bpda_jpeg_has_no_gradient_with_bpda_it_is_the_identity():
    layer = JPEGCompression(quality=75)
    x = tf.constant(np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        raw = tf.reduce_sum(layer._jpeg(x))
        defended = tf.reduce_sum(layer(x) * 2.0)
    raw_grad = tape.gradient(raw, x)
    assert raw_grad is None or not np.any(raw_grad.numpy())
    np.testing.assert_array_equal(tape.gradient(defended, x).numpy(), np.full(x.shape, 2.0))


def test_runs_in_tf_function_predict_and_round_trips(tmp_path):
    model = keras.Sequential([keras.Input((28, 28, 1)), JPEGCompression(quality=30),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    _, (x, _) = digits(28)
    compiled = tf.function(lambda t: model(t))
    np.testing.assert_allclose(compiled(tf.constant(x[:5])).numpy(),
                               model.predict(x[:5], verbose=0), atol=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].quality == 30 and JPEGCompression().stochastic is False
    np.testing.assert_array_equal(loaded.predict(x[:5], verbose=0), model.predict(x[:5], verbose=0))


@pytest.mark.parametrize("quality", [0, 101, 75.0, "75", None, True])
def test_bad_quality_is_named(quality):
    with pytest.raises(ValueError, match="Expected `quality`.*Received: quality="):
        JPEGCompression(quality=quality)


@pytest.mark.parametrize("shape", [(2, 8), (2, 8, 8, 2)])
def test_unsupported_inputs_are_refused(shape):
    with pytest.raises(ValueError, match="Expected JPEGCompression inputs.*Received: input_shape"):
        JPEGCompression()(np.zeros(shape, np.float32))
