"""Preprocessing defenses naive vs BPDA/EOT PGD, and FeatureSqueezingDetector detection rates.

Run: .venv/bin/python benchmarks/bench_defenses.py   (28x28 digits, small MLP, about a minute)
"""

import keras
import numpy as np

from keras_mlsec.attacks import PGD, carlini_wagner_l2, fgsm, pgd
from keras_mlsec.datasets import load_digits, reference_model
from keras_mlsec.defenses import (FeatureSqueezing, FeatureSqueezingDetector, JPEGCompression,
                                  MedianFilter, RandomizedSmoothing, adaptive_pgd)
from keras_mlsec.training import AdversarialModel

EPS, N = 0.1, 200
AT_EPOCHS = 20


class NaiveSqueezing(FeatureSqueezing):
    def call(self, inputs):
        return self._squeeze_values(inputs) + 0.0 * inputs  # zero gradient, no BPDA


class NaiveJPEG(JPEGCompression):
    def call(self, inputs):
        return self._jpeg(inputs) + 0.0 * inputs


class NaiveMedian(MedianFilter):
    def call(self, inputs):
        return self._median(inputs) + 0.0 * inputs


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(np.asarray(x), verbose=0), -1) == y))


def main():
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=28, seed=0)
    model = reference_model("mlp", x_train.shape[1:], 10, output="logits", seed=0)
    model.fit(x_train, y_train, epochs=5, batch_size=64, verbose=0)
    x, y = x_test[200:200 + N], y_test[200:200 + N]
    wrap = lambda layer: keras.Sequential([keras.Input(x.shape[1:]), layer, model])  # noqa: E731
    print(f"## PGD (linf eps={EPS}, 40 steps) on {N} 28x28 digits\n")
    print("| model | clean | naive PGD | BPDA/EOT PGD |\n|---|---:|---:|---:|")
    print(f"| undefended | {accuracy(model, x, y):.1%} | - | "
          f"{accuracy(model, pgd(model, x, y, eps=EPS, seed=0), y):.1%} |")
    pairs = [("FeatureSqueezing(4)", NaiveSqueezing(bit_depth=4), FeatureSqueezing(bit_depth=4)),
             ("JPEGCompression(75)", NaiveJPEG(quality=75), JPEGCompression(quality=75)),
             ("MedianFilter(3)", NaiveMedian(size=3), MedianFilter(size=3))]
    for name, naive, bpda in pairs:
        naive_model, honest = wrap(naive), wrap(bpda)
        print(f"| {name} | {accuracy(honest, x, y):.1%} | "
              f"{accuracy(honest, pgd(naive_model, x, y, eps=EPS, seed=0), y):.1%} | "
              f"{accuracy(honest, pgd(honest, x, y, eps=EPS, seed=0), y):.1%} |")
    smooth = wrap(RandomizedSmoothing(sigma=0.25, seed=0))
    single = accuracy(smooth, pgd(smooth, x, y, eps=EPS, seed=0), y)
    eot_acc = accuracy(smooth, pgd(smooth, x, y, eps=EPS, seed=0, eot_samples=10), y)
    print(f"| RandomizedSmoothing(0.25), one noise draw | {accuracy(smooth, x, y):.1%} | "
          f"{single:.1%} (1 sample) | {eot_acc:.1%} (EOT 10) |")
    robust = AdversarialModel(reference_model("mlp", x_train.shape[1:], 10, seed=0,
                                              compile=False),
                              attack=PGD(eps=EPS, steps=7), seed=0)
    robust.compile(optimizer="adam", metrics=["accuracy"],
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    robust.fit(x_train, y_train, epochs=AT_EPOCHS, batch_size=64, verbose=0)
    print(f"| AdversarialModel PGD-7, {AT_EPOCHS} epochs (no preprocessing) | "
          f"{accuracy(robust, x, y):.1%} | - | "
          f"{accuracy(robust, pgd(robust, x, y, eps=EPS, seed=0), y):.1%} |")

    detector = FeatureSqueezingDetector(model).fit(x_test[:200], false_positive_rate=0.05)
    flags, _ = detector.detect(x)
    names = [type(s).__name__ for s in detector.squeezers]
    print(f"\n## FeatureSqueezingDetector (squeezers {names},"
          f" FPR target 5%, measured on held-out clean: {np.mean(flags):.1%})\n")
    print("| attack | attack success | detected (of successful) | success and undetected |\n"
          "|---|---:|---:|---:|")
    attacks = [("FGSM", fgsm(model, x, y, eps=EPS)),
               ("PGD", pgd(model, x, y, eps=EPS, steps=40, seed=0)),
               ("CW-L2", carlini_wagner_l2(model, x, y)),
               ("adaptive PGD (1 target, 40 steps)",
                adaptive_pgd(detector, x, y, eps=EPS, targets=1, steps=40, seed=0)),
               ("adaptive PGD (defaults: 3 targets, 100 steps)",
                adaptive_pgd(detector, x, y, eps=EPS, seed=0)),
               ("adaptive PGD (9 targets, 100 steps)",
                adaptive_pgd(detector, x, y, eps=EPS, targets=9, seed=0))]
    for name, x_adv in attacks:
        fooled = np.argmax(model.predict(np.asarray(x_adv), verbose=0), -1) != y
        flags, _ = detector.detect(np.asarray(x_adv))
        rate = float(np.mean(flags[fooled])) if fooled.any() else float("nan")
        print(f"| {name} | {fooled.mean():.1%} | {rate:.1%} | {np.mean(fooled & ~flags):.1%} |")


if __name__ == "__main__":
    main()
