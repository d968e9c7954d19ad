"""Claims: the default `evaluate_robustness` is as strong as AutoAttack and 10x faster.

Models, all trained here on `load_digits(image_size=28)` (1,347 training
images): the 28x28 reference CNN undefended ("plain", `--epochs` epochs),
PGD-AT ("pgd_at": `AdversarialModel(method="madry", attack=PGD(eps=--train-eps,
steps=7))`) and TRADES ("trades": `method="trades"`, beta 6), each
`--warm-epochs` clean epochs then `--at-epochs` adversarial epochs. On the
first `--n` test images, at L-inf eps `--eps` (default 0.1 0.2 0.3), per
model:

  * ours: `km.evaluate_robustness(model, x, y, eps=[...])`, the default call
    (FGSM and PGD reference rows, the AutoAttack cascade APGD-CE, APGD-T,
    FAB-T, Square 5,000 queries, masking checks), all eps in one call.
    Calls on 16 other test images with 2-step attacks trace the graphs
    first (their time is printed); the timed call follows.
  * ART 1.20.1 `AutoAttack` (its default attack set, `eps_step = 2 * eps`,
    batch size 128), one call per eps, on the same images.
  * the cascade against the same attacks without it:
    `evaluate_robustness(attacks="autoattack", cascade=True / False,
    checks=False)`, same seed; robust accuracy per eps, the number of
    examples whose verdict differs, and both times (timed round-robin).

Targets: ours <= ART + 0.5 pp at every eps; ours' time <= ART's / 10; the
cascade equal to no cascade.

Run: .venv/bin/python benchmarks/bench_evaluation.py [--n 300] [--models pgd_at trades plain]
     [--no-art]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import art_classifier, environment  # noqa: E402

import numpy as np  # noqa: E402

import keras  # noqa: E402
import keras_mlsec as km  # noqa: E402
from keras_mlsec.attacks import PGD  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402
from keras_mlsec.training import AdversarialModel  # noqa: E402


def train(kind, x, y, args):
    keras.utils.set_random_seed(0)
    cnn = reference_model("cnn", (28, 28, 1), 10, seed=0)
    if kind == "plain":
        cnn.fit(x, y, epochs=args.epochs, batch_size=64, verbose=0)
        return cnn
    cnn.fit(x, y, epochs=args.warm_epochs, batch_size=64, verbose=0)  # clean warm start
    method = "madry" if kind == "pgd_at" else "trades"
    wrapper = AdversarialModel(cnn, attack=PGD(eps=args.train_eps, steps=7), method=method,
                               seed=0)
    wrapper.compile(optimizer=keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    wrapper.fit(x, y, epochs=args.at_epochs, batch_size=64, verbose=0)
    return cnn


def art_autoattack(model, x, y, eps):
    from art.attacks.evasion import AutoAttack

    classifier = art_classifier(model, (28, 28, 1))
    attack = AutoAttack(classifier, norm=np.inf, eps=eps, eps_step=2 * eps, batch_size=128)
    for a in attack.attacks:
        if "verbose" in a.attack_params:
            a.set_params(verbose=False)
    start = time.perf_counter()
    x_adv = attack.generate(x=x, y=np.eye(10, dtype=np.float32)[y])
    seconds = time.perf_counter() - start
    predicted = np.argmax(model.predict(x_adv, verbose=0, batch_size=256), -1)
    clean = np.argmax(model.predict(x, verbose=0, batch_size=256), -1)
    return float(np.mean((predicted == y) & (clean == y))), seconds


TINY = {"pgd": {"steps": 2}, "apgd-ce": {"steps": 2}, "apgd-t": {"steps": 2},
        "fab-t": {"steps": 2}, "square": {"steps": 2}}


def robust_sets(report, eps_values):
    """Per eps, the boolean vector "robust" read from the worst case's `broken_by`."""
    return {e: np.array([b is None for b in report.row("worst_case", e)["broken_by"]])
            for e in eps_values}


def one_model(kind, data, args):
    (x_train, y_train), (x_test, y_test) = data
    start = time.perf_counter()
    model = train(kind, x_train, y_train, args)
    print(f"\n== {kind}: trained in {time.perf_counter() - start:.0f} s")
    x, y = x_test[:args.n], y_test[:args.n]
    warm_x, warm_y = x_test[args.n:args.n + 16], y_test[args.n:args.n + 16]
    eps = args.eps

    start = time.perf_counter()  # traces every graph; tiny steps so that it stays short
    if not args.only_cascade:
        km.evaluate_robustness(model, warm_x, warm_y, eps=eps, verbose=0, attack_params=TINY)
    km.evaluate_robustness(model, warm_x, warm_y, eps=eps, verbose=0, attacks="autoattack",
                           cascade=False, checks=False,
                           attack_params={k: v for k, v in TINY.items() if k != "pgd"})
    print(f"  warm-up calls on 16 images with 2-step attacks (tracing): "
          f"{time.perf_counter() - start:.1f} s")
    if not args.only_cascade:
        default_and_art(model, x, y, eps, args)
    cascade_or_not(model, x, y, eps, args)


def default_and_art(model, x, y, eps, args):
    start = time.perf_counter()
    ours = km.evaluate_robustness(model, x, y, eps=eps, verbose=0)
    ours_seconds = time.perf_counter() - start
    print(f"  ours, default call, {len(x)} images, eps {eps}: {ours_seconds:.1f} s; clean "
          f"accuracy {ours.clean_accuracy:.3f}")
    for e, stages in ours.cascade_summary():
        chain = ", ".join(f"{label} {acc:.3f}" for label, acc, _ in stages)
        print(f"    eps={e:g}: fgsm {ours.accuracy('fgsm', e):.3f}, pgd "
              f"{ours.accuracy('pgd', e):.3f}; cascade after each stage: {chain}; worst case "
              f"{ours.accuracy('worst_case', e):.3f}")
    flagged = [f"{c.name}: {c.verdict}" for c in ours.checks if c.verdict in ("warn", "fail")]
    print(f"    masking checks flagged: {flagged or 'none'}")

    if not args.no_art:
        art_total = 0.0
        for e in eps:
            accuracy, seconds = art_autoattack(model, x, y, e)
            art_total += seconds
            ours_acc = ours.accuracy("worst_case", e)
            gap = 100 * (ours_acc - accuracy)
            print(f"  eps={e:g}: ours worst case {ours_acc:.3f}, ART AutoAttack {accuracy:.3f} "
                  f"({seconds:.0f} s): ours - ART = {gap:+.1f} pp "
                  f"({'met' if gap <= 0.5 else 'MISSED'}: target <= +0.5)")
        ratio = art_total / ours_seconds
        print(f"  time: ART {art_total:.0f} s (all eps) / ours {ours_seconds:.1f} s = {ratio:.1f}x "
              f"({'met' if ratio >= 10 else 'MISSED'}: target >= 10x)")


def cascade_or_not(model, x, y, eps, args):
    """Cascade against no cascade, same attacks and seed, round-robin (cascade first)."""
    timings = {True: [], False: []}
    reports = {}
    for _ in range(args.repeats):
        for cascade in (True, False):
            start = time.perf_counter()
            reports[cascade] = km.evaluate_robustness(model, x, y, eps=eps, attacks="autoattack",
                                                      cascade=cascade, checks=False, verbose=0)
            timings[cascade].append(time.perf_counter() - start)
    with_c, without = robust_sets(reports[True], eps), robust_sets(reports[False], eps)
    for e in eps:
        print(f"  autoattack eps={e:g}: cascade {with_c[e].mean():.3f}, no cascade "
              f"{without[e].mean():.3f}; examples whose verdict differs: "
              f"{int(np.sum(with_c[e] != without[e]))}")
    t_c, t_n = np.median(timings[True]), np.median(timings[False])
    print(f"  autoattack time: cascade {t_c:.1f} s, no cascade {t_n:.1f} s "
          f"(no cascade / cascade = {t_n / t_c:.1f}x; median of {args.repeats})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="test images (default 300)")
    parser.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    parser.add_argument("--models", nargs="+", default=["pgd_at", "trades", "plain"],
                        choices=["pgd_at", "trades", "plain"])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the plain CNN")
    parser.add_argument("--at-epochs", type=int, default=8,
                        help="epochs of PGD-AT and TRADES")
    parser.add_argument("--train-eps", type=float, default=0.1)
    parser.add_argument("--warm-epochs", type=int, default=3,
                        help="clean epochs before adversarial training")
    parser.add_argument("--repeats", type=int, default=1,
                        help="round-robin repeats of the cascade timing")
    parser.add_argument("--no-art", action="store_true")
    parser.add_argument("--only-cascade", action="store_true",
                        help="only the cascade / no-cascade comparison")
    args = parser.parse_args()
    if not args.no_art:  # fail before training, not after the first model's evaluation
        try:
            import art  # noqa: F401
        except ImportError:
            parser.error("ART is not installed: run `make bench` first (it installs "
                         "requirements-bench.lock), or pass --no-art")
    print(environment())
    print(f"images {args.n}, eps {args.eps}, models {args.models}, plain epochs {args.epochs}, "
          f"AT epochs {args.at_epochs} at train eps {args.train_eps}")
    data = load_digits(image_size=28, seed=0)
    for kind in args.models:
        one_model(kind, data, args)


if __name__ == "__main__":
    main()
