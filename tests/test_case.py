"""Shared test helpers: tiny trained models and assertion helpers."""

import functools

import numpy as np

from keras_mlsec.datasets import load_digits, reference_model


@functools.lru_cache(maxsize=None)
def digits(image_size=8):
    """Digits train/test split (cached for the whole test session)."""
    return load_digits(image_size=image_size, seed=0)


def trained_model(kind="mlp", image_size=8, output="logits", epochs=20):
    """A reference model trained on digits; the same weights for logits and softmax twins."""
    return _trained_model(kind, image_size, output, epochs)


@functools.lru_cache(maxsize=None)
def _trained_model(kind, image_size, output, epochs):
    (x_train, y_train), _ = digits(image_size)
    if output == "logits":
        model = reference_model(kind, x_train.shape[1:], 10, output="logits", seed=0)
        model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
        return model
    twin = reference_model(kind, x_train.shape[1:], 10, output="softmax", seed=0)
    twin.set_weights(trained_model(kind, image_size, "logits", epochs).get_weights())
    return twin


def predictions(model, x):
    """Arg-max class predictions of `model` on `x`."""
    return np.argmax(model.predict(np.asarray(x), verbose=0, batch_size=512), axis=-1)


def accuracy(model, x, y):
    """Top-1 accuracy of `model` on `(x, y)`."""
    return float(np.mean(predictions(model, x) == np.asarray(y)))


def max_norm(x_adv, x, norm="linf"):
    """Largest per-example perturbation norm."""
    delta = (np.asarray(x_adv) - np.asarray(x)).reshape(len(x), -1)
    if norm == "linf":
        return float(np.abs(delta).max())
    return float(np.sqrt((delta ** 2).sum(1)).max())
