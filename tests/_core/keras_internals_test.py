"""Every Keras private keras_mlsec uses works here, and fails loudly when it disappears."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec._core import keras_internals as ki


def _functional():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(hidden))


def test_graph_walk_helpers_work_on_this_keras():
    model = _functional()
    assert ki.is_functional(model) and not ki.is_functional(keras.layers.Dense(2))
    nodes = ki.nodes_by_depth(model)
    names = {node.operation.name for depth in nodes for node in nodes[depth]
             if node.operation is not None}
    assert {"hidden", "out"} <= names
    x = np.ones((2, 3), "float32")
    called = []

    def operation_fn(op):
        called.append(op.name)
        return op

    outputs = ki.run_through_graph(model, ki.standardize_inputs(model, x), operation_fn)
    np.testing.assert_allclose(outputs, model(x), atol=1e-6)  # the model's output structure
    assert called == ["hidden", "out"]
    nested = keras.Sequential([keras.Input((3,)), model])
    assert {layer.name for layer in ki.flatten_layers(nested)} >= {"hidden", "out"}


def test_mask_loss_tracker_and_unscale_helpers_work_on_this_keras():
    t = tf.ones((2, 3))
    ki.set_keras_mask(t, tf.constant([[True, False, True]] * 2))
    assert ki.get_keras_mask(t).shape == (2, 3)
    model = _functional()
    model.compile(optimizer="sgd", loss="mse")
    assert ki.loss_tracker(model).name == "loss"
    assert float(ki.unscale_loss_for_distribution(tf.constant(2.0))) == 2.0


@pytest.mark.parametrize("name, call", [
    ("_nodes_by_depth", lambda m: ki.nodes_by_depth(m)),
    ("_run_through_graph", lambda m: ki.run_through_graph(m, [], lambda op: op)),
    ("_standardize_inputs", lambda m: ki.standardize_inputs(m, [])),
    ("_flatten_layers", lambda m: ki.flatten_layers(m)),
    ("_loss_tracker", lambda m: ki.loss_tracker(m)),
])
def test_a_missing_internal_names_the_keras_version(monkeypatch, name, call):
    model = _functional()
    monkeypatch.setattr(type(model), name, None, raising=False)
    monkeypatch.setattr(model, name, None, raising=False)
    with pytest.raises(RuntimeError, match=f"{name}.*Keras \\({keras.__version__}\\)"):
        call(model)


def test_a_missing_functional_class_names_the_keras_version(monkeypatch):
    model = _functional()
    monkeypatch.delattr(keras.src.models.functional, "Functional")
    with pytest.raises(RuntimeError, match=keras.__version__.replace(".", r"\.")):
        ki.is_functional(model)
