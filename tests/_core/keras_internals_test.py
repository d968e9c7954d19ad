"""Every Keras private keras_mlsec uses, exercised on the installed Keras.

A Keras release that drops or renames one of them makes the matching test
fail with a `KerasInternalError` naming the Keras version and the internal.
"""

import io

import keras
import numpy as np
import pytest

from keras_mlsec._core import keras_internals as ki


def _functional():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(hidden)
    return keras.Model(inputs, outputs)


def test_a_missing_internal_names_the_keras_version_and_the_internal():
    with pytest.raises(ki.KerasInternalError,
                       match=r"`object\._nodes_by_depth`.*Keras "
                             + keras.__version__.replace(".", "[.]")):
        ki.nodes_by_depth(object())


def test_is_functional():
    assert ki.is_functional(_functional())
    assert not ki.is_functional(keras.Sequential([keras.layers.Dense(2)]))


def test_nodes_by_depth_lists_every_layer_of_the_graph():
    model = _functional()
    by_depth = ki.nodes_by_depth(model)
    names = {node.operation.name for nodes in by_depth.values() for node in nodes}
    assert {"hidden", "head"} <= names


def test_run_through_graph_with_standardized_inputs_can_replace_a_layer():
    model = _functional()
    x = np.random.default_rng(0).random((5, 3)).astype("float32")
    inputs = ki.standardize_inputs(model, x)
    np.testing.assert_allclose(ki.run_through_graph(model, inputs, lambda op: op),
                               model(x), rtol=1e-6)
    head = model.get_layer("head")
    twin = ki.linear_twin(head)
    logits = ki.run_through_graph(model, inputs,
                                  lambda op: twin if op is head else op)
    np.testing.assert_allclose(keras.ops.softmax(logits), model(x), rtol=1e-5, atol=1e-6)


def test_flatten_layers_walks_nested_models():
    inner = _functional()
    outer = keras.Sequential([keras.Input((3,)), inner])
    names = [layer.name for layer in ki.flatten_layers(outer)]
    assert inner.name in names and "hidden" in names and "head" in names


def test_loss_tracker_and_unscale_loss():
    model = _functional()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 3), "float32"), np.zeros(4), epochs=1, verbose=0)
    tracker = ki.loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Mean)
    assert float(ki.unscale_loss_for_distribution(keras.ops.convert_to_tensor(2.0))) == 2.0


def test_eval_data_adapter_reads_fits_validation_inputs():
    x_val = np.arange(12, dtype="float32").reshape(4, 3)
    seen = []

    class Reader(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            adapter = ki.eval_data_adapter(self.model)
            seen.append(np.concatenate([b[0] for b in adapter.get_numpy_iterator()]))

    model = _functional()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 3), "float32"), np.zeros(4), epochs=1, verbose=0,
              validation_data=(x_val, np.zeros(4)), callbacks=[Reader()])
    np.testing.assert_array_equal(seen[0], x_val)


def test_load_model_from_fileobj(tmp_path):
    model = _functional()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = ki.load_model_from_fileobj(io.BytesIO(path.read_bytes()), compile=False)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


@pytest.mark.parametrize("layer", [keras.layers.Dense(3, activation="softmax"),
                                   keras.layers.Conv2D(2, 2, activation="softmax")])
def test_linear_twin_shares_weights_and_leaves_the_layer_alone(layer):
    x = np.random.default_rng(1).random((2, 3, 3, 2) if "conv" in layer.name
                                         else (2, 4)).astype("float32")
    probabilities = layer(x)
    twin = ki.linear_twin(layer)
    logits = twin(x)
    assert layer.activation is keras.activations.softmax
    assert twin.weights[0] is layer.weights[0]
    np.testing.assert_allclose(keras.ops.softmax(logits), probabilities, rtol=1e-5, atol=1e-6)
    layer.weights[0].assign(layer.weights[0] * 2.0)  # training the layer moves the twin
    np.testing.assert_allclose(keras.ops.softmax(twin(x)), layer(x), rtol=1e-5, atol=1e-6)


def test_linear_twin_refuses_a_layer_without_activation():
    with pytest.raises(ki.KerasInternalError, match=r"Softmax\.activation"):
        ki.linear_twin(keras.layers.Softmax())


def test_mask_helpers_work_on_this_keras():
    import tensorflow as tf

    t = tf.ones((2, 3))
    ki.set_keras_mask(t, tf.constant([[True, False, True]] * 2))
    assert ki.get_keras_mask(t).shape == (2, 3)
