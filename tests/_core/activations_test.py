"""layer_activations: the same features from Sequential, functional and subclassed models."""

import keras
import numpy as np
import pytest

from keras_mlsec._core.activations import find_layer, layer_activations, penultimate_layer


class SubclassedNet(keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(5, activation="relu", name="hidden")
        self.head = keras.layers.Dense(3, name="head")

    def call(self, x):
        return self.head(self.hidden(self.flatten(x)))


def _three_models(x):
    seq = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(5, activation="relu", name="hidden"),
                            keras.layers.Dense(3, name="head")])
    inputs = keras.Input((4, 4, 1))
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")
    head = keras.layers.Dense(3, name="head")
    functional = keras.Model(inputs, head(hidden(keras.layers.Flatten()(inputs))))
    sub = SubclassedNet()
    sub(x[:1])
    weights = seq.get_weights()
    functional.set_weights(weights)
    sub.set_weights(weights)
    return seq, functional, sub


def test_same_activations_for_every_kind_of_model():
    x = np.random.default_rng(0).uniform(size=(7, 4, 4, 1)).astype(np.float32)
    seq, functional, sub = _three_models(x)
    w, b = seq.get_layer("hidden").get_weights()
    expected = np.maximum(x.reshape(7, -1) @ w + b, 0)
    for model in (seq, functional, sub):
        np.testing.assert_allclose(layer_activations(model, x, "hidden"), expected, atol=1e-5)
        np.testing.assert_allclose(layer_activations(model, x), expected, atol=1e-5)  # head input
        np.testing.assert_allclose(layer_activations(model, x, "head", batch_size=3),
                                   model.predict(x, verbose=0), atol=1e-5)
        assert penultimate_layer(model).name == "head"
        assert "call" not in vars(find_layer(model, "hidden"))  # no hook left behind


def test_nested_layers_and_unknown_names():
    x = np.zeros((2, 4, 4, 1), np.float32)
    seq, _, _ = _three_models(x)
    outer = keras.Sequential([keras.Input((4, 4, 1)), seq])
    assert layer_activations(outer, x, "hidden").shape == (2, 5)
    with pytest.raises(ValueError, match=r"layer.*'hidden'.*Received: layer='nope'"):
        layer_activations(outer, x, "nope")
    assert layer_activations(outer, x, "flatten" if "flatten" in [l.name for l in seq.layers]
                             else seq.layers[0].name, flatten=False).shape == (2, 16)
