"""Shared fixtures of the poisoning tests: a backdoored 8x8-digits MLP, trained once."""

import functools

import keras
import numpy as np

from keras_mlsec.attacks.poisoning import backdoor
from keras_mlsec.datasets import reference_model
from test_case import digits

TARGET = 0


def fit(x, y, epochs=30, seed=0):
    keras.utils.set_random_seed(seed)
    model = reference_model("mlp", x.shape[1:], 10, seed=seed)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


@functools.lru_cache(maxsize=None)
def backdoored():
    """(model, PoisonedData, x_test, y_test): a 2x2 top-left patch on 5% of non-target digits."""
    (x_train, y_train), (x_test, y_test) = digits(8)
    data = backdoor(x_train, y_train, target=TARGET, rate=0.05, seed=0)
    return fit(data.x, data.y), data, x_test, y_test


@functools.lru_cache(maxsize=None)
def clean():
    """A clean twin of `backdoored()`'s model."""
    (x_train, y_train), _ = digits(8)
    return fit(x_train, y_train)


def tiny_images(n=20, shape=(8, 8, 1), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n,) + shape).astype(np.float32), np.arange(n) % 4
