"""Adversarial training on digits: plain vs PGD-AT (madry) vs TRADES vs FGSM-RS.

Each model is trained for the same number of epochs, then attacked with a
stronger PGD (20 steps, 2 restarts) than the one used in training. A
RobustnessMonitor logs `val_robust_accuracy` each epoch and keeps the best
weights should robust accuracy collapse (catastrophic overfitting).

Run: .venv/bin/python examples/adversarial_training.py   (about a minute on CPU)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mlsec as km  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402

EPS = 0.1
EPOCHS = 15


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(np.asarray(x), verbose=0), -1) == y))


def train(method, x_train, y_train, x_test, y_test):
    keras.utils.set_random_seed(0)
    base = reference_model("mlp", x_train.shape[1:], 10, output="logits", seed=0, compile=False)
    if method == "plain":
        model = base
    else:
        attack = (km.attacks.FGSM(eps=EPS, rand_init=True) if method == "fgsm_rs"
                  else km.attacks.PGD(eps=EPS, steps=7))
        model = km.training.AdversarialModel(base, attack=attack, method=method, seed=0)
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    monitor = km.callbacks.RobustnessMonitor(x_test, y_test, eps=EPS, every=5,
                                             stop_on_collapse=True, restore_best_weights=True)
    history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=64, verbose=0,
                        validation_data=(x_test, y_test), callbacks=[monitor])
    return model, history.history["val_robust_accuracy"]


def main():
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=8, seed=0)
    print(f"eps={EPS} (L-inf, inputs in [0, 1]); evaluation: PGD-20, 2 restarts")
    print(f"{'method':<8} {'clean':>6} {'robust':>7}  val_robust_accuracy during training")
    for method in ("plain", "madry", "trades", "fgsm_rs"):
        model, during = train(method, x_train, y_train, x_test, y_test)
        inner = getattr(model, "model", model)
        x_adv = km.attacks.pgd(inner, x_test, y_test, eps=EPS, steps=20, restarts=2, seed=1)
        clean, robust = accuracy(model, x_test, y_test), accuracy(model, x_adv, y_test)
        print(f"{method:<8} {clean:6.3f} {robust:7.3f}  {[round(a, 3) for a in during]}")


if __name__ == "__main__":
    main()
