import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec.privacy import DPModel, make_private, poisson_dataset
from keras_mlsec.privacy.sampling import InStepSampler


def _sizes_and_members(dataset):
    sizes, members = [], []
    for x, _ in dataset:
        sizes.append(len(x))
        members.append(np.asarray(x)[:, 0].astype(int))
    return np.array(sizes), np.concatenate(members)


def test_batch_sizes_follow_the_binomial_and_every_example_can_appear():
    n, batch = 500, 25  # q = 0.05
    x = np.arange(n, dtype="float32")[:, None]
    dataset = poisson_dataset(x, np.zeros(n, "int32"), batch_size=batch, seed=3)
    assert dataset._keras_mlsec_sampling["steps_per_epoch"] == math.ceil(n / batch) == 20
    sizes, members = [], []
    for _ in range(15):  # 15 passes = 15 epochs of 20 batches
        s, m = _sizes_and_members(dataset)
        assert len(s) == 20
        sizes.append(s)
        members.append(m)
    sizes = np.concatenate(sizes)
    q = batch / n
    assert sizes.mean() == pytest.approx(n * q, rel=0.05)
    assert sizes.var() == pytest.approx(n * q * (1 - q), rel=0.25)
    assert len(np.unique(sizes)) > 5  # variable sizes
    members = np.concatenate(members)
    assert set(members.tolist()) == set(range(n))  # 300 draws at q = 0.05: all seen
    for chunk in np.split(members, np.cumsum(sizes)[:-1]):
        assert len(np.unique(chunk)) == len(chunk)  # no duplicates inside a batch


def test_empty_first_steps_and_all_empty_epochs_keep_the_step_count():
    tf.random.set_seed(0)  # the draws depend on it too: fixed, so the cases below occur
    # n=2, q=1/2: both steps of an epoch are empty in 1 epoch of 16.
    tiny = poisson_dataset(np.arange(2, dtype="float32")[:, None], batch_size=1, seed=1)
    epochs = [[len(b) for b in tiny] for _ in range(128)]
    assert all(len(sizes) == 2 for sizes in epochs)
    assert [0, 0] in epochs and any(s[0] == 0 and s[1] > 0 for s in epochs)
    # n=50, q=1/50: the first step is empty in about a third of epochs.
    small = poisson_dataset(np.arange(50, dtype="float32")[:, None], batch_size=1, seed=2)
    epochs = [[len(b) for b in small] for _ in range(20)]
    assert all(len(sizes) == 50 for sizes in epochs)
    assert any(sizes[0] == 0 for sizes in epochs)


def test_seeded_passes_are_reproducible_and_differ_between_epochs():
    x = np.arange(100, dtype="float32")[:, None]
    first = poisson_dataset(x, batch_size=10, seed=7)
    second = poisson_dataset(x, batch_size=10, seed=7)
    epoch_a = [np.asarray(b).ravel().tolist() for b in first]
    epoch_b = [np.asarray(b).ravel().tolist() for b in first]
    assert epoch_a == [np.asarray(b).ravel().tolist() for b in second]
    assert epoch_a != epoch_b


def _private(sigma=1.0):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    private = DPModel(model, l2_norm_clip=1.0, noise_multiplier=sigma, seed=0)
    private.compile(optimizer=keras.optimizers.SGD(0.1),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    return private


def test_dp_model_trains_on_poisson_batches_including_empty_ones():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4)).astype("float32"), rng.integers(0, 3, 20)
    dataset = poisson_dataset(x, y, batch_size=1, seed=0)  # q = 0.05: many empty batches
    sizes, _ = _sizes_and_members(dataset)
    assert (sizes == 0).any()
    private = _private()
    history = private.fit(dataset, epochs=2, verbose=0)
    assert all(np.isfinite(w).all() for w in private.get_weights())
    assert np.isfinite(history.history["loss"]).all()
    assert private.fit_sampling["sampling"] == "poisson"
    assert private._expected_batch_size == 1


def test_poisson_update_is_divided_by_the_expected_batch_size():
    x = np.ones((10, 4), "float32")
    y = np.zeros(10, "int32")
    private = _private(sigma=0.0)
    private.fit(poisson_dataset(x, y, batch_size=5, seed=0), epochs=1, verbose=0)  # traces
    before = [w.copy() for w in private.get_weights()]
    private.train_on_batch(x[:2], y[:2])  # 2 identical examples, expected size 5
    step_poisson = np.concatenate([(a - b).ravel() for a, b in zip(private.get_weights(), before)])
    plain = _private(sigma=0.0)
    plain.set_weights(before)
    plain.train_on_batch(x[:2], y[:2])  # plain batches: divided by the actual size 2
    step_plain = np.concatenate([(a - b).ravel() for a, b in zip(plain.get_weights(), before)])
    np.testing.assert_allclose(step_poisson, step_plain * 2 / 5, rtol=1e-5, atol=1e-7)
    assert np.abs(step_plain).max() > 0


def _seeded_poisson(x, y, sample_weight=None, batch_size=5, seed=7):
    tf.random.set_seed(0)  # the per-epoch seed streams depend on it: same start for both
    return poisson_dataset(x, y, batch_size=batch_size, sample_weight=sample_weight, seed=seed)


def test_in_step_draws_are_the_datasets_batches():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    y, w = np.arange(20), np.linspace(0.5, 1.5, 20).astype("float32")
    dataset = _seeded_poisson(x, y, w)
    expected = [[[np.asarray(t).tolist() for t in batch] for batch in dataset] for _ in range(3)]
    dataset = _seeded_poisson(x, y, w)
    sampler = InStepSampler()
    assert sampler.load(dataset) is False
    drawn = [[[np.asarray(t).tolist() for t in sampler.batch_of(seed)]
              for seed in sampler.seeds_of(dataset)] for _ in range(3)]
    assert drawn == expected
    assert len({len(batch[0]) for epoch in drawn for batch in epoch}) > 2  # sizes vary
    sampler.release()
    assert all(int(tf.shape(var)[0]) == 0 for var in tf.nest.flatten(sampler._variables))
    batch = (tf.zeros([3, 2]), tf.zeros([3]))
    assert sampler.batch_of(batch) is batch  # not loaded, or not a seed: data as given


def test_fit_draws_in_the_step_exactly_what_the_pipeline_gives():
    """DPModel.fit trains on the step seeds; Keras' own fit on the dataset's batches."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)).astype("float32"), rng.integers(0, 3, 30)
    models = [_private(sigma=1.0), _private(sigma=1.0)]
    models[1].set_weights(models[0].get_weights())
    models[0].fit(_seeded_poisson(x, y), epochs=3, verbose=0)
    dataset = _seeded_poisson(x, y)
    kwargs = models[1].prepare_fit(dataset, None, {})
    keras.Model.fit(models[1], dataset, epochs=3, verbose=0, **kwargs)  # the tf.data path
    assert models[0].fit_sampling == models[1].fit_sampling
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert all(int(tf.shape(v)[0]) == 0 for v in tf.nest.flatten(models[0]._sampler._variables))


def test_new_data_reuses_the_compiled_step_and_is_never_saved(tmp_path):
    rng = np.random.default_rng(2)
    private = _private()
    traces = []
    train_step = private.train_step
    private.train_step = lambda data: (traces.append(1), train_step(data))[1]  # when traced
    private.fit(poisson_dataset(rng.normal(size=(40, 4)).astype("float32"),
                                rng.integers(0, 3, 40), batch_size=8, seed=0), verbose=0)
    first = (private.train_function, len(traces))
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
    history = private.fit(poisson_dataset(x, y, batch_size=8, seed=1), epochs=2, verbose=0)
    assert (private.train_function, len(traces)) == first  # more examples, same step
    assert np.isfinite(history.history["loss"]).all()
    weights = np.ones(64, "float32")  # a third array: new variables, the step is traced again
    private.fit(poisson_dataset(x, y, batch_size=8, sample_weight=weights, seed=1), verbose=0)
    assert len(traces) > first[1]
    seen = []
    sampler = private._sampler

    class Look(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(sum(int(tf.shape(v)[0]) for v in tf.nest.flatten(sampler._variables)))
            if batch == 0:  # mid-fit, with the copy of the data loaded
                tf.train.Checkpoint(model=private).write(str(tmp_path / "ckpt"))

    private.fit(poisson_dataset(x, y, batch_size=8, seed=1), verbose=0, callbacks=[Look()])
    assert seen[0] == 128  # x and y, 64 rows each
    saved = tf.train.list_variables(str(tmp_path / "ckpt"))
    assert saved and not any(shape and shape[0] == 64 for _, shape in saved)


def test_class_weight_keeps_the_datasets_own_pipeline():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 4)).astype("float32"), rng.integers(0, 3, 30)
    private = _private()
    history = private.fit(poisson_dataset(x, y, batch_size=6, seed=0), verbose=0,
                          class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    assert np.isfinite(history.history["loss"]).all()
    assert private._sampler._variables is None  # Keras weighted the dataset's batches
    assert private._expected_batch_size == 6


def test_bad_inputs_are_named():
    x = np.zeros((10, 4), "float32")
    with pytest.raises(ValueError, match="batch_size"):
        poisson_dataset(x, batch_size=11)
    with pytest.raises(ValueError, match="batch_size"):
        poisson_dataset(x, batch_size=0)
    with pytest.raises(ValueError, match="same number of examples"):
        poisson_dataset(x, np.zeros(9), batch_size=2)
    with pytest.raises(TypeError, match="seed"):
        poisson_dataset(x, batch_size=2, seed=1.5)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="batch_size"):
        make_private(model, l2_norm_clip=1.0, noise_multiplier=1.0, delta=1e-3, epochs=1,
                     batch_size=11, num_examples=10)


def test_any_loss_reduction_gives_the_same_private_step():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 3, 8)
    steps = []
    for reduction in ("sum_over_batch_size", "sum", "none"):
        model = keras.Sequential([keras.Input((4,)),
                                  keras.layers.Dense(3, kernel_initializer="ones")])
        private = DPModel(model, l2_norm_clip=0.5, noise_multiplier=0.0)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
        private.compile(optimizer=keras.optimizers.SGD(1.0), loss=loss)
        before = [w.copy() for w in private.get_weights()]
        private.train_on_batch(x, y)
        steps.append(np.concatenate([(a - b).ravel()
                                     for a, b in zip(private.get_weights(), before)]))
    np.testing.assert_allclose(steps[1], steps[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(steps[2], steps[0], rtol=1e-5, atol=1e-7)
    assert np.abs(steps[0]).max() > 0
