import keras
import numpy as np
import pytest
from test_case import accuracy, digits

from keras_mlsec.privacy import DPModel, make_private, noise_multiplier_for

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _mlp(seed=0, hidden=16):
    init = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hidden, activation="relu", kernel_initializer=init(seed)),
        keras.layers.Dense(10, kernel_initializer=init(seed + 1)),
    ])


def _data(n=32):
    (x, y), _ = digits()
    return x[:n].reshape(n, -1), y[:n]


def _step(model, x, y, lr=0.1):
    before = [w.copy() for w in model.model.get_weights()] if isinstance(model, DPModel) \
        else [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    after = model.model.get_weights() if isinstance(model, DPModel) else model.get_weights()
    return np.concatenate([(a - b).ravel() for a, b in zip(after, before)])


def _private(clip, sigma, seed=0, lr=0.1, **kwargs):
    model = DPModel(_mlp(), l2_norm_clip=clip, noise_multiplier=sigma, seed=seed, **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(lr), loss=LOSS)
    return model


def test_without_noise_and_clipping_a_step_equals_plain_sgd():
    x, y = _data()
    plain = _mlp()
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSS)
    expected = _step(plain, x, y)
    got = _step(_private(1e6, 0.0), x, y)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert np.linalg.norm(got) > 1e-3


def test_tiny_clip_bounds_the_update_norm():
    x, y = _data()
    update = _step(_private(1e-3, 0.0, lr=0.5), x, y)
    norm = np.linalg.norm(update)
    assert norm <= 0.5 * 1e-3 * (1 + 1e-4)
    assert norm > 0.0


def test_microbatches_also_bound_the_update():
    x, y = _data()
    update = _step(_private(1e-3, 0.0, lr=0.5, num_microbatches=4), x, y)
    assert np.linalg.norm(update) <= 0.5 * 1e-3 * (1 + 1e-4)


def test_batch_not_divisible_by_microbatches_is_clipped_per_example():
    x, y = _data(30)
    update = _step(_private(1e-3, 0.0, lr=0.5, num_microbatches=4), x, y)
    assert 0.0 < np.linalg.norm(update) <= 0.5 * 1e-3 * (1 + 1e-4)
    model = _private(1.0, 1.0, num_microbatches=4)
    history = model.fit(*_data(100), epochs=1, batch_size=32, verbose=0)  # last batch: 4
    assert np.isfinite(history.history["loss"][0])


def test_noise_std_is_clip_times_sigma_over_batch():
    x, y = _data(32)
    clean = _step(_private(1.0, 0.0, lr=1.0), x, y)
    noisy = _step(_private(1.0, 4.0, seed=3, lr=1.0), x, y)
    # 1,210 parameters, each with independent noise of std lr * C * sigma / batch.
    assert np.std(noisy - clean) == pytest.approx(1.0 * 4.0 / 32, rel=0.1)


def test_fit_on_digits_beats_chance_with_noise():
    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = digits()
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    model = DPModel(_mlp(hidden=32), l2_norm_clip=1.0, noise_multiplier=0.8, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss=LOSS, metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=128, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    assert set(history.history) >= {"loss", "accuracy"}
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert accuracy(model, x_test, y_test) > 0.7  # chance is 0.1; about 0.93 measured


def test_save_and_load_round_trip(tmp_path):
    x, y = _data()
    model = _private(0.8, 0.5, seed=7, num_microbatches=4)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = str(tmp_path / "private.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, DPModel)
    assert (loaded.l2_norm_clip, loaded.noise_multiplier, loaded.num_microbatches,
            loaded.seed) == (0.8, 0.5, 4, 7)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)  # still trainable after loading


def test_make_private_calibrates_noise_and_keeps_compile_settings():
    x, y = _data(64)
    base = _mlp()
    base.compile(optimizer=keras.optimizers.SGD(0.2), loss=LOSS, metrics=["accuracy"])
    setup = dict(delta=1e-3, epochs=2, batch_size=16, num_examples=64)
    private = make_private(base, l2_norm_clip=1.0, target_epsilon=5.0, **setup)
    assert isinstance(private, DPModel)
    assert private.noise_multiplier == pytest.approx(noise_multiplier_for(5.0, **setup))
    assert private.optimizer is not base.optimizer
    history = private.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert "accuracy" in history.history
    fixed = make_private(_mlp(), l2_norm_clip=1.0, noise_multiplier=1.3, **setup)
    assert fixed.noise_multiplier == 1.3 and not fixed.compiled


@pytest.mark.parametrize("kwargs,match", [
    (dict(l2_norm_clip=0.0, noise_multiplier=1.0), "l2_norm_clip"),
    (dict(l2_norm_clip=-1.0, noise_multiplier=1.0), "l2_norm_clip"),
    (dict(l2_norm_clip=1.0, noise_multiplier=-0.5), "noise_multiplier"),
    (dict(l2_norm_clip=1.0, noise_multiplier=1.0, num_microbatches=0), "num_microbatches"),
])
def test_dp_model_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DPModel(_mlp(), **kwargs)


def test_batch_normalization_is_refused_with_the_fix():
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8),
                              keras.layers.BatchNormalization(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="GroupNormalization or keras.layers.LayerNormal"):
        DPModel(model, l2_norm_clip=1.0, noise_multiplier=1.0)
    nested = keras.Sequential([keras.Input((64,)), model])
    with pytest.raises(ValueError, match="BatchNormalization"):
        make_private(nested, l2_norm_clip=1.0, noise_multiplier=1.0, delta=1e-5, epochs=1,
                     batch_size=10, num_examples=100)


def test_not_a_model():
    with pytest.raises(TypeError, match="model"):
        DPModel(lambda x: x, l2_norm_clip=1.0, noise_multiplier=1.0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(noise_multiplier=1.0, target_epsilon=1.0), "exactly one"),
    (dict(), "exactly one"),
    (dict(noise_multiplier=1.0, delta=0.01), "delta"),
    (dict(noise_multiplier=1.0, batch_size=1000), "batch_size"),
    (dict(noise_multiplier=-1.0), "noise_multiplier"),
    (dict(noise_multiplier=1.0, l2_norm_clip=0.0), "l2_norm_clip"),
])
def test_make_private_bad_input(kwargs, match):
    setup = dict(l2_norm_clip=1.0, delta=1e-4, epochs=1, batch_size=10, num_examples=100)
    setup.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_private(_mlp(), **setup)
