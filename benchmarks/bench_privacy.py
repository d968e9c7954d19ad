"""Claims: (1) our epsilon equals dp_accounting's; (2) the cost of DP training.

1. Accounting: for a grid of (q, sigma, steps, delta), `compute_epsilon`
   (given num_examples, batch_size, epochs) is compared with an epsilon
   computed directly with dp_accounting's RDP and PLD accountants for the
   Poisson-subsampled Gaussian mechanism. Target: relative difference < 1e-6.
2. Speed: one `fit(epochs=1)` of `DPModel` (ghost and per-example
   clipping) against plain `fit` on each input path (NumPy arrays, tf.data
   with static batches, tf.data with an unknown batch dimension,
   `poisson_dataset`), MLP 64-256-256-10 on 8,192 examples and a small CNN
   (`--cnn-examples`, default 4,096), batch 256; and adversarial training
   under DP (`AdversarialModel(DPModel(...))`, PGD-3) against the two
   overheads apart. All variants round-robin in this process; medians of
   `--repeats` after a warm-up. Targets: ghost <= 1.7x (MLP), <= 3.0x (CNN)
   on each path; composed overhead <= 1.1x the sum of the two.
3. Utility: test accuracy of the digits 8x8 MLP trained with DP-SGD on
   `poisson_dataset` batches (`make_private` at target epsilon 1, 3, 8,
   delta 1e-5: the Poisson-sampling epsilon) and without DP.
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
     [--part accounting|speed|utility|attacks|leakage|audit|all]
"""

import argparse
import itertools
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import art_classifier, environment  # noqa: E402

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


INPUTS = ("numpy", "tf.data static", "tf.data unknown", "poisson")
TARGETS = {"mlp": 1.7, "cnn": 3.0}
COMPOSITION_TARGET = 1.1


def _inputs(x, y, batch):
    """The four ways a user feeds `fit`: (fit args, fit kwargs) per input kind."""
    import tensorflow as tf

    from keras_mlsec.privacy import poisson_dataset

    slices = tf.data.Dataset.from_tensor_slices((x, y))
    static = slices.batch(batch, drop_remainder=True)
    return {
        "numpy": ((x, y), {"batch_size": batch, "shuffle": False}),
        "tf.data static": ((static,), {}),
        "tf.data unknown": ((slices.batch(batch),), {}),
        "poisson": ((poisson_dataset(x, y, batch_size=batch, seed=0),), {}),
        # The static batches through a one-op per-batch `map` (plain fit only): what any
        # per-batch function in an input pipeline costs a fit step here.
        "static + map": ((static.map(lambda xb, yb: (xb + 0.0, yb)),), {}),
    }


def _runners(arch, num_examples, batch, attack_steps):
    """name -> callable running one epoch as `fit(epochs=1)` (what a federated round does)."""
    import keras
    import numpy as np

    from keras_mlsec.attacks import PGD
    from keras_mlsec.privacy import DPModel
    from keras_mlsec.training import AdversarialModel

    rng = np.random.default_rng(0)
    shape = (64,) if arch == "mlp" else (28, 28, 1)
    x = rng.uniform(size=(num_examples, *shape)).astype("float32")
    y = rng.integers(0, 10, size=num_examples).astype("int32")
    inputs = _inputs(x, y, batch)
    net = _mlp if arch == "mlp" else _cnn
    attack = PGD(eps=0.05, steps=attack_steps)

    def compiled(model):
        model.compile(optimizer=keras.optimizers.SGD(0.05),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    def private(clipping):
        return DPModel(net(), l2_norm_clip=1.0, noise_multiplier=1.0, seed=0, clipping=clipping)

    models = {"plain": compiled(net()), "ghost": compiled(private("ghost")),
              "per_example": compiled(private("per_example")),
              "adversarial": compiled(AdversarialModel(net(), attack=attack, seed=0)),
              "dp+adversarial": compiled(AdversarialModel(private("ghost"), attack=attack,
                                                          seed=0))}
    runners = {}
    for kind, (args, kwargs) in inputs.items():
        for name in ("plain", "ghost", "per_example") if kind in INPUTS else ("plain",):
            runners[(name, kind)] = (models[name], args, kwargs)
    for name in ("adversarial", "dp+adversarial"):
        runners[(name, "tf.data unknown")] = (models[name], *inputs["tf.data unknown"][0:1],
                                              {})
    return {key: (lambda m=m, a=a, k=k: m.fit(*a, epochs=1, verbose=0, **k))
            for key, (m, a, k) in runners.items()}


def _round_robin(runners, repeats):
    """Times every runner `repeats` times, interleaved; returns {key: (wall list, cpu list)}."""
    for run in runners.values():
        run()  # warm-up: tracing
    times = {key: ([], []) for key in runners}
    for _ in range(repeats):
        for key, run in runners.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[key][0].append(time.perf_counter() - wall)
            times[key][1].append(time.process_time() - cpu)
    return times


def check_speed(repeats, cnn_examples):
    """DPModel epochs vs plain `fit` on every input path, and DP + adversarial training.

    All variants of one architecture are timed round-robin in this process:
    each timing is one `fit(epochs=1)` call, the call a federated client makes
    every round, so a per-call cost (retracing, setup) would show in it.
    Reported: wall-clock and process CPU time (all threads) per epoch, medians.
    """
    import statistics

    for arch, num_examples in (("mlp", 8192), ("cnn", cnn_examples)):
        name = ("MLP 64-256-256-10" if arch == "mlp"
                else "CNN 28x28x1 Conv16-pool-Conv32-pool-Dense64-10")
        times = _round_robin(_runners(arch, num_examples, 256, 3), repeats)
        med = {key: (statistics.median(w), statistics.median(c)) for key, (w, c) in times.items()}
        print(f"{name}: {num_examples} examples, batch 256, SGD; one fit(epochs=1) per timing, "
              f"all variants round-robin, median of {repeats} after a warm-up")
        for key, (wall, cpu) in times.items():
            print(f"  {key[0]:<15} {key[1]:<16} wall {med[key][0] * 1000:8.1f} ms  cpu "
                  f"{med[key][1] * 1000:8.1f} ms   wall runs "
                  + " ".join(f"{t * 1000:.0f}" for t in wall))
        target = TARGETS[arch]
        for kind in INPUTS:
            for clipping in ("ghost", "per_example"):
                ratios = [med[(clipping, kind)][i] / med[("plain", kind)][i] for i in (0, 1)]
                verdict = ""
                if clipping == "ghost":
                    verdict = "  (target <= {}x: wall {}, cpu {})".format(
                        target, *("met" if r <= target else "MISSED" for r in ratios))
                print(f"  {clipping:<11} / plain, {kind:<16} wall {ratios[0]:5.2f}x  "
                      f"cpu {ratios[1]:5.2f}x{verdict}")
        poisson = [med[("ghost", "poisson")][i] / med[("plain", "tf.data static")][i]
                   for i in (0, 1)]
        print("  ghost poisson / plain on static batches of the expected size: wall "
              "{:5.2f}x  cpu {:5.2f}x  (target <= {}x: wall {}, cpu {})".format(
                  *poisson, target, *("met" if r <= target else "MISSED" for r in poisson)))
        for kind in ("poisson", "static + map"):
            ratios = [med[("plain", kind)][i] / med[("plain", "tf.data static")][i]
                      for i in (0, 1)]
            print(f"  plain {kind} / plain static (input pipeline cost, no DP): wall "
                  f"{ratios[0]:5.2f}x  cpu {ratios[1]:5.2f}x")
        print("  (every timing above is one fit(epochs=1) call: the repeated-fit cost of a "
              "federated client is the epoch time itself)")
        plain = med[("plain", "tf.data unknown")]
        dp, adv = med[("ghost", "tf.data unknown")], med[("adversarial", "tf.data unknown")]
        both = med[("dp+adversarial", "tf.data unknown")]
        for i, clock in enumerate(("wall", "cpu")):
            parts = (dp[i] - plain[i], adv[i] - plain[i], both[i] - plain[i])
            if min(parts) <= 0:  # an overhead below the noise: no meaningful ratio
                verdict = (f"not measurable, overheads dp {parts[0] * 1000:.0f} ms, adversarial "
                           f"{parts[1] * 1000:.0f} ms, composed {parts[2] * 1000:.0f} ms")
            else:
                ratio = parts[2] / (parts[0] + parts[1])
                verdict = (f"{ratio:5.2f}x (target <= {COMPOSITION_TARGET}x: "
                           f"{'met' if ratio <= COMPOSITION_TARGET else 'MISSED'})")
            print(f"  dp+adversarial (PGD-3) overhead / (dp overhead + adversarial overhead), "
                  f"{clock}: {verdict}; dp+adversarial / adversarial {both[i] / adv[i]:5.2f}x "
                  f"(target <= {target}x: {'met' if both[i] / adv[i] <= target else 'MISSED'})")


DELTA = 1e-5
EPSILONS = (1.0, 3.0, 8.0)
DP_EPOCHS, DP_BATCH = 15, 128  # Adam(0.01), clip 1.0 (a small grid: best of SGD/Adam tried)


def _digits_mlp(seed=0, compile=True):
    from keras_mlsec.datasets import reference_model

    return reference_model("mlp", (8, 8, 1), 10, seed=seed, compile=compile)


def _train_private(x, y, epsilon, *, epochs=DP_EPOCHS, batch_size=DP_BATCH, seed=0):
    """Digits MLP trained with DP-SGD at (epsilon, DELTA); epsilon None trains without DP."""
    import keras

    from keras_mlsec.privacy import make_private, poisson_dataset

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
    # Poisson-sampled batches: the sampling the epsilon of make_private is computed for.
    private.fit(poisson_dataset(x, y, batch_size=batch_size, seed=seed), epochs=epochs,
                verbose=0)
    return private


def check_utility():
    import numpy as np

    from keras_mlsec.datasets import load_digits

    (x_train, y_train), (x_test, y_test) = load_digits(8, seed=0)
    print(f"utility: digits 8x8 MLP 64-128-64-10, {len(x_train)} train / {len(x_test)} test, "
          f"{DP_EPOCHS} epochs, batch {DP_BATCH} (DP: Poisson-sampled, expected size), "
          f"clip 1.0, Adam(0.01); delta {DELTA:g}")
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
    check_dp_leakage(members, non_members)


def check_dp_leakage(members=None, non_members=None):
    """Loss/entropy attacks on the digits MLP trained with DP-SGD at epsilon 1 (Poisson batches)."""
    from keras_mlsec.attacks import membership_inference

    if members is None:
        members, non_members = _attack_split()
    private = _train_private(*members, 1.0)
    dp = {method: membership_inference(private.model, members, non_members, method=method)
          for method in ("loss", "entropy")}
    worst = max(r.advantage for r in dp.values())
    # Advantage = KS statistic of the two score samples: its 95% noise floor with no leakage.
    n, m = len(members[0]), len(non_members[0])
    floor = 1.36 * math.sqrt((n + m) / (n * m))
    print(f"  DP-SGD at epsilon 1 (delta {DELTA:g}, same 800 members): "
          + ", ".join(f"{k} AUC {r.auc:.4f} advantage {r.advantage:.4f}" for k, r in dp.items())
          + " (trained on poisson_dataset batches)"
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


PARTS = ("accounting", "speed", "utility", "attacks", "leakage", "audit")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cnn-examples", type=int, default=4096)
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
            check_speed(args.repeats, args.cnn_examples)
        elif part == "utility":
            check_utility()
        elif part == "attacks":
            check_attacks(args.shadows)
        elif part == "leakage":  # the DP row of "attacks" alone
            check_dp_leakage()
        else:
            check_audit()
        print(f"  [{part}: {time.perf_counter() - start:.0f} s]")


if __name__ == "__main__":
    main()
