"""Differentially private training end to end: calibrate, train, account.

1. `make_private` picks the smallest noise multiplier for which DP-SGD on
   the digits training set (10 epochs, batch 128) stays within
   (epsilon=3, delta=1e-4), and wraps the compiled model in a `DPModel`.
2. `fit` trains it: every step clips each example's gradient to norm 1.0
   and adds Gaussian noise; the accuracy is compared with a non-private twin.
3. `compute_epsilon` states the guarantee spent (RDP, and the tighter PLD).

Run: .venv/bin/python examples/private_training.py   (about a minute on CPU)
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_mlsec.datasets import load_digits  # noqa: E402
from keras_mlsec.privacy import compute_epsilon, make_private  # noqa: E402

EPOCHS, BATCH_SIZE, DELTA, TARGET_EPSILON, CLIP = 10, 128, 1e-4, 3.0, 1.0


def mlp():
    init = keras.initializers.GlorotUniform
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, activation="relu", kernel_initializer=init(0)),
        keras.layers.Dense(10, kernel_initializer=init(1)),
    ])
    model.compile(optimizer=keras.optimizers.SGD(1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main():
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits(flatten=True)
    n = len(x_train)

    private = make_private(mlp(), l2_norm_clip=CLIP, target_epsilon=TARGET_EPSILON, delta=DELTA,
                           epochs=EPOCHS, batch_size=BATCH_SIZE, num_examples=n, seed=0)
    print(f"{n} training examples; noise multiplier for epsilon={TARGET_EPSILON}: "
          f"{private.noise_multiplier:.3f}")
    private.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=2)
    _, private_accuracy = private.evaluate(x_test, y_test, verbose=0)

    plain = mlp()
    plain.optimizer.learning_rate.assign(0.5)
    plain.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    _, plain_accuracy = plain.evaluate(x_test, y_test, verbose=0)

    setup = dict(num_examples=n, batch_size=BATCH_SIZE, epochs=EPOCHS,
                 noise_multiplier=private.noise_multiplier, delta=DELTA)
    print(f"epsilon spent (RDP): {compute_epsilon(**setup):.3f}   "
          f"(PLD): {compute_epsilon(**setup, accountant='pld'):.3f}   at delta={DELTA:g}")
    print(f"test accuracy: private {private_accuracy:.3f}, non-private {plain_accuracy:.3f} "
          f"(chance 0.100)")

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "private_digits.keras")
        private.save(path)
        restored = keras.models.load_model(path)
    same = np.allclose(restored.predict(x_test, verbose=0), private.predict(x_test, verbose=0))
    print(f"saved and reloaded a .keras file: same predictions = {same}")


if __name__ == "__main__":
    main()
