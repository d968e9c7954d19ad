"""Honest evaluation: the preprocessing defenses do not resist PGD through BPDA.

Athalye et al. (2018) showed that JPEG, median filtering and bit-depth
reduction look robust only because they hide gradients. With the layers'
straight-through gradient, PGD on `Sequential([defense, classifier])` brings
robust accuracy down near the undefended classifier's.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec.attacks import pgd
from keras_mlsec.defenses import FeatureSqueezing, JPEGCompression, MedianFilter
from test_case import accuracy, digits, trained_model

EXAMPLES = 200


class _RawSqueezing(FeatureSqueezing):
    """Bit-depth reduction without BPDA: what a naive attacker differentiates."""

    def call(self, inputs):
        return self._squeeze_values(inputs)


class _RawJPEG(JPEGCompression):
    def call(self, inputs):
        return self._jpeg(inputs)


def _setup(image_size):
    classifier = trained_model("mlp", image_size, epochs=20 if image_size == 8 else 5)
    _, (x, y) = digits(image_size)
    return classifier, x[:EXAMPLES], y[:EXAMPLES]


def _loss_gradient(model, x, y):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, model(x)))
    return tape.gradient(loss, x)


@pytest.mark.parametrize("raw,bpda,image_size", [
    (_RawSqueezing(bit_depth=4), FeatureSqueezing(bit_depth=4), 8),
    (_RawJPEG(quality=75), JPEGCompression(quality=75), 28),
])
def test_only_the_straight_through_gradient_reaches_the_input(raw, bpda, image_size):
    classifier, x, y = _setup(image_size)
    naive = keras.Sequential([keras.Input(x.shape[1:]), raw, classifier])
    defended = keras.Sequential([keras.Input(x.shape[1:]), bpda, classifier])
    hidden = _loss_gradient(naive, x[:16], y[:16])
    assert hidden is None or not np.any(hidden.numpy())
    seen = _loss_gradient(defended, x[:16], y[:16]).numpy()
    assert np.all(np.isfinite(seen)) and np.mean(np.abs(seen) > 0) > 0.5


@pytest.mark.parametrize("defense,image_size,eps", [
    (FeatureSqueezing(bit_depth=4), 8, 0.1),
    (JPEGCompression(quality=75), 28, 0.1),
    (MedianFilter(size=3), 28, 0.15),
])
def test_bpda_pgd_brings_robust_accuracy_near_the_undefended_model(defense, image_size, eps):
    classifier, x, y = _setup(image_size)
    defended = keras.Sequential([keras.Input(x.shape[1:]), defense, classifier])
    clean = accuracy(defended, x, y)
    assert clean >= 0.85  # the defense keeps the classifier usable
    undefended_robust = accuracy(classifier, pgd(classifier, x, y, eps=eps, steps=40, seed=0), y)
    defended_robust = accuracy(defended, pgd(defended, x, y, eps=eps, steps=40, seed=0), y)
    assert defended_robust <= undefended_robust + 0.15
    assert defended_robust <= clean - 0.4  # the attack really goes through the defense
