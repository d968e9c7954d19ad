"""Claims: (1) our epsilon equals dp_accounting's; (2) the cost of DP training.

1. Accounting: for a grid of (q, sigma, steps, delta), `compute_epsilon`
   (given num_examples, batch_size, epochs) is compared with an epsilon
   computed directly with dp_accounting's RDP and PLD accountants for the
   Poisson-subsampled Gaussian mechanism. Target: relative difference < 1e-6.
2. Speed: one epoch of `DPModel.fit` (per-example clipping, and 32
   microbatches) against plain `fit`, batch 256, 8,192 examples, MLP
   64-256-256-10; median of `--repeats` epochs after a warm-up epoch.
3. Utility: test accuracy of the digits 8x8 MLP trained with DP-SGD
   (`make_private` at target epsilon 1, 3, 8, delta 1e-5) and without DP.
4. Attacks: on a digits MLP overfit on 800 members (800 non-members held
   out), LiRA's TPR at 0.1% FPR is >= 5x the loss-threshold attack's; our
   best AUC >= ART 1.20.1 `MembershipInferenceBlackBox` on the same model
   (ART's attack is fit on one half of each set and both are scored on the
   other half); a DP model at epsilon 1 leaves the attacker an advantage
   near zero.
5. Audit: one-run canary audit (Steinke et al. 2023) of DP-SGD at epsilon
   1, 3, 8 and of non-private training; the lower bound sits below the
   accountant's epsilon.
Run: .venv/bin/python benchmarks/bench_privacy.py
     [--part accounting|speed|utility|attacks|audit|all]
"""

import argparse
import itertools
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import art_classifier, environment, timed  # noqa: E402

NUM_EXAMPLES = 100_000


def reference_epsilon(accountant, q, sigma, steps, delta):
    import dp_accounting
    from dp_accounting import pld, rdp

    account = rdp.RdpAccountant() if accountant == "rdp" else pld.PLDAccountant()
    account.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps))
    return account.get_epsilon(delta)


def accounting_grid(accountant, rates, sigmas, epochs_list, deltas):
    from keras_mlsec.privacy import compute_epsilon

    worst, rows = 0.0, 0
    for q, sigma, epochs, delta in itertools.product(rates, sigmas, epochs_list, deltas):
        batch_size = int(round(q * NUM_EXAMPLES))
        steps = epochs * math.ceil(NUM_EXAMPLES / batch_size)
        ours = compute_epsilon(num_examples=NUM_EXAMPLES, batch_size=batch_size, epochs=epochs,
                               noise_multiplier=sigma, delta=delta, accountant=accountant)
        expected = reference_epsilon(accountant, batch_size / NUM_EXAMPLES, sigma, steps, delta)
        worst = max(worst, abs(ours - expected) / abs(expected))
        rows += 1
    return rows, worst


def check_accounting():
    start = time.perf_counter()
    rdp_rows, rdp_worst = accounting_grid(
        "rdp", rates=(0.001, 0.004, 0.01, 0.05), sigmas=(0.5, 0.8, 1.1, 2.0, 4.0),
        epochs_list=(1, 10, 50), deltas=(1e-6, 1e-8))
    pld_rows, pld_worst = accounting_grid(
        "pld", rates=(0.004, 0.01), sigmas=(0.8, 2.0), epochs_list=(1, 10), deltas=(1e-6,))
    for name, rows, worst in (("rdp", rdp_rows, rdp_worst), ("pld", pld_rows, pld_worst)):
        verdict = "PASS" if worst < 1e-6 else "FAIL"
        print(f"accounting {name}: {rows} grid points, max relative difference "
              f"{worst:.2e} (target < 1e-6): {verdict}")
    print(f"  (grid q x sigma x epochs x delta, {NUM_EXAMPLES} examples; "
          f"{time.perf_counter() - start:.1f} s)")


def _mlp(seed=0):
    import keras

    init = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(256, activation="relu", kernel_initializer=init(seed)),
        keras.layers.Dense(256, activation="relu", kernel_initializer=init(seed + 1)),
        keras.layers.Dense(10, kernel_initializer=init(seed + 2)),
    ])


def _cnn(seed=0):
    import keras

    init = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu",
                            kernel_initializer=init(seed)),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu",
                            kernel_initializer=init(seed + 1)),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu", kernel_initializer=init(seed + 2)),
        keras.layers.Dense(10, kernel_initializer=init(seed + 3)),
    ])


SPEED_KINDS = ("plain", "ghost", "per_example", "per_example, 32 microbatches")


def _speed_variant(arch, kind, repeats):
    """Median epoch seconds and peak RSS growth (MiB) of one variant (own process)."""
    import resource

    import keras
    import numpy as np

    from keras_mlsec.privacy import DPModel

    rng = np.random.default_rng(0)
    shape = (64,) if arch == "mlp" else (28, 28, 1)
    x = rng.normal(size=(8192, *shape)).astype("float32")
    y = rng.integers(0, 10, size=8192).astype("int32")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    net = _mlp() if arch == "mlp" else _cnn()
    if kind == "plain":
        model = net
    else:
        clipping = "ghost" if kind == "ghost" else "per_example"
        micro = 32 if "microbatches" in kind else None
        model = DPModel(net, l2_norm_clip=1.0, noise_multiplier=1.0, seed=0, clipping=clipping,
                        num_microbatches=micro)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=256, verbose=0)  # warm-up: tracing
    seconds, _ = timed(lambda: model.fit(x, y, epochs=1, batch_size=256, verbose=0), repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return seconds, (peak - base) / 1024


def check_speed(repeats):
    """Plain fit vs DPModel (ghost, per-example, microbatches) on an MLP and a small CNN.

    Each variant runs in a fresh process (spawn) so that its peak memory is its
    own: reported is the growth of the process' peak RSS (`ru_maxrss`) from after
    the data are made to the end of the timed epochs (TensorFlow's CPU allocator
    has no `get_memory_info`). It includes tracing and the graph, not only tensors.
    """
    import concurrent.futures
    import multiprocessing

    targets = {"mlp": 1.7, "cnn": 3.0}
    names = {"mlp": "MLP 64-256-256-10",
             "cnn": "CNN 28x28x1 Conv16-pool-Conv32-pool-Dense64-10"}
    context = multiprocessing.get_context("spawn")
    for arch in ("mlp", "cnn"):
        results = {}
        for kind in SPEED_KINDS:
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                results[kind] = pool.submit(_speed_variant, arch, kind, repeats).result()
        plain = results["plain"][0]
        print(f"epoch time, batch 256, 8192 examples, {names[arch]} "
              f"(median of {repeats} epochs after a warm-up; peak RSS growth):")
        for kind, (seconds, mib) in results.items():
            print(f"  {kind:<30} {seconds * 1000:8.1f} ms   ratio vs plain fit "
                  f"{seconds / plain:6.2f}x   peak +{mib:7.1f} MiB")
        ratio = results["ghost"][0] / plain
        print(f"  ghost clipping ratio {ratio:.2f}x (target <= {targets[arch]}x): "
              f"{'PASS' if ratio <= targets[arch] else 'FAIL'}")


DELTA = 1e-5
EPSILONS = (1.0, 3.0, 8.0)
DP_EPOCHS, DP_BATCH = 15, 128  # Adam(0.01), clip 1.0 (a small grid: best of SGD/Adam tried)


def _digits_mlp(seed=0, compile=True):
    from keras_mlsec.datasets import reference_model

    return reference_model("mlp", (8, 8, 1), 10, seed=seed, compile=compile)


def _train_private(x, y, epsilon, *, epochs=DP_EPOCHS, batch_size=DP_BATCH, seed=0):
    """Digits MLP trained with DP-SGD at (epsilon, DELTA); epsilon None trains without DP."""
    import keras

    from keras_mlsec.privacy import make_private

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if epsilon is None:
        model = _digits_mlp(seed, compile=False)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
        model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
        return model
    private = make_private(_digits_mlp(seed, compile=False), l2_norm_clip=1.0,
                           target_epsilon=epsilon, delta=DELTA, epochs=epochs,
                           batch_size=batch_size, num_examples=len(x), seed=seed)
    private.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    private.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return private


def check_utility():
    import numpy as np

    from keras_mlsec.datasets import load_digits

    (x_train, y_train), (x_test, y_test) = load_digits(8, seed=0)
    print(f"utility: digits 8x8 MLP 64-128-64-10, {len(x_train)} train / {len(x_test)} test, "
          f"{DP_EPOCHS} epochs, batch {DP_BATCH}, clip 1.0, Adam(0.01); delta {DELTA:g}")
    print(f"  {'privacy':<14}{'noise':>8}{'test accuracy':>16}")
    for epsilon in EPSILONS + (None,):
        model = _train_private(x_train, y_train, epsilon)
        accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test))
        name = "no DP" if epsilon is None else f"epsilon {epsilon:g}"
        noise = "-" if epsilon is None else f"{model.noise_multiplier:.3f}"
        print(f"  {name:<14}{noise:>8}{accuracy:>16.4f}")


def _attack_split():
    import numpy as np

    from keras_mlsec.datasets import load_digits

    (x_a, y_a), (x_b, y_b) = load_digits(8, seed=0)
    x, y = np.concatenate([x_a, x_b]), np.concatenate([y_a, y_b])
    order = np.random.default_rng(0).permutation(len(x))[:1600]
    return (x[order[:800]], y[order[:800]]), (x[order[800:]], y[order[800:]])


def _art_auc(model, members, non_members):
    """AUC of ART's black-box attack (fit on the first halves, scored on the second)."""
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox

    from keras_mlsec.attacks import MembershipReport

    classifier = art_classifier(model, (8, 8, 1), clip_values=None)
    half = len(members[0]) // 2
    best = {}
    for input_type in ("prediction", "loss"):
        attack = MembershipInferenceBlackBox(classifier, input_type=input_type,
                                             attack_model_type="rf")
        attack.fit(members[0][:half], members[1][:half], non_members[0][:half],
                   non_members[1][:half])
        scores = [attack.infer(x[half:], y[half:], probabilities=True)
                  for x, y in (members, non_members)]
        scores = [s[:, -1] if s.ndim == 2 else s for s in scores]
        best[input_type] = MembershipReport(member_scores=scores[0],
                                            non_member_scores=scores[1]).auc
    return best


def check_attacks(num_shadows):
    from keras_mlsec.attacks import MembershipReport, membership_inference

    members, non_members = _attack_split()
    model = _digits_mlp()
    model.fit(*members, epochs=100, batch_size=64, verbose=0)
    print(f"attacks: digits MLP overfit on {len(members[0])} members (100 epochs, Adam), "
          f"{len(non_members[0])} non-members; LiRA online with {num_shadows} shadows")
    reports = {method: membership_inference(model, members, non_members, method=method)
               for method in ("loss", "entropy")}
    reports["lira"] = membership_inference(model, members, non_members, method="lira",
                                           num_shadow_models=num_shadows, epochs=100,
                                           batch_size=64, seed=0)
    print(f"  {'method':<10}{'AUC':>8}{'advantage':>11}{'TPR@0.1%':>10}{'TPR@1%':>9}")
    for name, r in reports.items():
        print(f"  {name:<10}{r.auc:>8.4f}{r.advantage:>11.4f}{r.tpr_at_fpr[0.001]:>10.4f}"
              f"{r.tpr_at_fpr[0.01]:>9.4f}")
    lira, loss = reports["lira"].tpr_at_fpr[0.001], reports["loss"].tpr_at_fpr[0.001]
    ratio = lira / loss if loss > 0 else float("inf")
    print(f"  LiRA / loss TPR at 0.1% FPR (0 false positives of 800): {lira:.4f} / "
          f"{loss:.4f} = {ratio:.1f}x (target >= 5x): "
          f"{'PASS' if lira > 0 and ratio >= 5 else 'FAIL'}")
    half = len(members[0]) // 2
    ours = {name: MembershipReport(member_scores=r.member_scores[half:],
                                   non_member_scores=r.non_member_scores[half:]).auc
            for name, r in reports.items()}
    try:
        art = _art_auc(model, members, non_members)
    except ImportError as error:
        print(f"  ART comparison skipped (pip install '.[bench]'): {error}")
    else:
        best_ours, best_art = max(ours, key=ours.get), max(art, key=art.get)
        print(f"  AUC on the held-out halves: ours best {best_ours} {ours[best_ours]:.4f}; "
              f"ART 1.20.1 MembershipInferenceBlackBox (random forest) "
              + ", ".join(f"{k} {val:.4f}" for k, val in art.items())
              + f" (target ours >= ART): "
              f"{'PASS' if ours[best_ours] >= art[best_art] else 'FAIL'}")
    private = _train_private(*members, 1.0)
    dp = {method: membership_inference(private.model, members, non_members, method=method)
          for method in ("loss", "entropy")}
    worst = max(r.advantage for r in dp.values())
    # Advantage = KS statistic of the two score samples: its 95% noise floor with no leakage.
    n, m = len(members[0]), len(non_members[0])
    floor = 1.36 * math.sqrt((n + m) / (n * m))
    print(f"  DP-SGD at epsilon 1 (delta {DELTA:g}, same 800 members): "
          + ", ".join(f"{k} AUC {r.auc:.4f} advantage {r.advantage:.4f}" for k, r in dp.items())
          + f"; largest advantage {worst:.4f} (target near 0: below the 95% KS noise floor "
          f"{floor:.4f} of {n}/{m} samples): {'PASS' if worst < floor else 'FAIL'}")


def check_audit(num_canaries=200, num_guesses=60):
    from keras_mlsec.datasets import load_digits
    from keras_mlsec.privacy import audit_epsilon, compute_epsilon, craft_canaries

    (x_train, y_train), _ = load_digits(8, seed=0)
    data = (x_train[:1000], y_train[:1000])
    canaries = craft_canaries(x_train, num_canaries, num_classes=10, seed=1)
    print(f"audit: one-run (Steinke et al. 2023), {len(data[0])} digits + {num_canaries} "
          f"random-noise canaries with random labels (each in with prob. 1/2), "
          f"{num_guesses} guesses, delta {DELTA:g}, 95% confidence, training as in utility")
    print(f"  {'training':<14}{'accountant eps':>16}{'audit lower bound':>19}{'correct':>9}")
    for epsilon in EPSILONS + (None,):
        seen = {}

        def train_fn(x, y, epsilon=epsilon, seen=seen):
            model = _train_private(x, y, epsilon)
            if epsilon is not None:
                seen["eps"] = compute_epsilon(num_examples=len(x), batch_size=DP_BATCH,
                                              epochs=DP_EPOCHS,
                                              noise_multiplier=model.noise_multiplier,
                                              delta=DELTA)
            return model

        report = audit_epsilon(train_fn, data, canaries, num_guesses=num_guesses, delta=DELTA,
                               seed=0)
        accountant = seen.get("eps", float("inf"))
        name = "no DP" if epsilon is None else f"epsilon {epsilon:g}"
        verdict = "PASS" if report.epsilon_lower_bound <= accountant else "FAIL"
        print(f"  {name:<14}{accountant:>16.4f}{report.epsilon_lower_bound:>19.4f}"
              f"{report.num_correct:>6}/{report.num_guesses}  bound <= accountant: {verdict}")


PARTS = ("accounting", "speed", "utility", "attacks", "audit")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--part", choices=PARTS + ("all",), default="all")
    parser.add_argument("--shadows", type=int, default=16, help="LiRA shadow models")
    args = parser.parse_args()
    parts = PARTS if args.part == "all" else (args.part,)
    if args.skip_speed:
        parts = tuple(p for p in parts if p != "speed")
    print(environment())
    for part in parts:
        start = time.perf_counter()
        if part == "accounting":
            check_accounting()
        elif part == "speed":
            check_speed(args.repeats)
        elif part == "utility":
            check_utility()
        elif part == "attacks":
            check_attacks(args.shadows)
        else:
            check_audit()
        print(f"  [{part}: {time.perf_counter() - start:.0f} s]")


if __name__ == "__main__":
    main()
