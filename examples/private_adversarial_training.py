"""Adversarial training under DP-SGD, in one `fit`, with the privacy accounted live.

1. `AdversarialModel(DPModel(model, ...), attack=PGD(...))`: every step
   builds PGD examples from the current network, then DP-SGD clips each
   example's gradient of the adversarial loss, adds noise and averages.
2. `fit` on `poisson_dataset` batches with `PrivacyBudget`: the epsilon is
   the Poisson-sampling guarantee, exactly as for a DPModel alone.
3. The same noise without the attack (DP only) is the baseline: same
   epsilon, robust accuracy under PGD compared.

Run: .venv/bin/python examples/private_adversarial_training.py   (about a minute on CPU)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mlsec as km  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402

EPOCHS, BATCH, DELTA, EPSILON, ATTACK_EPS = 10, 64, 1e-4, 8.0, 0.1


def train(x, y, noise, adversarial):
    keras.utils.set_random_seed(0)
    private = km.privacy.DPModel(reference_model("mlp", x.shape[1:], 10, seed=0),
                                 l2_norm_clip=1.0, noise_multiplier=noise, seed=0)
    model = private
    if adversarial:
        model = km.training.AdversarialModel(
            private, attack=km.attacks.PGD(eps=ATTACK_EPS, steps=5), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    budget = km.callbacks.PrivacyBudget(target_epsilon=EPSILON, delta=DELTA)
    model.fit(km.privacy.poisson_dataset(x, y, batch_size=BATCH, seed=0), epochs=EPOCHS,
              verbose=0, callbacks=[budget])
    return private.model, model.privacy_metadata


def main():
    (x, y), (x_test, y_test) = load_digits(seed=0)
    noise = km.privacy.noise_multiplier_for(EPSILON, num_examples=len(x), batch_size=BATCH,
                                            epochs=EPOCHS, delta=DELTA)
    print(f"{len(x)} digits, noise multiplier {noise:.3f} for epsilon {EPSILON} "
          f"(delta {DELTA:g}, Poisson batches of expected size {BATCH}, {EPOCHS} epochs)")
    print(f"{'training':<16}{'epsilon':>9}{'clean':>8}{'PGD-20':>8}")
    for name, adversarial in (("DP only", False), ("DP + PGD-5", True)):
        net, metadata = train(x, y, noise, adversarial)
        clean = np.mean(np.argmax(net.predict(x_test, verbose=0), -1) == y_test)
        x_adv = np.asarray(km.attacks.pgd(net, x_test, y_test, eps=ATTACK_EPS, steps=20, seed=0))
        robust = np.mean(np.argmax(net.predict(x_adv, verbose=0), -1) == y_test)
        print(f"{name:<16}{metadata['epsilon']:>9.3f}{clean:>8.3f}{robust:>8.3f}")


if __name__ == "__main__":
    main()
