"""Drift monitoring end to end: during training, on raw inputs and on production traffic.

1. Train a small digits classifier with `DriftMonitor`, which logs
   `drift_p_value` / `drift_detected` for the validation data every epoch.
2. Compare clean and corrupted test images with `detect_drift` (KS per pixel
   with FDR, and the multivariate MMD test), print and plot the report.
3. Watch "production traffic" with `monitor.update(batch)`: clean batches
   pass, a sensor fault (darker, noisier images) triggers the `on_drift` hook,
   seen both in the output probabilities and in an embedding layer.

Run: .venv/bin/python examples/drift_monitoring.py [--output drift-example]
(about a minute on CPU; writes drift_report.png and drift_report.json).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_mlsec.callbacks import DriftMonitor  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402
from keras_mlsec.monitoring import detect_drift  # noqa: E402


def corrupt(images, seed=0):
    """A simulated camera fault: 30% darker plus sensor noise."""
    rng = np.random.default_rng(seed)
    noisy = 0.7 * images + rng.normal(0.0, 0.08, images.shape)
    return np.clip(noisy, 0.0, 1.0).astype("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="drift-example", help="folder for the report files")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = load_digits(8, seed=0)
    x_live, x_val = x_test[:300], x_test[300:]  # Held-out "production" and validation splits.

    print("== 1. Training with DriftMonitor (KS per class probability, validation vs training)")
    model = reference_model("mlp", x_train.shape[1:], 10, output="softmax")
    monitor = DriftMonitor(x_train, data=x_val, on="predictions", test="ks")
    history = model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0,
                        validation_data=(x_val, y_test[300:]), callbacks=[monitor])
    for epoch, (p, flag, acc) in enumerate(zip(history.history["drift_p_value"],
                                               history.history["drift_detected"],
                                               history.history["val_accuracy"]), 1):
        print(f"   epoch {epoch}: val_accuracy {acc:.3f}  drift_p_value {p:.3f}  "
              f"drift_detected {bool(flag)}")

    print("\n== 2. detect_drift on raw pixels: clean vs corrupted test images")
    pixels = [f"pixel_r{row}c{col}" for row in range(8) for col in range(8)]
    clean = detect_drift(x_train, x_live, test="ks", correction="fdr", feature_names=pixels)
    shifted = detect_drift(x_train, corrupt(x_live), test="ks", correction="fdr",
                           feature_names=pixels)
    print(f"   clean:     drift_detected={clean.drift_detected} "
          f"({len(clean.drifted_features)} of 64 pixels flagged)")
    print(shifted)
    mmd = detect_drift(x_train, corrupt(x_live), test="mmd", num_permutations=200, seed=0)
    print(f"   MMD (all 64 pixels jointly): MMD^2 {mmd.statistic:.4f}, p-value {mmd.p_value:.4f}")
    plot_path = shifted.plot(os.path.join(args.output, "drift_report.png"))
    with open(os.path.join(args.output, "drift_report.json"), "w") as handle:
        handle.write(shifted.to_json())
    print(f"   wrote {plot_path} and drift_report.json")

    print("\n== 3. Production traffic through monitor.update(batch)")
    # The reference is held-out data: on its training data the model is more confident than
    # on any new data, and a test on its outputs would read that gap as drift.
    alerts = []
    production = DriftMonitor(
        x_val, model=model, on="predictions", reduce="max_probability", window_size=150,
        check_every=50, on_drift=lambda report: alerts.append(report))
    embedding = DriftMonitor(
        x_val, model=model, on="layer:dense_1", test="mmd", window_size=150, check_every=150,
        test_options={"num_permutations": 200}, on_drift=lambda report: alerts.append(report))
    for name, traffic in (("clean", x_live), ("faulty camera", corrupt(x_live, seed=1))):
        before = len(alerts)
        production.reset()
        embedding.reset()
        for start in range(0, len(traffic), 50):
            for label, watcher in (("max-probability KS", production),
                                   ("embedding MMD", embedding)):
                report = watcher.update(traffic[start:start + 50])
                if report is not None:
                    p = report.p_value
                    print(f"   {name:<13} examples {start + 50:3d}: {label:<18} p={p:.4f} "
                          f"drift={report.drift_detected}")
        print(f"   -> on_drift called {len(alerts) - before} time(s) for {name} traffic")


if __name__ == "__main__":
    main()
