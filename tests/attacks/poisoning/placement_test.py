"""Trigger placement: which corners a CNN can see (the reason the default patch is top-left)."""

import keras
import numpy as np
import pytest

from keras_mlsec.attacks import Trigger
from keras_mlsec.datasets import reference_model


def _moves_logits(model, trigger):
    x = np.random.default_rng(0).uniform(0, 0.5, size=(4, 28, 28, 1)).astype(np.float32)
    return not np.allclose(model.predict(x, verbose=0), model.predict(trigger.apply(x), verbose=0))


@pytest.mark.parametrize("corner", ["top_left", "top_right", "bottom_left", "bottom_right"])
def test_reference_cnn_sees_a_patch_in_every_corner(corner):
    # "same" convolutions and 28 -> 14 -> 7 pooling cover every pixel.
    model = reference_model("cnn", (28, 28, 1), 10, seed=0, compile=False)
    assert _moves_logits(model, Trigger.patch((28, 28, 1), corner=corner))


def test_valid_convolutions_and_floor_pooling_never_see_the_last_rows():
    # 28 -> conv 26 -> pool 13 -> conv 11 -> pool 5 (floor drops a row and column twice):
    # input rows and columns 26 and 27 reach no output.
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3),
                              keras.layers.MaxPooling2D(), keras.layers.Conv2D(4, 3),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    hidden = Trigger.patch((28, 28, 1), size=2, margin=0, corner="bottom_right")
    assert not _moves_logits(model, hidden)
    assert _moves_logits(model, Trigger.patch((28, 28, 1)))  # the default, top-left
