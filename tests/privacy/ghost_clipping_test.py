import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec.privacy import DPModel, clipping, ghost_clipping, make_private

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
L = keras.layers


CLIP = 0.05


def _reference(model, x, y):
    """Per-example norms and clipped sums from the vectorized per-example path."""
    def loss_fn(mb):
        pred = model(mb["x"], training=False)
        return LOSS(mb["y"], pred), pred

    batch = clipping.split_microbatches({"x": x, "y": y}, None)
    grads, _, _ = clipping.microbatch_gradients(loss_fn, model.trainable_variables, batch)
    summed, norms = clipping.clip_and_sum(grads, CLIP)
    return norms.numpy(), [g.numpy() for g in summed]


def _reference_norms(model, x, y):
    return _reference(model, x, y)[0]


def _ghost(model, x, y):
    def example_losses(pred):
        return keras.losses.sparse_categorical_crossentropy(y, pred, from_logits=True)

    assert ghost_clipping.find_unsupported(model) is None
    summed, losses, _, norms = ghost_clipping.ghost_gradients(
        model, example_losses, model.trainable_variables, tf.constant(x), l2_norm_clip=CLIP,
        training=False)
    assert losses.shape == (len(x),)
    return norms.numpy(), [g.numpy() for g in summed]


def _check(model, x, y):
    """Ghost norms and clipped sums equal the per-example ones (every example clipped)."""
    expected, expected_sums = _reference(model, x, y)
    got, got_sums = _ghost(model, x, y)
    assert np.all(expected > CLIP)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    for a, b in zip(got_sums, expected_sums):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _labels(n, rng):
    return rng.integers(0, 5, size=n)


def test_dense_mlp_norms_match_per_example():
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((12,)), L.Dense(16, activation="relu"),
                              L.Dropout(0.5), L.Dense(5)])
    x = rng.normal(size=(9, 12)).astype("float32")
    _check(model, x, _labels(9, rng))


def test_dense_on_sequences_both_ghost_and_direct_norms_match():
    rng = np.random.default_rng(1)
    for steps in (3, 40):  # T^2 below and above d_in * d_out = 64
        inputs = keras.Input((steps, 8))
        hidden = L.Dense(8, activation="tanh")(inputs)
        outputs = L.Dense(5)(L.GlobalAveragePooling1D()(hidden))
        model = keras.Model(inputs, outputs)
        x = rng.normal(size=(6, steps, 8)).astype("float32")
        _check(model, x, _labels(6, rng))


@pytest.mark.parametrize("strides,padding,dilation", [
    (1, "same", 1), (2, "valid", 1), (2, "same", 1), (1, "valid", 2)])
def test_conv2d_norms_match_per_example(strides, padding, dilation):
    rng = np.random.default_rng(2)
    model = keras.Sequential([
        keras.Input((9, 9, 2)),
        L.Conv2D(4, 3, strides=strides, padding=padding, dilation_rate=dilation,
                 activation="relu"),
        L.Conv2D(3, (2, 3), use_bias=False),
        L.MaxPooling2D(2, padding="same"), L.Flatten(), L.Dense(5)])
    x = rng.normal(size=(5, 9, 9, 2)).astype("float32")
    _check(model, x, _labels(5, rng))


def test_embedding_and_layer_normalization_norms_match_per_example():
    rng = np.random.default_rng(3)
    inputs = keras.Input((7,), dtype="int32")
    hidden = L.Embedding(6, 4)(inputs)  # repeated ids in a sequence share a row
    hidden = L.LayerNormalization()(hidden)
    hidden = L.Dense(4, activation="relu")(hidden)
    hidden = L.LayerNormalization(axis=(1, 2), center=False)(hidden)
    outputs = L.Dense(5)(L.Flatten()(hidden))
    model = keras.Model(inputs, outputs)
    x = rng.integers(0, 6, size=(6, 7)).astype("int32")
    _check(model, x, _labels(6, rng))


def _dp_step(clipping_mode, model_fn, x, y):
    model = model_fn()
    private = DPModel(model, l2_norm_clip=0.05, noise_multiplier=0.0, clipping=clipping_mode)
    private.compile(optimizer=keras.optimizers.SGD(0.5), loss=LOSS)
    private.train_on_batch(x, y)
    return private, model.get_weights()


def _cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"),
                             L.Flatten(), L.Dense(16, activation="relu"), L.Dense(5)])


def test_one_step_ghost_equals_per_example_with_active_clipping():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    y = _labels(16, rng)
    ghost, ghost_weights = _dp_step("ghost", _cnn, x, y)
    per_example, reference = _dp_step("per_example", _cnn, x, y)
    assert ghost.clipping_path() == "ghost"
    assert per_example.clipping_path() == "per_example"
    norms = _reference_norms(_cnn(), x, y)
    assert np.all(norms > 0.05)  # every example is clipped
    initial = _cnn().get_weights()
    assert max(np.abs(a - b).max() for a, b in zip(reference, initial)) > 1e-4
    for got, expected in zip(ghost_weights, reference):
        np.testing.assert_allclose(got, expected, atol=1e-5)


class _Scale(L.Layer):
    def build(self, shape):
        self.scale = self.add_weight(shape=(shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.scale


def test_auto_falls_back_and_ghost_raises_naming_the_layer():
    def custom():
        return keras.Sequential([keras.Input((4,)), _Scale(name="my_scale"), L.Dense(5)])

    def recurrent():
        return keras.Sequential([keras.Input((3, 4)), L.GRU(4, name="my_gru"), L.Dense(5)])

    rng = np.random.default_rng(5)
    for make, name, shape in ((custom, "my_scale", (4, 4)), (recurrent, "my_gru", (4, 3, 4))):
        auto = DPModel(make(), l2_norm_clip=1.0, noise_multiplier=0.0)
        assert auto.clipping_path() == "per_example"
        auto.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSS)
        loss = auto.train_on_batch(rng.normal(size=shape).astype("float32"), _labels(4, rng))
        assert np.isfinite(loss)
        with pytest.raises(ValueError, match=name):
            DPModel(make(), l2_norm_clip=1.0, noise_multiplier=0.0, clipping="ghost")
    inputs = keras.Input((4,))
    shared = L.Dense(4, name="my_shared")
    twice = keras.Model(inputs, L.Dense(5)(shared(shared(inputs))))
    assert DPModel(twice, l2_norm_clip=1.0, noise_multiplier=0.0).clipping_path() == "per_example"
    with pytest.raises(ValueError, match="my_shared"):
        DPModel(twice, l2_norm_clip=1.0, noise_multiplier=0.0, clipping="ghost")
    unbuilt = keras.Sequential([L.Dense(5, name="my_dense")])  # no Input: no variables yet
    assert "not built" in str(ghost_clipping.find_unsupported(unbuilt))
    with pytest.raises(ValueError, match="my_dense"):
        DPModel(unbuilt, l2_norm_clip=1.0, noise_multiplier=0.0, clipping="ghost").clipping_path()


def test_clipping_option_is_validated_and_serialized():
    with pytest.raises(ValueError, match="clipping"):
        DPModel(_cnn(), l2_norm_clip=1.0, noise_multiplier=0.0, clipping="fast")
    private = DPModel(_cnn(), l2_norm_clip=1.0, noise_multiplier=0.0, clipping="per_example")
    restored = DPModel.from_config(private.get_config())
    assert restored.clipping == "per_example"
    assert DPModel(_cnn(), l2_norm_clip=1.0, noise_multiplier=0.0).clipping_path() == "ghost"
    made = make_private(_cnn(), l2_norm_clip=1.0, noise_multiplier=1.0, delta=1e-5, epochs=1,
                        batch_size=8, num_examples=100, clipping="per_example")
    assert made.clipping_path() == "per_example"


def test_forward_passes_training_to_dropout_in_sequential_and_functional_models():
    inputs = keras.Input((6,))
    functional = keras.Model(inputs, L.Dropout(0.9)(L.Dense(50)(inputs)))
    sequential = keras.Sequential([keras.Input((6,)), L.Dense(50), L.Dropout(0.9)])
    for model in (functional, sequential):
        with tf.GradientTape() as tape:
            dropped, records = ghost_clipping.forward(model, tf.ones((4, 6)), training=True,
                                                      tape=tape)
            kept, _ = ghost_clipping.forward(model, tf.ones((4, 6)), training=False, tape=tape)
        assert len(records) == 1
        assert np.mean(dropped.numpy() == 0) > 0.5
        assert np.mean(kept.numpy() == 0) < 0.1


def test_masks_pass_through_weighted_layers_like_in_the_model():
    inputs = keras.Input((5, 3))
    hidden = L.Dense(4)(L.Masking(0.0)(inputs))
    model = keras.Model(inputs, L.Dense(2)(L.GlobalAveragePooling1D()(hidden)))
    x = np.random.default_rng(6).normal(size=(3, 5, 3)).astype("float32")
    x[:, 3:] = 0.0  # masked steps
    with tf.GradientTape() as tape:
        got, _ = ghost_clipping.forward(model, tf.constant(x), training=False, tape=tape)
    np.testing.assert_allclose(got.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    _check(model, x, np.array([0, 1, 1]))
