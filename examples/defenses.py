"""Preprocessing defenses measured honestly: naive PGD versus PGD through BPDA.

JPEG compression, median filtering and bit-depth reduction hide the gradient
of the model behind them. A naive attacker, who differentiates the real
transform, gets a zero gradient and the defense looks robust. The layers in
`keras_mlsec.defenses` pass the gradient straight through (BPDA), and PGD
then brings robust accuracy back down near the undefended model's
(Athalye et al. 2018). Last, randomized smoothing certifies an L2 radius.

Run: .venv/bin/python examples/defenses.py   (about a minute on CPU)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_mlsec as km  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402

EPS = 0.1


class ObfuscatedGradient(keras.layers.Layer):
    """What a naive attacker sees: the defense's output with a zero gradient."""

    def __init__(self, defense, **kwargs):
        super().__init__(**kwargs)
        self.defense = defense

    def call(self, inputs):
        return tf.stop_gradient(self.defense(inputs)) + 0.0 * inputs


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(np.asarray(x), verbose=0), -1) == y))


def robust_accuracy(model, x, y):
    x_adv = km.attacks.pgd(model, x, y, eps=EPS, steps=40, seed=0)
    return accuracy(model, x_adv, y)


def main():
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=28, seed=0)
    x, y = x_test[:300], y_test[:300]
    classifier = reference_model("mlp", x_train.shape[1:], 10)
    classifier.fit(x_train, y_train, epochs=5, batch_size=64, verbose=0)
    print(f"undefended: clean {accuracy(classifier, x, y):.3f}, "
          f"PGD eps={EPS} {robust_accuracy(classifier, x, y):.3f}")

    print(f"{'defense':<22}{'clean':>7}{'naive PGD':>11}{'BPDA PGD':>10}")
    defenses = [km.defenses.JPEGCompression(quality=75), km.defenses.MedianFilter(size=3),
                km.defenses.FeatureSqueezing(bit_depth=4)]
    for defense in defenses:
        inputs = keras.Input(x.shape[1:])
        defended = keras.Sequential([inputs, defense, classifier])
        naive = keras.Sequential([inputs, ObfuscatedGradient(defense), classifier])
        print(f"{type(defense).__name__:<22}{accuracy(defended, x, y):>7.3f}"
              f"{robust_accuracy(naive, x, y):>11.3f}{robust_accuracy(defended, x, y):>10.3f}")

    # Randomized smoothing: train under the same Gaussian noise, then certify.
    sigma = 0.25
    base = reference_model("mlp", x_train.shape[1:], 10, seed=1, compile=False)
    noisy = keras.Sequential([keras.Input(x.shape[1:]),
                              km.defenses.RandomizedSmoothing(sigma=sigma, seed=0), base])
    noisy.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    noisy.fit(x_train, y_train, epochs=10, batch_size=64, verbose=0)
    classes, radii = km.defenses.certify(base, x[:20], sigma=sigma, n0=100, n=1000,
                                         alpha=0.001, seed=0)
    from scipy.stats import norm

    cap = sigma * norm.ppf(0.001 ** (1 / 1000))  # pA_lower when all n samples agree
    print(f"randomized smoothing sigma={sigma}: abstained on {np.sum(classes < 0)}/20, "
          f"largest radius n=1000 can certify: {cap:.3f}")
    for radius in (0.0, 0.25, 0.5):
        certified = np.mean((classes == y[:20]) & (radii >= radius))
        print(f"  certified accuracy at L2 radius {radius:.2f}: {certified:.2f}")


if __name__ == "__main__":
    main()
