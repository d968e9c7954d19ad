"""Membership inference end to end: how much does an overfit model leak?

1. Trains an 8x8 digits MLP for 100 epochs on only 200 examples, so that it
   overfits (members: those 200; non-members: 200 test examples).
2. Attacks it with every method of `membership_inference`: the cheap metric
   attacks (threshold, loss, entropy), Shokri et al.'s shadow models (2
   shadows trained on a disjoint pool) and LiRA online (4 shadows).
3. Prints AUC, attacker advantage and TPR at 1% FPR per method, and writes
   the log-log ROC of the strongest attack to membership_roc.png.

Run: .venv/bin/python examples/membership_inference.py   (about a minute on CPU)
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_mlsec.attacks import membership_inference  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402

NUM_MEMBERS, EPOCHS, BATCH_SIZE = 200, 100, 32


def main():
    (x_train, y_train), (x_test, y_test) = load_digits(8, seed=0)
    members = (x_train[:NUM_MEMBERS], y_train[:NUM_MEMBERS])
    non_members = (x_test[:NUM_MEMBERS], y_test[:NUM_MEMBERS])
    shadow_pool = (x_train[NUM_MEMBERS:3 * NUM_MEMBERS], y_train[NUM_MEMBERS:3 * NUM_MEMBERS])

    model = reference_model("mlp", (8, 8, 1), 10, output="softmax", seed=0)
    model.fit(*members, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    _, train_acc = model.evaluate(*members, verbose=0)[:2]
    _, test_acc = model.evaluate(*non_members, verbose=0)[:2]
    print(f"target: train accuracy {train_acc:.1%}, test accuracy {test_acc:.1%}")

    shadow = dict(epochs=EPOCHS, batch_size=BATCH_SIZE, seed=0)
    runs = {
        "threshold": {}, "loss": {}, "entropy": {},
        "shadow": dict(shadow_data=shadow_pool, num_shadow_models=2, **shadow),
        "lira": dict(num_shadow_models=4, online=True, **shadow),
    }
    reports = {}
    print(f"\n{'method':<10} {'AUC':>6} {'advantage':>10} {'TPR@1%FPR':>10}")
    for method, options in runs.items():
        report = membership_inference(model, members, non_members, method=method, **options)
        reports[method] = report
        print(f"{method:<10} {report.auc:6.3f} {report.advantage:10.3f} "
              f"{report.tpr_at_fpr[0.01]:10.1%}")

    best = max(reports.values(), key=lambda r: r.auc)
    path = best.plot(os.path.join(tempfile.gettempdir(), "membership_roc.png"))
    print(f"\nstrongest attack: {best.method}; log-log ROC written to {path}")
    print(best)


if __name__ == "__main__":
    main()
