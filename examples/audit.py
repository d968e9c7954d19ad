"""The one-call audit of a digits CNN, written as one HTML page.

Trains the reference CNN on the embedded 8x8 digits (a few seconds), runs
`keras_mlsec.audit` with a small budget and writes audit-report/audit.html
(self-contained: open it offline), audit.json and audit.md.
"""

import keras

import keras_mlsec as km
from keras_mlsec.datasets import load_digits, reference_model


def main():
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits(8, seed=0)
    model = reference_model("cnn", (8, 8, 1), 10, seed=0)
    model.fit(x_train, y_train, epochs=4, batch_size=64, verbose=0)
    result = km.audit(model, train=(x_train, y_train), test=(x_test, y_test),
                      eps=[0.05, 0.1], gates={"min_robust_accuracy": 0.2},
                      budget={"max_examples": 60, "shadow_epochs": 2, "inversion_steps": 40,
                              "explain_examples": 4, "explain_samples": 20})
    path = result.save_html("audit-report")
    print()
    print(result)
    print(f"verdicts: {result.verdicts}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
