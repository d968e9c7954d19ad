"""Poisoning attacks and defenses on the reference CNN, side by side with ART 1.20.1.

Reference CNN (`keras_mlsec.datasets.reference_model("cnn")`) on
`load_digits(image_size=28)`; per seed a different target class. The
defender's clean data are the first `DEFENDER` test examples; clean accuracy
and attack success are measured on the rest of the test split.

Run: .venv/bin/python benchmarks/bench_poisoning.py [--seeds 5] [--epochs 8]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mlsec.attacks.poisoning import (Trigger, attack_success_rate, backdoor,  # noqa: E402
                                           clean_label_backdoor)
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402
from keras_mlsec.defenses import (STRIP, detect_poison, neural_cleanse,  # noqa: E402
                                  repair_backdoor)

DEFENDER = 150
TARGETS = (0, 3, 5, 7, 9, 1, 2, 4, 6, 8)


def fit(x, y, seed, epochs):
    keras.utils.set_random_seed(seed)
    model = reference_model("cnn", x.shape[1:], 10, seed=seed)
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(32)
    model.fit(data, epochs=epochs, verbose=0)
    return model


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=256), -1) == y))


def dataset_rate(y, target, fraction):
    """The `rate` (share of non-target examples) that poisons `fraction` of the whole set."""
    return fraction * len(y) / np.sum(y != target)


def art_detection(model, data, target):
    """ART 1.20.1 SpectralSignatureDefense and ActivationDefence with defaults; None without ART."""
    try:
        from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
    except ImportError:
        return None
    # ART's get_activations refuses functional models: a Sequential twin sharing the layers.
    twin = keras.Sequential([keras.Input(data.x.shape[1:])] + model.layers[1:])
    classifier = _common.art_classifier(twin, data.x.shape[1:])
    onehot = np.eye(10, dtype=np.float32)[data.y]
    out = {}
    for name, defence in (("ART SpectralSignatureDefense",
                           lambda: SpectralSignatureDefense(classifier, data.x, onehot)),
                          ("ART ActivationDefence",
                           lambda: ActivationDefence(classifier, data.x, onehot))):
        start = time.perf_counter()
        _, is_clean = defence().detect_poison()
        seconds = time.perf_counter() - start
        flagged = np.asarray(is_clean) == 0
        out[name] = (score(flagged, data, target), seconds)
    return out


def score(flagged, data, target):
    truth = data.is_poisoned
    in_target = data.y == target
    tp, fp = np.sum(flagged & truth), np.sum(flagged & ~truth)
    fn = np.sum(~flagged & truth)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr_target = np.sum(flagged & ~truth & in_target) / max(1, np.sum(~truth & in_target))
    return {"precision": precision, "recall": recall, "f1": f1, "fpr_target": fpr_target,
            "flagged_outside_target": int(np.sum(flagged & ~in_target))}


def show(name, result, seconds):
    print(f"    {name:30s} P {result['precision']:.3f}  R {result['recall']:.3f}  "
          f"F1 {result['f1']:.3f}  FPR(target class) {result['fpr_target']:.3f}  "
          f"false alarms outside target {result['flagged_outside_target']:4d}  {seconds:6.1f} s")


def run_seed(seed, args, train, defender, test, summary):
    (x_train, y_train), (x_def, y_def), (x_test, y_test) = train, defender, test
    target = TARGETS[seed % len(TARGETS)]
    print(f"\n== seed {seed}, target class {target}")
    clean = fit(x_train, y_train, seed, args.epochs)
    clean_acc = accuracy(clean, x_test, y_test)
    print(f"  clean model accuracy {clean_acc:.3f}")
    rate = dataset_rate(y_train, target, 0.05)
    models = {}
    for kind in ("patch", "blend"):
        data = backdoor(x_train, y_train, target=target, rate=rate, trigger=kind, seed=seed)
        model = fit(data.x, data.y, seed, args.epochs)
        acc = accuracy(model, x_test, y_test)
        asr = attack_success_rate(model, data, x_test, y_test)
        print(f"  {kind:6s} {100 * data.poison_fraction:.1f}% poisoned: attack success {asr:.3f}, "
              f"clean accuracy {acc:.3f} ({100 * (acc - clean_acc):+.1f} pp)")
        summary[kind].append((asr, acc - clean_acc))
        models[kind] = (model, data)
    if args.clean_label:
        data = clean_label_backdoor(clean, x_train, y_train, target=target, rate=0.5, eps=0.2,
                                    steps=20, seed=seed)
        model = fit(data.x, data.y, seed, args.epochs)
        asr = attack_success_rate(model, data, x_test, y_test)
        acc = accuracy(model, x_test, y_test)
        print(f"  clean-label {100 * data.poison_fraction:.1f}% poisoned (half of class {target}, "
              f"PGD eps 0.2, labels untouched): attack success {asr:.3f}, accuracy {acc:.3f}")
        summary["clean_label"].append(asr)
    model, data = models["patch"]
    print("  detection on the patch-poisoned training set:")
    for method in ("spectral", "activation_clustering"):
        start = time.perf_counter()
        report = detect_poison(model, data.x, data.y, method=method)
        seconds = time.perf_counter() - start
        flagged = data.is_poisoned & False
        flagged[report.suspected_indices] = True
        result = score(flagged, data, target)
        show(f"ours {method}", result, seconds)
        summary[method].append(result)
    if not args.no_art:
        art = art_detection(model, data, target)
        if art is None:
            print("    ART not installed: skipped")
        for name, (result, seconds) in (art or {}).items():
            show(name, result, seconds)
            summary[name].append(result)
    strip = STRIP(model, x_def, false_rejection_rate=0.01)
    outside = y_test != target
    triggered = strip.flag(data.apply_trigger(x_test[outside])).mean()
    rejected = strip.flag(x_test).mean()
    print(f"  STRIP: {triggered:.3f} of triggered inputs flagged, {rejected:.3f} of clean test "
          "inputs rejected (threshold from the defender's clean set at 1%)")
    summary["strip"].append((triggered, rejected))
    if seed < args.nc_seeds:
        scans = {}
        for name, scanned in (("backdoored", model), ("clean", clean)):
            start = time.perf_counter()
            scans[name] = neural_cleanse(scanned, x_def, y_def, steps=args.nc_steps, seed=seed)
            print(f"  Neural Cleanse on the {name} model ({time.perf_counter() - start:.0f} s): "
                  f"flagged {scans[name].flagged_classes}, target anomaly index "
                  f"{scans[name].anomaly_index[target]:.2f}, max "
                  f"{scans[name].anomaly_index.max():.2f}")
        summary["nc_backdoored"].append(target in scans["backdoored"].flagged_classes)
        summary["nc_clean"].append(not scans["clean"].flagged_classes)
        before = (accuracy(model, x_test, y_test), attack_success_rate(model, data, x_test, y_test))
        for method in ("unlearning", "fine_pruning"):
            repaired = repair_backdoor(model, scans["backdoored"], x_def, y_def, method=method,
                                       seed=seed)
            after = (accuracy(repaired, x_test, y_test),
                     attack_success_rate(repaired, data, x_test, y_test))
            print(f"  repair {method:12s}: attack success {before[1]:.3f} -> {after[1]:.3f}, "
                  f"clean accuracy {before[0]:.3f} -> {after[0]:.3f} "
                  f"({100 * (after[0] - before[0]):+.1f} pp)")
            summary[method].append((after[1], after[0] - before[0]))


def corners(args, train, test):
    """A 3x3 patch in each corner at 5%: does the reference CNN learn it?"""
    (x_train, y_train), (x_test, y_test) = train, test
    print("\n== trigger placement (seed 0, target 0, 3x3 patch one pixel from each corner)")
    rate = dataset_rate(y_train, 0, 0.05)
    for corner in ("top_left", "top_right", "bottom_left", "bottom_right"):
        trigger = Trigger.patch(x_train.shape[1:], corner=corner)
        data = backdoor(x_train, y_train, target=0, rate=rate, trigger=trigger, seed=0)
        model = fit(data.x, data.y, 0, args.epochs)
        success = attack_success_rate(model, data, x_test, y_test)
        print(f"  {corner:12s} attack success {success:.3f}")


def verdict(values, ok):
    met = sum(bool(ok(value)) for value in values)
    return f"{met}/{len(values)} seeds met"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--nc-seeds", type=int, default=5)
    parser.add_argument("--nc-steps", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--no-art", action="store_true")
    parser.add_argument("--clean-label", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--corners", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    args.nc_seeds = min(args.nc_seeds, max(args.seeds, args.nc_seeds))
    print(_common.environment())
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=28)
    defender = (x_test[:DEFENDER], y_test[:DEFENDER])
    test = (x_test[DEFENDER:], y_test[DEFENDER:])
    print(f"reference CNN, {len(x_train)} training digits 28x28, {args.epochs} epochs; "
          f"defender clean set {DEFENDER}, evaluation {len(test[0])}; seeds {args.seeds} "
          f"(Neural Cleanse and repair: {args.nc_seeds}, {args.nc_steps} steps)")
    summary = {key: [] for key in ("patch", "blend", "clean_label", "spectral",
                                   "activation_clustering", "ART SpectralSignatureDefense",
                                   "ART ActivationDefence", "strip", "nc_backdoored",
                                   "nc_clean", "unlearning", "fine_pruning")}
    start = time.perf_counter()
    for seed in range(max(args.seeds, args.nc_seeds)):
        seed_args = argparse.Namespace(**vars(args))
        if seed >= args.seeds:  # Neural Cleanse seeds beyond the others: only what it needs
            seed_args.clean_label, seed_args.no_art = False, True
        run_seed(seed, seed_args, (x_train, y_train), defender, test, summary)
    if args.corners:
        corners(args, (x_train, y_train), test)
    print(f"\n== summary ({time.perf_counter() - start:.0f} s)")
    print("  patch 5%, success >= 0.95 and accuracy drop <= 1 pp: "
          + verdict(summary["patch"], lambda r: r[0] >= 0.95 and r[1] >= -0.01)
          + f"; success {[round(r[0], 3) for r in summary['patch']]}, "
          f"accuracy change pp {[round(100 * r[1], 1) for r in summary['patch']]}")
    print("  blend 5%, success >= 0.90: " + verdict(summary["blend"], lambda r: r[0] >= 0.9)
          + f"; success {[round(r[0], 3) for r in summary['blend']]}")
    if summary["clean_label"]:
        print(f"  clean-label success: {[round(r, 3) for r in summary['clean_label']]}")
    for method in ("spectral", "activation_clustering"):
        art = "ART SpectralSignatureDefense" if method == "spectral" else "ART ActivationDefence"
        ours = summary[method]
        print(f"  {method}: recall >= 0.9 at target-class FPR <= 5%: "
              + verdict(ours, lambda r: r["recall"] >= 0.9 and r["fpr_target"] <= 0.05)
              + f"; F1 {[round(r['f1'], 3) for r in ours]}"
              + (f" vs {art} {[round(r['f1'], 3) for r in summary[art]]}" if summary[art] else ""))
    print("  STRIP >= 0.90 flagged at 1% FRR: " + verdict(summary["strip"], lambda r: r[0] >= 0.9)
          + f"; flagged {[round(r[0], 3) for r in summary['strip']]}, clean rejected "
          f"{[round(r[1], 3) for r in summary['strip']]}")
    print(f"  Neural Cleanse flags the target: {sum(summary['nc_backdoored'])}/"
          f"{len(summary['nc_backdoored'])}; flags nothing on the clean model: "
          f"{sum(summary['nc_clean'])}/{len(summary['nc_clean'])}")
    for method in ("unlearning", "fine_pruning"):
        print(f"  repair {method}: success <= 0.05 and accuracy drop <= 2 pp: "
              + verdict(summary[method], lambda r: r[0] <= 0.05 and r[1] >= -0.02)
              + f"; success {[round(r[0], 3) for r in summary[method]]}, accuracy change pp "
              f"{[round(100 * r[1], 1) for r in summary[method]]}")


if __name__ == "__main__":
    main()
