"""End to end: train a small digits CNN, measure its robustness, save the report.

    python examples/evaluate_robustness.py [OUTPUT_DIR]

Trains the 8x8 reference CNN on the embedded scikit-learn digits (no
download), evaluates it against FGSM and PGD (and APGD when the installed
keras_mlsec has it) at four L-inf budgets, prints the summary and writes
report.json, report.md and robustness.png. About a minute on a 2-core CPU,
usually much less.
"""

import sys

import keras

import keras_mlsec as km
from keras_mlsec.datasets import load_digits, reference_model


def main(output="robustness-report"):
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=8)

    model = reference_model("cnn", x_train.shape[1:], 10)
    model.fit(x_train, y_train, epochs=20, batch_size=64, verbose=0)

    attacks = [name for name in ("fgsm", "pgd", "apgd") if name in km.attacks.ATTACKS]
    report = km.evaluate_robustness(
        model, x_test, y_test,
        attacks=attacks,
        eps=[0.02, 0.05, 0.1, 0.2],        # L-inf budgets on [0, 1] pixels
        attack_params={"pgd": {"steps": 40, "restarts": 2}},
        seed=0,
    )
    print()
    print(report)

    paths = report.save(output)
    print(f"\nWrote {', '.join(paths.values())}")

    # The JSON reloads without TensorFlow, e.g. to compare two models in CI.
    again = km.RobustnessReport.from_json(paths["json"])
    print(f"Reloaded: worst-case accuracy {again.robust_accuracy:.1%} at eps={again.max_eps}")
    return report


if __name__ == "__main__":
    main(*sys.argv[1:2])
