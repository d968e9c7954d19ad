"""Claims: (1) our epsilon equals dp_accounting's; (2) the cost of DP training.

1. Accounting: for a grid of (q, sigma, steps, delta), `compute_epsilon`
   (given num_examples, batch_size, epochs) is compared with an epsilon
   computed directly with dp_accounting's RDP and PLD accountants for the
   Poisson-subsampled Gaussian mechanism. Target: relative difference < 1e-6.
2. Speed: one epoch of `DPModel.fit` (per-example clipping, and 32
   microbatches) against plain `fit`, batch 256, 8,192 examples, MLP
   64-256-256-10; median of `--repeats` epochs after a warm-up epoch.
Run: .venv/bin/python benchmarks/bench_privacy.py
"""

import argparse
import itertools
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import environment, timed  # noqa: E402

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


def check_speed(repeats):
    import keras
    import numpy as np

    from keras_mlsec.privacy import DPModel

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8192, 64)).astype("float32")
    y = rng.integers(0, 10, size=8192).astype("int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def build(kind):
        if kind == "plain":
            model = _mlp()
        elif kind == "dp":
            model = DPModel(_mlp(), l2_norm_clip=1.0, noise_multiplier=1.0, seed=0)
        else:
            model = DPModel(_mlp(), l2_norm_clip=1.0, noise_multiplier=1.0, seed=0,
                            num_microbatches=32)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=["accuracy"])
        model.fit(x, y, epochs=1, batch_size=256, verbose=0)  # warm-up: tracing
        return model

    times = {}
    for kind in ("plain", "dp", "dp, 32 microbatches"):
        model = build(kind)
        times[kind], _ = timed(lambda: model.fit(x, y, epochs=1, batch_size=256, verbose=0),
                               repeats)
    print(f"epoch time, batch 256, 8192 examples, MLP 64-256-256-10 "
          f"(median of {repeats} epochs):")
    for kind, seconds in times.items():
        print(f"  {kind:<22} {seconds * 1000:8.1f} ms   "
              f"ratio vs plain fit {seconds / times['plain']:6.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    print(environment())
    check_accounting()
    if not args.skip_speed:
        check_speed(args.repeats)


if __name__ == "__main__":
    main()
