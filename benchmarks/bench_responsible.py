"""Responsible AI and the audit: equality with aif360 / shap called directly, overhead,
mitigation on biased credit data, and the audit's time per section.

Run: `python benchmarks/bench_responsible.py [--quick]`. Prints every figure and whether
its target was met; record the printed numbers in RESULTS.md.
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from _common import environment

warnings.filterwarnings("ignore")


def credit_model(x, y, seed, *, epochs, weights=None, wrap=None):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1],))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    trained = wrap(model) if wrap else model
    trained.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    parts = (x, y.astype("float32")) if weights is None else (x, y.astype("float32"), weights)
    data = tf.data.Dataset.from_tensor_slices(parts).shuffle(len(x), seed=seed).batch(32)
    trained.fit(data, epochs=epochs, verbose=0)
    return trained


def direct_metrics(model, x, y, groups, full=True):
    """aif360 ClassificationMetric called directly: with `full`, the same quantities
    fairness_report returns (5 metrics, accuracy, per-group counts, rates); else the 5 only."""
    import pandas as pd
    from aif360.datasets import BinaryLabelDataset
    from aif360.metrics import ClassificationMetric

    scores = 1 / (1 + np.exp(-model.predict(x, verbose=0, batch_size=256)[:, 0].astype(float)))
    frame = pd.DataFrame({"g": groups.astype(float), "label": y.astype(float)})
    truth = BinaryLabelDataset(df=frame, label_names=["label"], protected_attribute_names=["g"],
                               favorable_label=1.0, unfavorable_label=0.0)
    predicted = truth.copy(deepcopy=True)
    predicted.labels = (scores >= 0.5).astype(float).reshape(-1, 1)
    metric = ClassificationMetric(truth, predicted, unprivileged_groups=[{"g": 0.0}],
                                  privileged_groups=[{"g": 1.0}])
    out = {"disparate_impact": metric.disparate_impact(),
           "statistical_parity_difference": metric.statistical_parity_difference(),
           "equal_opportunity_difference": metric.equal_opportunity_difference(),
           "average_odds_difference": metric.average_odds_difference(),
           "theil_index": metric.theil_index()}
    if full:
        out["accuracy"] = metric.accuracy()
        for flag in (True, False):
            measures = metric.performance_measures(privileged=flag)
            out[flag] = (metric.num_instances(privileged=flag), measures["ACC"], measures["TPR"],
                         measures["FPR"], metric.selection_rate(privileged=flag))
    return out


def bench_fairness(repeats):
    from keras_mlsec.datasets import load_credit
    from keras_mlsec.responsible import fairness_report

    (x, y), (x_test, y_test) = load_credit(bias=0.4, seed=0)
    model = credit_model(x, y, 0, epochs=5)
    ours = fairness_report(model, x_test, y_test, protected=0).metrics
    direct = direct_metrics(model, x_test, y_test, x_test[:, 0], full=False)
    diff = max(abs(ours[k] - direct[k]) for k in direct)
    times = {"ours": [], "direct": [], "direct5": []}
    for _ in range(repeats):  # round-robin
        for name, fn in (
                ("direct", lambda: direct_metrics(model, x_test, y_test, x_test[:, 0])),
                ("direct5", lambda: direct_metrics(model, x_test, y_test, x_test[:, 0], False)),
                ("ours", lambda: fairness_report(model, x_test, y_test, protected=0))):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(val) for k, val in times.items()}
    ratio = med["ours"] / med["direct"]
    print(f"fairness_report vs aif360 direct: max |diff| over 5 metrics = {diff:.2e} "
          f"(target < 1e-9: {'met' if diff < 1e-9 else 'MISSED'})")
    print(f"fairness_report time {med['ours'] * 1e3:.1f} ms vs direct aif360 computing the "
          f"same quantities {med['direct'] * 1e3:.1f} ms: ratio {ratio:.2f} "
          f"(target <= 1.2: {'met' if ratio <= 1.2 else 'MISSED'}); vs the 5 metrics only "
          f"{med['direct5'] * 1e3:.1f} ms: ratio {med['ours'] / med['direct5']:.2f}")


def bench_mitigation(seeds, epochs, weights_grid, bias):
    from keras_mlsec.datasets import load_credit
    from keras_mlsec.responsible import (AdversarialDebiasingModel, FairPostprocessor,
                                         fairness_report, reweighing)

    rows = []
    for seed in seeds:
        (x, y), (x_test, y_test) = load_credit(bias=bias, seed=seed)
        (x_fit, y_fit), (x_val, y_val) = (x[:2200], y[:2200]), (x[2200:], y[2200:])

        def measure(name, model):
            report = fairness_report(model, x_test, y_test, protected=0)
            rows.append((seed, name, report.statistical_parity_difference, report.accuracy))

        plain = credit_model(x, y, seed, epochs=epochs)
        measure("baseline", plain)
        measure("reweighing", credit_model(x, y, seed, epochs=epochs,
                                           weights=reweighing(x, y, protected=0)))
        for alpha in weights_grid:
            measure(f"adversarial a={alpha:g}", credit_model(
                x, y, seed, epochs=epochs, wrap=lambda m, a=alpha: AdversarialDebiasingModel(
                    m, protected=0, adversary_weight=a, adversary_learning_rate=1e-2)))
        base_fit = credit_model(x_fit, y_fit, seed, epochs=epochs)
        post = FairPostprocessor(base_fit, seed=seed).fit(x_val, y_val, protected=0)
        measure("eq-odds post (on a model fit on 2200)", post)
    print(f"\nMitigation on load_credit(bias={bias:g}), {epochs} epochs, test split of 1000:")
    print(f"{'seed':>4} {'method':<40} {'SPD':>8} {'|SPD| cut':>9} {'accuracy':>8} {'pp lost':>7}")
    for seed in seeds:
        base = next(r for r in rows if r[0] == seed and r[1] == "baseline")
        for _, name, spd, acc in (r for r in rows if r[0] == seed):
            cut = 1 - abs(spd) / abs(base[2])
            lost = 100 * (base[3] - acc)
            verdict = ""
            if name.startswith("adversarial"):
                verdict = "met" if cut >= 0.5 and lost <= 2 else "MISSED"
            print(f"{seed:>4} {name:<40} {spd:>+8.3f} {cut:>8.0%} {acc:>8.3f} {lost:>7.1f} "
                  f"{verdict}")
    print("target (adversarial): |SPD| cut >= 50% with <= 2 pp accuracy lost")


def bench_explain(repeats):
    import keras
    import shap

    from keras_mlsec.datasets import load_credit
    from keras_mlsec.responsible import explain

    (x, y), (x_test, _) = load_credit(bias=0.4, seed=0)
    model = credit_model(x, y, 0, epochs=3)
    sample, background = x_test[:50], x[:100]

    def direct():
        return shap.GradientExplainer(model, background, batch_size=50).shap_values(
            sample, nsamples=200, rseed=0)

    def ours():
        return explain(model, sample, background=background, nsamples=200, seed=0)

    diff = float(np.abs(ours().values - np.asarray(direct()).reshape(50, 7, 1)).max())
    times = {"ours": [], "direct": []}
    for _ in range(repeats):
        for name, fn in (("direct", direct), ("ours", ours)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    ratio = statistics.median(times["ours"]) / statistics.median(times["direct"])
    print(f"\nexplain vs shap.GradientExplainer direct (50 examples, nsamples 200, rseed 0): "
          f"max |diff| = {diff:.2e} ({'equal' if diff == 0 else 'DIFFERENT'})")
    print(f"explain time {statistics.median(times['ours']):.2f} s vs direct "
          f"{statistics.median(times['direct']):.2f} s: ratio {ratio:.2f} "
          f"(target <= 1.1: {'met' if ratio <= 1.1 else 'MISSED'})")
    only = keras.Sequential([keras.Input((7,)), keras.layers.Dense(8, activation="tanh"),
                             keras.layers.Dense(1)])
    kernel, bias = only.layers[0].get_weights()
    kernel[1:] = 0.0  # every hidden unit reads feature 0 only
    only.layers[0].set_weights([kernel, bias])
    importance = explain(only, sample, background=background, seed=0).importance()
    share = float(importance[0] / importance.sum())
    print(f"feature-0-only model: share of mean |SHAP| on feature 0 = {share:.4f} "
          f"(target >= 0.9: {'met' if share >= 0.9 else 'MISSED'})")


def bench_audit():
    import keras

    import keras_mlsec as km
    from keras_mlsec.datasets import load_digits, reference_model

    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = load_digits(8, seed=0)
    model = reference_model("cnn", (8, 8, 1), 10, seed=0)
    start = time.perf_counter()
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)  # as `keras-mlsec audit --demo digits`
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    result = km.audit(model, (x, y), (x_test, y_test), verbose=0)
    total = time.perf_counter() - start
    print(f"\nkm.audit on the 8x8 digits CNN (default budget; training {train_s:.1f} s):")
    for section in result.sections:
        print(f"  {section.name:<13} {section.status:<8} {section.seconds:6.1f} s")
    met = "met" if total + train_s <= 180 else "MISSED"
    print(f"  total audit {total:.1f} s; with training {total + train_s:.1f} s "
          f"(target for `make demo` digits <= 180 s: {met})")


PARTS = ("fairness", "explain", "mitigation", "audit")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--bias", type=float, default=0.5, help="load_credit bias (mitigation)")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.3, 1.0],
                        help="adversary_weight values of AdversarialDebiasingModel")
    args = parser.parse_args()
    print(environment())
    if "fairness" in args.only:
        bench_fairness(repeats=3 if args.quick else 7)
    if "explain" in args.only:
        bench_explain(repeats=2 if args.quick else 5)
    if "mitigation" in args.only:
        bench_mitigation(seeds=(0,) if args.quick else (0, 1, 2), epochs=10,
                         weights_grid=tuple(args.alphas), bias=args.bias)
    if "audit" in args.only:
        bench_audit()


if __name__ == "__main__":
    main()
