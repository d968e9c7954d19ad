"""FeatureSqueezing: hand-worked values, BPDA gradient, save/load, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec.defenses import FeatureSqueezing
from keras_mlsec.defenses._bpda import straight_through


def test_bit_depth_one_rounds_to_the_nearest_end():
    out = FeatureSqueezing(bit_depth=1)(np.array([[0.2, 0.6]], np.float32))
    np.testing.assert_array_equal(out.numpy(), [[0.0, 1.0]])


def test_bit_depth_two_keeps_four_levels():
    # 2 bits: levels 0, 1/3, 2/3, 1; 0.4 * 3 = 1.2 -> 1/3, 0.9 * 3 = 2.7 -> 1.
    out = FeatureSqueezing(bit_depth=2)(np.array([[0.4, 0.9, 0.1]], np.float32)).numpy()
    np.testing.assert_allclose(out, [[1 / 3, 1.0, 0.0]], rtol=1e-6)


def test_clip_rescales_another_range_and_clamps_outliers():
    layer = FeatureSqueezing(bit_depth=1, clip=(-1.0, 1.0))
    out = layer(np.array([[-0.2, 0.3, 5.0, -7.0]], np.float32)).numpy()
    np.testing.assert_array_equal(out, [[-1.0, 1.0, 1.0, -1.0]])


def test_works_on_tabular_and_image_shapes_keeping_shape_and_dtype():
    for shape in [(5, 30), (2, 8, 8, 1), (2, 4, 4, 3), (3, 2, 2, 2, 2)]:
        x = np.random.default_rng(0).random(shape).astype(np.float32)
        out = FeatureSqueezing(bit_depth=3)(x)
        assert out.shape == shape and out.dtype == tf.float32
        assert len(np.unique(out.numpy())) <= 8


def test_gradient_is_straight_through_where_rounding_has_none():
    x = tf.constant([[0.2, 0.6, 0.9]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        raw = tf.reduce_sum(tf.round(x * 15.0) / 15.0 * 2.0)
        squeezed = tf.reduce_sum(FeatureSqueezing(bit_depth=4)(x) * 2.0)
    raw_grad = tape.gradient(raw, x)
    assert raw_grad is None or not np.any(raw_grad.numpy())
    np.testing.assert_array_equal(tape.gradient(squeezed, x).numpy(), [[2.0, 2.0, 2.0]])


def test_straight_through_helper_returns_the_upstream_gradient():
    x = tf.constant([0.3, 1.7])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = straight_through(tf.round)(x) * tf.constant([3.0, -1.0])
    np.testing.assert_array_equal(y.numpy(), [0.0, -2.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [3.0, -1.0])


def test_save_and_load_round_trip(tmp_path):
    model = keras.Sequential([keras.Input((6,)), FeatureSqueezing(bit_depth=2, clip=(-1, 1)),
                              keras.layers.Dense(3)])
    x = np.random.default_rng(1).uniform(-1, 1, (4, 6)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[0], FeatureSqueezing)
    assert loaded.layers[0].get_config()["clip"] == [-1.0, 1.0]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_is_not_stochastic_and_keeps_output_shape():
    layer = FeatureSqueezing()
    assert layer.stochastic is False
    assert layer.compute_output_shape((None, 7)) == (None, 7)


@pytest.mark.parametrize("bit_depth", [0, 17, 2.5, "4", True, None])
def test_bad_bit_depth_is_named(bit_depth):
    with pytest.raises(ValueError, match="Expected `bit_depth`.*Received: bit_depth="):
        FeatureSqueezing(bit_depth=bit_depth)


@pytest.mark.parametrize("clip", [None, (1.0, 0.0), (0.0,), "ab", (0.0, float("inf"))])
def test_bad_clip_is_named(clip):
    with pytest.raises(ValueError, match="Expected `clip`.*Received: clip="):
        FeatureSqueezing(clip=clip)
