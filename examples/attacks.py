"""Attack a digits classifier with every evasion attack and compare them.

Run: .venv/bin/python examples/attacks.py   (about a minute on CPU)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_mlsec as km  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(np.asarray(x), verbose=0), -1) == y))


def main():
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=8, seed=0)
    model = reference_model("mlp", x_train.shape[1:], 10, output="softmax")
    model.fit(x_train, y_train, epochs=20, batch_size=64, verbose=0)
    x, y = x_test[:300], y_test[:300]
    print(f"clean accuracy: {accuracy(model, x, y):.3f}")

    # The softmax output is detected and the attacks work on the logits.
    attacks = [
        km.attacks.FGSM(eps=0.1),
        km.attacks.BIM(eps=0.1),
        km.attacks.MIM(eps=0.1),
        km.attacks.PGD(eps=0.1, restarts=2, seed=0),
        km.attacks.PGD(eps=1.0, norm="l2", seed=0),
    ]
    optional = {"APGD": {"eps": 0.1, "seed": 0}, "SquareAttack": {"eps": 0.1, "seed": 0},
                "CarliniWagnerL2": {}}
    attacks += [getattr(km.attacks, name)(**config) for name, config in optional.items()
                if hasattr(km.attacks, name)]
    for attack in attacks:
        x_adv = attack(model, x, y).numpy()
        delta = (x_adv - x).reshape(len(x), -1)
        print(f"{type(attack).__name__:<16} adversarial accuracy {accuracy(model, x_adv, y):.3f}  "
              f"mean L-inf {np.abs(delta).max(1).mean():.3f}  "
              f"mean L2 {np.linalg.norm(delta, axis=1).mean():.3f}")

    # Targeted: turn every digit into the next one.
    target = (y + 1) % 10
    x_adv = km.attacks.pgd(model, x, target, eps=0.3, targeted=True, seed=0)
    hit = np.mean(np.argmax(model.predict(x_adv.numpy(), verbose=0), -1) == target)
    print(f"targeted PGD (eps 0.3) reaches the target on {hit:.1%} of inputs")


if __name__ == "__main__":
    main()
