"""`keras-mlsec demo` and `keras-mlsec evaluate`: robustness from the command line.

Exit status: 0 on success, 1 when `evaluate --min-robust-accuracy` is not
met, 2 for usage errors (missing or unreadable files, bad arguments).
TensorFlow is imported only when a command runs, so `--help` stays fast.
"""

import contextlib
import os
import sys

from keras_mlsec.cli._common import usage_error

DEMO_EPS = (0.01, 0.03, 0.05, 0.1)
QUICK_EPS = (0.05, 0.1)
_DATA_KEYS = (("x", "y"), ("x_test", "y_test"))


class UsageError(Exception):
    """A problem with the command line or its files; reported without a traceback."""


def register(subparsers):
    """Adds the `demo` and `evaluate` sub-commands to a `keras-mlsec` parser."""
    demo = subparsers.add_parser(
        "demo", help="train the reference CNN on digits, attack it, write a report",
        description="Trains the reference CNN on the embedded 28x28 digits, evaluates it "
                    "with the default evaluation (FGSM and PGD reference rows, the AutoAttack "
                    "cascade APGD-CE, APGD-T, FAB-T, Square; fewer steps and queries with "
                    "--quick) at several eps and writes report.json, report.md, "
                    "robustness.png, inversions.png and model.keras.")
    demo.add_argument("--output", default="mlsec-report", help="report directory")
    demo.add_argument("--epochs", type=int, default=None,
                      help="training epochs (default 10, 2 with --quick)")
    demo.add_argument("--quick", action="store_true",
                      help="a few seconds: fewer epochs, examples, budgets and steps")
    demo.add_argument("--seed", type=int, default=0, help="seed of training and attacks")
    demo.set_defaults(func=run_demo)

    evaluate = subparsers.add_parser(
        "evaluate", help="evaluate a saved model's robustness on an .npz dataset",
        description="Loads MODEL (.keras, safe_mode=True) and DATA (.npz with x and y, or "
                    "x_test and y_test) and reports accuracy under each attack and eps.")
    evaluate.add_argument("model", metavar="MODEL.keras", help="saved Keras model")
    evaluate.add_argument("--data", required=True, metavar="DATA.npz",
                          help="npz file with arrays x and y (or x_test and y_test)")
    evaluate.add_argument("--eps", type=float, nargs="+", default=[0.05, 0.1, 0.2],
                          help="budgets (default: 0.05 0.1 0.2)")
    evaluate.add_argument("--attacks", nargs="+", default=None,
                          help="attack names and/or one preset (autoattack, autoattack-rand); "
                               "default: fgsm, pgd and the AutoAttack cascade "
                               "(autoattack-rand for models with random outputs)")
    evaluate.add_argument("--no-cascade", action="store_true",
                          help="run a preset's attacks each on every example (slower)")
    evaluate.add_argument("--norm", default="linf", choices=["linf", "l2"])
    evaluate.add_argument("--clip", type=float, nargs=2, default=[0.0, 1.0], metavar=("MIN", "MAX"),
                          help="input domain (default: 0 1)")
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--limit", type=int, default=None, metavar="N",
                          help="evaluate only the first N examples")
    evaluate.add_argument("--output", default=None, metavar="DIR",
                          help="also write report.json, report.md and robustness.png here")
    evaluate.add_argument("--json", action="store_true",
                          help="print the JSON report on stdout and nothing else")
    evaluate.add_argument("--min-robust-accuracy", type=float, default=None, metavar="X",
                          help="exit 1 when worst-case accuracy at the largest eps is below X "
                               "(a fraction in [0, 1])")
    evaluate.set_defaults(func=run_evaluate)


def load_npz(path):
    """Returns `(x, y)` from an .npz holding x/y or x_test/y_test (no pickles)."""
    import zipfile

    import numpy as np

    if not os.path.isfile(path):
        raise UsageError(f"data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = sorted(data.files)
            for x_key, y_key in _DATA_KEYS:
                if x_key in data.files and y_key in data.files:
                    return data[x_key], data[y_key]
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise UsageError(f"cannot read {path} as an .npz archive of arrays: {error}") from None
    raise UsageError(f"expected arrays 'x' and 'y' (or 'x_test' and 'y_test') in {path}; "
                     f"found keys: {keys}")


def load_model(path):
    """Loads a .keras model with safe_mode=True; keras_mlsec classes resolve."""
    if not os.path.isfile(path):
        raise UsageError(f"model file not found: {path}")
    import keras

    import keras_mlsec.attacks  # noqa: F401 - registers the serializable classes

    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad or unsafe file
        raise UsageError(f"cannot load model {path}: {type(error).__name__}: {error}") from None


def run_evaluate(args):
    """`keras-mlsec evaluate`: returns 0, 1 (threshold missed) or 2 (usage error)."""
    threshold = args.min_robust_accuracy
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        return usage_error("evaluate", "expected --min-robust-accuracy as a fraction in [0, 1]; "
                                 f"received {threshold}")
    if args.limit is not None and args.limit < 1:
        return usage_error("evaluate", f"expected --limit >= 1; received {args.limit}")
    # With --json, stdout carries the JSON only: progress and library output go to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with quiet:
        try:
            x, y = load_npz(args.data)
            model = load_model(args.model)
            if args.limit is not None:
                x, y = x[:args.limit], y[:args.limit]
            from keras_mlsec.evaluation.robustness import evaluate_robustness

            report = evaluate_robustness(
                model, x, y, attacks=args.attacks, eps=args.eps, norm=args.norm,
                clip=tuple(args.clip), batch_size=args.batch_size, seed=args.seed,
                verbose=0 if args.json else 1, cascade=not args.no_cascade)
            if args.output:
                report.save(args.output)
        except UsageError as error:
            return usage_error("evaluate", str(error))
        except (ValueError, TypeError) as error:
            return usage_error("evaluate", str(error))
        if not args.json:
            print()
            print(report)
            if args.output:
                print(f"\nReport written to {args.output}/")
    if args.json:
        print(report.to_json())
    if threshold is not None and report.robust_accuracy < threshold:
        print(f"keras-mlsec evaluate: worst-case robust accuracy {report.robust_accuracy:.1%} "
              f"at eps={report.max_eps:g} is below --min-robust-accuracy {threshold:.1%}",
              file=sys.stderr)
        return 1
    return 0


def _demo_attack_params(quick):
    """The default evaluation; --quick cuts its steps and queries (a few seconds)."""
    if not quick:
        return None
    return {"pgd": {"steps": 10}, "apgd-ce": {"steps": 10},
            "apgd-t": {"steps": 10, "num_target_classes": 3},
            "fab-t": {"steps": 10, "num_target_classes": 3}, "square": {"steps": 100}}


def run_demo(args):
    """`keras-mlsec demo`: train, attack, report; returns the exit status."""
    if args.epochs is not None and args.epochs < 1:
        return usage_error("demo", f"expected --epochs >= 1; received {args.epochs}")
    import keras

    from keras_mlsec.datasets import load_digits, reference_model
    from keras_mlsec.evaluation.robustness import evaluate_robustness

    epochs = args.epochs or (2 if args.quick else 10)
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=28, seed=args.seed)
    if args.quick:
        x_test, y_test = x_test[:100], y_test[:100]
    print(f"Training the reference CNN on digits 28x28 ({len(x_train)} examples, "
          f"{epochs} epochs)...")
    model = reference_model("cnn", x_train.shape[1:], 10, seed=args.seed)
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    eps = QUICK_EPS if args.quick else DEMO_EPS
    print(f"Evaluating FGSM, PGD and the AutoAttack cascade (APGD-CE, APGD-T, FAB-T, Square"
          f"{', shortened' if args.quick else ''}) at eps {', '.join(f'{e:g}' for e in eps)} "
          f"on {len(x_test)} test examples...")
    report = evaluate_robustness(model, x_test, y_test, eps=eps, seed=args.seed,
                                 attack_params=_demo_attack_params(args.quick))
    paths = report.save(args.output)
    model_path = os.path.join(args.output, "model.keras")
    model.save(model_path)
    inversions = _demo_inversions(model, (x_train, y_train), args)
    print()
    print(report)
    print(f"\nWrote {paths['json']}, {paths['markdown']}, {paths['plot']}, {inversions} "
          f"and {model_path}")
    return 0


def _demo_inversions(model, reference, args):
    """Model inversion (Fredrikson et al. 2015) of every digit class, drawn into a PNG."""
    from keras_mlsec.attacks.privacy.inversion import invert_classes, plot_inversions

    print("Reconstructing one representative per class by model inversion...")
    results = invert_classes(model, list(range(10)), steps=50 if args.quick else 300,
                             reference=reference, tv_weight=0.05, seed=args.seed)
    recognised = sum(r.succeeded for r in results)
    closest = sum(r.rank == 1 for r in results)
    print(f"  {recognised}/10 reconstructions are classified as their class; {closest}/10 lie "
          "closest to the mean of that class's real examples")
    return plot_inversions(results, os.path.join(args.output, "inversions.png"),
                           reference=reference, title="Model inversion of the demo CNN")
