"""Drift benchmark: KS false-alarm rate, power, and DriftMonitor's epoch-time overhead.

Claims (issue 5):
  1. KS false-alarm rate over 200 no-shift trials stays within alpha (binomial tolerance).
  2. KS power >= 0.9 for a 0.2-sigma mean shift at n = 1,000 (reference and current).
  3. DriftMonitor(on="predictions") adds at most 5% to epoch time.

Run: TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_drift.py [--quick]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from keras_mlsec.monitoring import detect_drift  # noqa: E402


def false_alarms(trials, n, alpha, seed, features=1, test="ks", **options):
    rng = np.random.default_rng(seed)
    return sum(detect_drift(rng.normal(size=(n, features)), rng.normal(size=(n, features)),
                            test=test, alpha=alpha, **options).drift_detected
               for _ in range(trials))


def detections(trials, n, shift, alpha, seed, test="ks", **options):
    rng = np.random.default_rng(seed)
    return sum(detect_drift(rng.normal(size=n), rng.normal(shift, 1.0, size=n),
                            test=test, alpha=alpha, **options).drift_detected
               for _ in range(trials))


def clopper_pearson(k, n, level=0.95):
    lower = stats.beta.ppf((1 - level) / 2, k, n - k + 1) if k else 0.0
    upper = stats.beta.ppf(1 - (1 - level) / 2, k + 1, n - k) if k < n else 1.0
    return lower, upper


def statistical_claims(trials, alpha):
    tolerance = int(stats.binom.ppf(0.99, trials, alpha))  # One-sided 99% binomial bound.
    print(f"== KS false alarms, no shift, n = 1000 vs 1000, alpha = {alpha}, {trials} trials")
    print(f"   (pass when alarms <= {tolerance}, the 99% binomial upper bound for rate {alpha})")
    for features, label in ((1, "1 feature"), (10, "10 features, Bonferroni")):
        k = false_alarms(trials, 1000, alpha, seed=features, features=features)
        low, high = clopper_pearson(k, trials)
        verdict = "PASS" if k <= tolerance else "FAIL"
        print(f"   {label:<24} alarms {k:3d}/{trials}  rate {k / trials:.3f} "
              f"(95% CI {low:.3f}-{high:.3f})  {verdict}")
    print(f"== Power, 0.2-sigma mean shift, n = 1000 vs 1000, alpha = {alpha}, {trials} trials")
    for test, options, runs in (("ks", {}, trials),
                                ("mmd", {"num_permutations": 200}, trials // 4)):
        k = detections(runs, 1000, 0.2, alpha, seed=7, test=test, **options)
        low, high = clopper_pearson(k, runs)
        verdict = ("PASS" if k / runs >= 0.9 else "FAIL") if test == "ks" else "(info)"
        print(f"   {test:<24} detected {k:3d}/{runs}  power {k / runs:.3f} "
              f"(95% CI {low:.3f}-{high:.3f})  {verdict}")
    k = detections(trials, 1000, 0.2, alpha, seed=7, test="psi")
    print(f"   {'psi (>= 0.25)':<24} detected {k:3d}/{trials}  (info: PSI's 0.25 line is "
          "meant for large shifts)")


class EpochTimer:
    """Begin-to-begin epoch durations, so every callback's epoch-end work is counted."""

    def __init__(self):
        import keras

        class _Timer(keras.callbacks.Callback):
            def on_train_begin(inner, logs=None):
                self.stamps = []

            def on_epoch_begin(inner, epoch, logs=None):
                self.stamps.append((time.perf_counter(), time.process_time()))

            def on_train_end(inner, logs=None):
                self.stamps.append((time.perf_counter(), time.process_time()))

        self.callback = _Timer()
        self.stamps = []

    def epochs(self):
        """(wall, process CPU) seconds per epoch; the first epoch (tracing) is dropped."""
        return [tuple(row) for row in np.diff(np.array(self.stamps), axis=0)[1:]]


def overhead(name, make_data, make_model, epochs, repeats, batch_size, **monitor_options):
    import keras

    from keras_mlsec.callbacks import DriftMonitor

    (x, y), (x_val, y_val) = make_data()
    plain, monitored, own, first = [], [], [], []
    for repeat in range(repeats):
        for use_monitor in (False, True):  # Interleaved so machine load hits both alike.
            keras.utils.set_random_seed(repeat)
            model = make_model(x.shape[1:])
            timer = EpochTimer()
            callbacks = [timer.callback]
            if use_monitor:
                monitor = DriftMonitor(x, data=x_val, on="predictions", **monitor_options)
                original = monitor.on_epoch_end

                def timed(epoch, logs=None, original=original):
                    start = time.perf_counter()
                    original(epoch, logs)
                    own.append(time.perf_counter() - start)

                monitor.on_epoch_end = timed
                callbacks.append(monitor)
            start = len(own)
            model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0,
                      validation_data=(x_val, y_val), callbacks=callbacks)
            if use_monitor:  # The first epoch-end call traces the predict function.
                first.append(own.pop(start))
            (monitored if use_monitor else plain).extend(timer.epochs())
    print(f"   {name}")
    for column, label in ((0, "wall"), (1, "process CPU")):
        base = statistics.median(row[column] for row in plain)
        with_monitor = statistics.median(row[column] for row in monitored)
        print(f"     {label:<11} epoch: plain fit {base * 1e3:7.1f} ms | with DriftMonitor "
              f"{with_monitor * 1e3:7.1f} ms | ratio {with_monitor / base:.3f} "
              f"(median of {len(plain)} epochs each)")
    base = statistics.median(row[0] for row in plain)
    own_median = statistics.median(own)
    share = own_median / base
    print(f"     DriftMonitor's own epoch-end time {own_median * 1e3:.1f} ms = "
          f"{100 * share:.1f}% of a plain epoch  {'PASS' if share <= 0.05 else 'FAIL'} (<= 5%); "
          f"one-off first-epoch call {statistics.median(first) * 1e3:.0f} ms (predict tracing)")


def synthetic(n_train=20000, n_val=2000, features=32, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, size=(classes, features))
    y = rng.integers(0, classes, n_train + n_val).astype("int32")
    x = (centers[y] + rng.normal(size=(len(y), features))).astype("float32")
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def digits():
    from keras_mlsec.datasets import load_digits

    return load_digits(8)


def mlp(shape):
    from keras_mlsec.datasets import reference_model

    return reference_model("mlp", shape, 10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials and epochs")
    args = parser.parse_args()
    trials = 60 if args.quick else 200
    statistical_claims(trials, alpha=0.05)
    print("== DriftMonitor overhead (KS per output column; reference and data capped at "
          "max_samples=1000; validation_data in both fits)")
    epochs, repeats = (3, 1) if args.quick else (5, 4)
    overhead("synthetic 32-feature, 10-class, 20,000 training examples, MLP, batch 64",
             synthetic, mlp, epochs, repeats, 64)
    overhead("small-data case: digits 8x8, 1,347 training examples, MLP, batch 64",
             digits, mlp, epochs, repeats, 64)


if __name__ == "__main__":
    main()
