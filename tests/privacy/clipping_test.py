import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec.privacy import clipping


def test_clip_factors_hand_worked():
    factors = clipping.clip_factors(tf.constant([5.0, 0.5, 1.0]), 1.0).numpy()
    np.testing.assert_allclose(factors, [0.2, 1.0, 1.0], rtol=1e-6)


def test_zero_gradient_is_not_nan():
    assert clipping.clip_factors(tf.constant([0.0]), 1.0).numpy()[0] == 1.0


def test_global_norm_spans_all_variables():
    grads = [tf.constant([[3.0], [0.0]]), tf.constant([[[4.0, 0.0]], [[0.0, 2.0]]])]
    np.testing.assert_allclose(clipping.global_norms(grads).numpy(), [5.0, 2.0], rtol=1e-6)


def test_clip_and_sum_hand_worked():
    # Example 1: (3, 4) has norm 5 and is scaled by 0.2; example 2: (0.3, 0.4) is unchanged.
    grads = [tf.constant([[3.0], [0.3]]), tf.constant([[4.0], [0.4]])]
    summed, norms = clipping.clip_and_sum(grads, 1.0)
    np.testing.assert_allclose(norms.numpy(), [5.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(summed[0].numpy(), [0.6 + 0.3], rtol=1e-6)
    np.testing.assert_allclose(summed[1].numpy(), [0.8 + 0.4], rtol=1e-6)


def _tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(2)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype("float32")
    y = rng.integers(0, 2, size=6).astype("int32")
    return model, loss, x, y


def _loop_gradients(model, loss, x, y):
    rows = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            value = loss(y[i:i + 1], model(x[i:i + 1]))
        rows.append([g.numpy() for g in tape.gradient(value, model.trainable_variables)])
    return rows


def test_per_example_gradients_equal_a_loop():
    model, loss, x, y = _tiny_model()

    def loss_fn(mb):
        pred = model(mb["x"])
        return loss(mb["y"], pred), pred

    batches = clipping.split_microbatches({"x": x, "y": y}, None)
    grads, losses, preds = clipping.microbatch_gradients(
        loss_fn, model.trainable_variables, batches)
    expected = _loop_gradients(model, loss, x, y)
    for i in range(len(x)):
        for got, want in zip(grads, expected[i]):
            np.testing.assert_allclose(got[i].numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clipping.merge_microbatches(preds).numpy(), model(x).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert losses.shape == (6,)


def test_microbatch_gradient_is_the_mean_over_the_microbatch():
    model, loss, x, y = _tiny_model()

    def loss_fn(mb):
        pred = model(mb["x"])
        return loss(mb["y"], pred), pred

    batches = clipping.split_microbatches({"x": x, "y": y}, 2)
    grads, _, _ = clipping.microbatch_gradients(loss_fn, model.trainable_variables, batches)
    per_example = _loop_gradients(model, loss, x, y)
    for v_index, got in enumerate(grads):
        first = np.mean([per_example[i][v_index] for i in range(3)], axis=0)
        np.testing.assert_allclose(got[0].numpy(), first, rtol=1e-5, atol=1e-6)


def test_private_gradients_without_noise_and_clip_is_the_mean_gradient():
    model, loss, x, y = _tiny_model()

    def loss_fn(mb):
        pred = model(mb["x"])
        return loss(mb["y"], pred), pred

    grads, _, _ = clipping.private_gradients(
        loss_fn, model.trainable_variables, {"x": x, "y": y}, l2_norm_clip=1e6,
        noise_multiplier=0.0)
    with tf.GradientTape() as tape:
        value = loss(y, model(x))
    for got, want in zip(grads, tape.gradient(value, model.trainable_variables)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_gaussian_noise_has_the_requested_std():
    zeros = [tf.zeros((200, 100))]
    noisy = clipping.add_gaussian_noise(zeros, 0.7, keras.random.SeedGenerator(1))[0].numpy()
    assert noisy.std() == pytest.approx(0.7, rel=0.03)
    assert abs(noisy.mean()) < 0.01
    again = clipping.add_gaussian_noise(zeros, 0.7, keras.random.SeedGenerator(1))[0].numpy()
    np.testing.assert_array_equal(noisy, again)
    assert clipping.add_gaussian_noise(zeros, 0.0, 0)[0] is zeros[0]


def test_standard_normal_is_normal_with_independent_pairs():
    from scipy import stats

    draws = clipping.standard_normal(200_001, keras.random.SeedGenerator(3)).numpy()
    assert draws.shape == (200_001,) and draws.dtype == np.float32
    assert stats.kstest(draws, "norm").pvalue > 1e-3
    assert draws.mean() == pytest.approx(0.0, abs=0.01)
    assert draws.std() == pytest.approx(1.0, rel=0.01)
    assert stats.kurtosis(draws) == pytest.approx(0.0, abs=0.05)  # the tails, not just the std
    cosines, sines = draws[:100_000], draws[100_001:]  # the two draws of each pair
    assert abs(np.corrcoef(cosines, sines[:100_000])[0, 1]) < 0.01
    assert abs(np.corrcoef(cosines ** 2, sines[:100_000] ** 2)[0, 1]) < 0.01
    wide = tf.function(lambda n: clipping.standard_normal(n, 5, "float64"))(tf.constant(7))
    assert wide.shape == (7,) and wide.dtype == tf.float64  # a size known at run time only


def test_gaussian_noise_is_split_across_tensors_of_any_shape():
    tensors = [tf.zeros((3, 4)), tf.zeros((5,)), tf.zeros((0, 2))]
    noisy = clipping.add_gaussian_noise(tensors, 2.0, keras.random.SeedGenerator(0))
    assert [tuple(t.shape) for t in noisy] == [(3, 4), (5,), (0, 2)]
    values = np.concatenate([t.numpy().ravel() for t in noisy])
    assert len(np.unique(values)) == 17  # no draw reused between tensors
    dynamic = tf.function(lambda t: clipping.add_gaussian_noise([t], 1.0, 0)[0],
                          input_signature=[tf.TensorSpec([None, 2])])(tf.zeros((6, 2)))
    assert dynamic.shape == (6, 2) and np.all(dynamic.numpy() != 0)
