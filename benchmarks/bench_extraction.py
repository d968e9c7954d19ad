"""Model extraction and its defenses, side by side with ART 1.20.1 (CopycatCNN, KnockoffNets).

Victims: the reference CNN on digits (28x28) and an MLP on breast cancer
(min-max scaled to [0, 1]). The attacker's pool is the victim's training
split (no labels for ours; ART's adaptive KnockoffNets needs the pool's labels
as its actions, ours clusters the pool). Agreement and accuracies are measured
on the test split. Every section prints only what it measured.

    .venv/bin/python benchmarks/bench_extraction.py [--quick]
"""

import argparse
import gc
import os
import time
import traceback
import tracemalloc

import numpy as np

from _common import art_classifier, environment

import keras  # noqa: E402  (after _common sets the log level)
import tensorflow as tf  # noqa: E402

from keras_mlsec.attacks import extract_linear, extract_model, pgd, transfer_attack  # noqa
from keras_mlsec.datasets import load_breast_cancer, load_digits, reference_model  # noqa
from keras_mlsec.defenses import GuardedModel, OutputHardening, QueryMonitor  # noqa


def train_victims(epochs):
    (xd, yd), (xd_test, yd_test) = load_digits(image_size=28)
    cnn = reference_model("cnn", xd.shape[1:], 10, seed=0)
    cnn.fit(tf.data.Dataset.from_tensor_slices((xd, yd)).shuffle(2000, seed=0).batch(64),
            epochs=epochs, verbose=0)
    (xb, yb), (xb_test, yb_test) = load_breast_cancer(standardize=False)
    mlp = reference_model("mlp", xb.shape[1:], 2, seed=0)
    mlp.fit(tf.data.Dataset.from_tensor_slices((xb, yb)).shuffle(500, seed=0).batch(32),
            epochs=60, verbose=0)
    return {"digits CNN": (cnn, xd, xd_test, yd, yd_test),
            "cancer MLP": (mlp, xb, xb_test, yb, yb_test)}


def labels_of(model, x):
    return np.argmax(model.predict(x, verbose=0, batch_size=512), 1)


def art_extract(kind, victim, pool, pool_labels, budget, epochs, seed):
    from art.attacks.extraction import CopycatCNN, KnockoffNets

    np.random.seed(seed)
    shape = pool.shape[1:]
    victim_art = art_classifier(victim, shape)
    thief = reference_model("cnn" if len(shape) == 3 else "mlp", shape,
                            victim.output_shape[-1], seed=seed, compile=False)
    thief_art = art_classifier(thief, shape, optimizer=keras.optimizers.Adam(1e-3))
    if kind == "CopycatCNN":
        attack = CopycatCNN(victim_art, batch_size_fit=64, batch_size_query=256,
                            nb_epochs=epochs, nb_stolen=budget, use_probability=True)
        stolen = attack.extract(pool, thieved_classifier=thief_art)
    else:  # "random" sampling: ART's adaptive sampler retraces a tf.function per query
        attack = KnockoffNets(victim_art, batch_size_fit=64, batch_size_query=256,
                              nb_epochs=epochs, nb_stolen=budget, sampling_strategy="random",
                              use_probability=True)
        stolen = attack.extract(pool, thieved_classifier=thief_art)
    return stolen.model, min(budget, len(pool))


def epochs_for(budget, scale):
    """Substitute epochs per training round at a budget: about `scale` examples seen, >= 3."""
    return max(3, round(scale / budget))


def agreement_section(victims, budgets, scale, keep, art=True):
    """`budgets`: a list, or a dict victim name -> list."""
    print(f"\n## Agreement with the victim (test split); substitute epochs per round = "
          f"max(3, round({scale} / budget)), the same for ours and ART")
    print("ART KnockoffNets runs its 'random' sampling (its 'adaptive' one retraces a "
          "tf.function per query); ART answers are arg-maxed by its sparse loss")
    print(f"{'victim':<11} {'budget':>6}  {'method':<28} {'queries':>7} {'agree':>6} "
          f"{'acc':>6} {'time s':>7}")
    rows = []
    for name, (victim, pool, x_test, y_pool, y_test) in victims.items():
        truth = labels_of(victim, x_test)
        for budget in budgets.get(name, []) if isinstance(budgets, dict) else budgets:
            found, epochs = {}, epochs_for(budget, scale)
            methods = ("ours random", "ART CopycatCNN", "ours knockoff", "ART KnockoffNets")
            for method in methods if art else methods[::2]:
                gc.collect()
                start = time.perf_counter()
                if method.startswith("ours"):
                    strategy = method.split()[1]
                    result = extract_model(victim, query_budget=budget, x_pool=pool,
                                           strategy=strategy, epochs=epochs, seed=0)
                    model, used = result.substitute, result.queries_used
                    if budget == 1000 and name == "digits CNN":
                        keep[strategy] = result
                else:
                    model, used = art_extract(method.split()[1], victim, pool, y_pool, budget,
                                              epochs, seed=0)
                seconds = time.perf_counter() - start
                stolen = labels_of(model, x_test)
                found[method] = float(np.mean(stolen == truth))
                print(f"{name:<11} {budget:>6}  {method:<28} {used:>7} {found[method]:>6.3f} "
                      f"{np.mean(stolen == y_test):>6.3f} {seconds:>7.1f}", flush=True)
            rows.append((name, budget, found))
    print("\nverdicts (ours >= ART at the same budget):")
    for name, budget, found in rows if art else []:
        a = found["ours random"] >= found["ART CopycatCNN"]
        b = found["ours knockoff"] >= found["ART KnockoffNets"]
        print(f"  {name:<11} {budget:>5}: random {found['ours random']:.3f} vs CopycatCNN "
              f"{found['ART CopycatCNN']:.3f} {'met' if a else 'MISSED'}; knockoff "
              f"{found['ours knockoff']:.3f} vs KnockoffNets {found['ART KnockoffNets']:.3f} "
              f"{'met' if b else 'MISSED'}")


def linear_section():
    print("\n## extract_linear (Tramer et al. 2016): max |weight error|, target < 1e-4")
    (xd, yd), _ = load_digits(8, flatten=True)
    (xb, yb), _ = load_breast_cancer(standardize=False)
    cases = [("softmax-linear digits", xd, yd, 10, "softmax"),
             ("logistic cancer", xb, yb, 1, "sigmoid")]
    for name, x, y, units, activation in cases:
        model = keras.Sequential([keras.Input(x.shape[1:]),
                                  keras.layers.Dense(units, activation=activation)])
        loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
        model.compile(keras.optimizers.Adam(0.05), loss)
        model.fit(x, y, epochs=50, batch_size=64, verbose=0)
        w, b = model.layers[-1].get_weights()
        if units > 1:
            w, b = w - w.mean(1, keepdims=True), b - b.mean()
        result = extract_linear(model, x.shape[1])
        error = np.abs(result.weights - w).max()
        bias_error = np.abs(result.bias - b).max()
        per_class = result.queries_used / max(units, 2)
        print(f"  {name:<22} d={x.shape[1]:<3} queries {result.queries_used:>4} "
              f"({per_class:.1f} per class; d + 1 = {x.shape[1] + 1})  max |weight error| "
              f"{error:.2e} {'met' if error < 1e-4 else 'MISSED'}, max |bias error| "
              f"{bias_error:.2e}, largest |weight| {np.abs(w).max():.2f}, "
              f"agreement {result.agreement(x):.3f}")


def transfer_section(victims, keep, eps):
    print(f"\n## Transfer: PGD-40 linf eps={eps} on the 1,000-query substitute, success on the "
          "victim (digits CNN)")
    victim, _, x_test, _, y_test = victims["digits CNN"]
    for strategy in ("random", "knockoff"):
        result = transfer_attack(keep[strategy].substitute, victim, x_test, y_test, attack="pgd",
                                 eps=eps, steps=40, seed=0)
        print(f"  {strategy:<9} substitute: black-box success on victim {result.success_rate:.3f}"
              f" (on the substitute itself {result.substitute_success_rate:.3f})")
    x_adv = pgd(victim, x_test, y_test, eps=eps, steps=40, seed=0)
    clean = labels_of(victim, x_test) == y_test
    white = float(np.mean(labels_of(victim, np.asarray(x_adv))[clean] != y_test[clean]))
    print(f"  white-box PGD-40 on the victim itself: success {white:.3f}")


def monitor_section(victims, keep, jacobian_budget, clients, per_client):
    print(f"\n## QueryMonitor (PRADA, default delta={QueryMonitor().delta}): digits CNN")
    victim, pool, x_test, _, _ = victims["digits CNN"]
    start = time.perf_counter()
    keep["jacobian"] = extract_model(victim, query_budget=jacobian_budget, x_pool=pool,
                                     strategy="jacobian", epochs=5, seed=0)
    print(f"  (jacobian extraction, {jacobian_budget} queries: "
          f"{time.perf_counter() - start:.0f} s, agreement "
          f"{keep['jacobian'].agreement(x_test):.3f})")
    for strategy in ("jacobian", "knockoff", "random"):
        monitor = QueryMonitor()
        queries = keep[strategy].queries
        for i in range(0, len(queries), 10):  # replayed in the attack's order, 10 per call
            monitor.observe(queries[i:i + 10], labels_of(victim, queries[i:i + 10]), strategy)
        at = monitor.alert_at(strategy)
        verdict = "n/a (natural pool queries)" if strategy == "random" else (
            "met" if at is not None and at <= 1000 else "MISSED")
        print(f"  {strategy:<9} alert after {at} of {len(queries)} queries, final W "
              f"{monitor.statistic(strategy):.3f}  {verdict}")
    monitor = QueryMonitor()
    rng = np.random.default_rng(0)
    predicted = labels_of(victim, x_test)
    for client in range(clients):
        order = rng.permutation(len(x_test))[:per_client]
        for i in range(0, per_client, 10):
            monitor.observe(x_test[order[i:i + 10]], predicted[order[i:i + 10]], client)
    flagged = sum(monitor.flagged(c) for c in range(clients))
    stats = [monitor.statistic(c) for c in range(clients)]
    print(f"  benign: {flagged} of {clients} clients flagged ({per_client} test-set queries "
          f"each; min W {min(stats):.3f}); target <= 1%: "
          f"{'met' if flagged <= clients / 100 else 'MISSED'}")


def hardening_section(victims, budget, epochs, strategies=("random",)):
    print(f"\n## OutputHardening on the digits CNN: accuracy cost and agreement left "
          f"(extraction with {budget} queries, agreement with the unhardened victim)")
    victim, pool, x_test, _, y_test = victims["digits CNN"]
    softmax = keras.Model(victim.inputs, keras.layers.Softmax()(victim.outputs[0]))
    truth = labels_of(victim, x_test)
    base = float(np.mean(truth == y_test))
    print(f"  {'mode':<16} {'accuracy':>8} {'cost':>7} " + " ".join(f"{s:>8}" for s in strategies))
    for mode in ("none", "top1", "top_k", "round", "reverse_sigmoid", "noise"):
        served = softmax if mode == "none" else keras.Sequential(
            [softmax, OutputHardening(mode, k=1 if mode == "top_k" else 3, decimals=1, seed=0)])
        accuracy = float(np.mean(labels_of(served, x_test) == y_test))
        left = []
        for strategy in strategies:
            result = extract_model(served, query_budget=budget, x_pool=pool, strategy=strategy,
                                   epochs=epochs, seed=0)
            left.append(float(np.mean(labels_of(result.substitute, x_test) == truth)))
        print(f"  {mode:<16} {accuracy:>8.3f} {base - accuracy:>+7.3f} "
              + " ".join(f"{a:>8.3f}" for a in left), flush=True)


def guarded_speed_section(victims, repeats):
    print("\n## GuardedModel speed (digits CNN, monitor + budget) vs model.predict, "
          "round-robin medians")
    victim, _, x_test, _, _ = victims["digits CNN"]
    guard = GuardedModel(victim, monitor=QueryMonitor(), query_budget=10 ** 9, on_alert="log")
    compiled = tf.function(lambda x: victim(x, training=False))
    for batch in (1, 256):
        x = x_test[:batch]
        variants = {"model.predict": lambda: victim.predict(x, verbose=0),
                    "GuardedModel": lambda: guard(x, client_id=f"bench{batch}"),
                    "compiled call (no guard)": lambda: compiled(tf.constant(x)).numpy()}
        times = {k: [] for k in variants}
        for fn in variants.values():
            fn()
        for _ in range(repeats):
            for k, fn in variants.items():
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
        med = {k: float(np.median(v)) for k, v in times.items()}
        ratio = med["GuardedModel"] / med["model.predict"]
        print(f"  batch {batch:>3}: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in med.items())
              + f"; GuardedModel / model.predict = {ratio:.2f}x (target <= 1.1x) "
              + ("met" if ratio <= 1.1 else "MISSED"))


def guarded_memory_section(total, clients, per_call):
    print(f"\n## GuardedModel memory: {total:,} queries from {clients:,} clients "
          f"({per_call} per call, round-robin), breast-cancer test rows (30 features), "
          "QueryMonitor defaults; the served model is a fixed NumPy linear map (the guard's "
          "state does not depend on the model)")
    (_, _), (x_test, _) = load_breast_cancer(standardize=False)
    weights = np.random.default_rng(0).normal(size=(x_test.shape[1], 2)).astype(np.float32)
    guard = GuardedModel(lambda x: x @ weights, monitor=QueryMonitor(), on_alert="log")
    rng = np.random.default_rng(0)
    tracemalloc.start()
    marks, sent, start = [], 0, time.perf_counter()
    for call in range(total // per_call):
        guard(x_test[rng.integers(0, len(x_test), per_call)], client_id=call % clients)
        sent += per_call
        if sent % (total // 10) == 0:
            gc.collect()
            marks.append((sent, tracemalloc.get_traced_memory()[0] / 2 ** 20))
    tracemalloc.stop()
    print("  queries  traced MB: " + ", ".join(f"{q:,}: {mb:.2f}" for q, mb in marks))
    growth = marks[-1][1] - marks[0][1]
    print(f"  growth from {marks[0][0]:,} to {marks[-1][0]:,} queries: {growth:+.2f} MB "
          f"({time.perf_counter() - start:.0f} s, {len(guard.alerts)} alerts logged)")


SECTIONS = ("linear", "speed", "memory", "agreement", "transfer", "monitor", "hardening")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--scale", type=int, default=5000,
                        help="substitute epochs per round = max(3, round(scale / budget))")
    parser.add_argument("--no-art", action="store_true", help="skip ART (smoke runs)")
    parser.add_argument("--cnn-budgets", default="250,500,1000,5000")
    parser.add_argument("--mlp-budgets", default="250,500,1000,5000")
    parser.add_argument("--hardening-epochs", type=int, default=10)
    parser.add_argument("--sections", default="linear,speed,memory,agreement,transfer,monitor,"
                        "hardening", help="comma-separated sections to run (transfer and "
                        "monitor need the agreement section's 1,000-query digits runs)")
    args = parser.parse_args()
    quick = args.quick
    print(environment())
    print(f"machine shared with other jobs: load average {os.getloadavg()[0]:.1f}")
    budgets = {"digits CNN": [int(b) for b in args.cnn_budgets.split(",") if b],
               "cancer MLP": [int(b) for b in args.mlp_budgets.split(",") if b]}
    needs_victims = not set(args.sections.split(",")) <= {"linear", "memory"}
    victims = train_victims(epochs=3 if quick else 10) if needs_victims else {}
    for name, (model, _, x_test, _, y_test) in victims.items():
        print(f"victim {name}: test accuracy {np.mean(labels_of(model, x_test) == y_test):.3f}")
    start = time.perf_counter()
    import art.attacks.extraction  # noqa: F401  (imported once, outside the timings)

    print(f"import art.attacks.extraction: {time.perf_counter() - start:.1f} s (not timed below)")
    keep = {}
    if quick:
        budgets = [1000]
    if "agreement" not in args.sections and {"transfer", "monitor"} & set(args.sections.split(",")):
        budgets = [1000]  # the 1,000-query runs only, for the sections that need them
        args.sections += ",agreement"
        args.no_art = True
    sections = dict(zip(SECTIONS, [
        lambda: linear_section(),
        lambda: guarded_speed_section(victims, repeats=5 if quick else 30),
        lambda: guarded_memory_section(total=10_000 if quick else 100_000,
                                       clients=100 if quick else 1000, per_call=10),
        lambda: agreement_section(victims, budgets, scale=1000 if quick else args.scale,
                                  keep=keep, art=not args.no_art),
        lambda: transfer_section(victims, keep, eps=0.1),
        lambda: monitor_section(victims, keep, 1000, clients=20 if quick else 100,
                                per_client=200),
        lambda: hardening_section(victims, budget=500,
                                  epochs=3 if quick else args.hardening_epochs),
    ]))
    if not set(args.sections.split(",")) <= set(SECTIONS):
        raise SystemExit(f"unknown section in {args.sections!r}; known: {SECTIONS}")
    for name, section in sections.items():
        if name not in args.sections.split(","):
            continue
        try:
            section()
        except Exception:  # a failing section is reported, the others still run
            traceback.print_exc()
            print("SECTION FAILED (traceback above)", flush=True)

if __name__ == "__main__":
    main()
