"""`keras-mlsec audit`: every security check on a saved model, as one HTML page.

Exit status: 0 when every gate passed, 1 when a section failed its gate or raised, 2
for usage errors (missing or unreadable files, bad arguments).
"""

import os
import sys

from keras_mlsec.cli._common import usage_error
from keras_mlsec.cli.evaluate import UsageError, load_model

DEMOS = ("digits", "credit")


def register(subparsers):
    """Adds the `audit` sub-command to a `keras-mlsec` parser."""
    parser = subparsers.add_parser(
        "audit", help="run every security check on a model and write an HTML report",
        description="Loads MODEL (.keras, safe_mode=True) and DATA (.npz with x_train, y_train, "
                    "x_test, y_test) and writes audit.html, audit.json and audit.md to --output. "
                    "With --demo digits|credit, trains a reference model on embedded data "
                    "instead of loading one.")
    parser.add_argument("model", nargs="?", metavar="MODEL.keras", help="saved Keras model")
    parser.add_argument("--data", metavar="DATA.npz",
                        help="npz with x_train, y_train, x_test, y_test")
    parser.add_argument("--protected", type=int, default=None, metavar="COLUMN",
                        help="column of x holding a binary protected attribute (fairness)")
    parser.add_argument("--privileged", type=float, default=1.0,
                        help="value of the protected column marking the privileged group")
    parser.add_argument("--output", default="mlsec-audit", metavar="DIR", help="report folder")
    parser.add_argument("--eps", type=float, nargs="+", default=None,
                        help="robustness budgets (default 0.05 0.1 0.2)")
    parser.add_argument("--sections", nargs="+", default=None, help="only these sections")
    parser.add_argument("--min-robust-accuracy", type=float, default=None, metavar="X")
    parser.add_argument("--max-membership-auc", type=float, default=None, metavar="X")
    parser.add_argument("--max-inversion-recognised", type=float, default=None, metavar="X")
    parser.add_argument("--no-fairness-gate", action="store_true",
                        help="report fairness without failing on it")
    parser.add_argument("--demo", choices=DEMOS, default=None,
                        help="train and audit a reference model on embedded data")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run_audit)


def _gates(args):
    gates = {}
    for key in ("min_robust_accuracy", "max_membership_auc", "max_inversion_recognised"):
        value = getattr(args, key)
        if value is not None:
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"expected --{key.replace('_', '-')} in [0, 1]; received {value}")
            gates[key] = value
    if args.no_fairness_gate:
        gates["fairness"] = False
    return gates


def load_audit_npz(path):
    """Returns `((x_train, y_train), (x_test, y_test))` from an .npz (no pickles)."""
    import zipfile

    import numpy as np

    if not os.path.isfile(path):
        raise UsageError(f"data file not found: {path}")
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise UsageError(f"expected arrays {list(keys)} in {path}; missing {missing} "
                                 f"(found {sorted(data.files)})")
            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise UsageError(f"cannot read {path} as an .npz archive of arrays: {error}") from None


def demo_setup(name, seed):
    """Trains the reference model of a demo; returns (model, train, test, protected, names)."""
    import keras

    from keras_mlsec.datasets import CREDIT_FEATURES, load_credit, load_digits, reference_model

    keras.utils.set_random_seed(seed)
    if name == "digits":
        train, test = load_digits(8, seed=seed)
        model = reference_model("cnn", (8, 8, 1), 10, seed=seed)
        protected, names, epochs = None, None, 5
    else:
        train, test = load_credit(bias=0.4, seed=seed)
        model = reference_model("mlp", (7,), 2, seed=seed)
        protected, names, epochs = 0, list(CREDIT_FEATURES), 10
    print(f"Training the reference {'CNN' if name == 'digits' else 'MLP'} on {name} "
          f"({len(train[0])} examples, {epochs} epochs)...", flush=True)
    model.fit(*train, epochs=epochs, batch_size=64, verbose=0)
    return model, train, test, protected, names


def run_audit(args):
    """`keras-mlsec audit`: returns 0 (all gates passed), 1 (a gate failed) or 2 (usage)."""
    try:
        gates = _gates(args)
        names, model_path = None, None
        if args.demo:
            if args.model or args.data:
                raise UsageError("give either --demo or MODEL --data, not both")
            model, train, test, protected, names = demo_setup(args.demo, args.seed)
        else:
            if not args.model or not args.data:
                raise UsageError("expected MODEL.keras and --data DATA.npz (or --demo)")
            train, test = load_audit_npz(args.data)
            model, protected, model_path = load_model(args.model), args.protected, args.model
        privileged = int(args.privileged) if args.privileged.is_integer() else args.privileged
        from keras_mlsec.audit.runner import audit

        result = audit(model, train, test, protected=protected, privileged=privileged,
                       eps=args.eps, sections=args.sections, gates=gates,
                       model_path=model_path, feature_names=names, seed=args.seed)
    except UsageError as error:
        return usage_error("audit", str(error))
    except (ValueError, TypeError) as error:
        return usage_error("audit", str(error))
    path = result.save_html(args.output)
    print()
    print(result)
    print(f"\nWrote {path}, audit.json and audit.md in {args.output}/")
    if not result.passed:
        print(f"keras-mlsec audit: failed gates: {', '.join(result.failures) or 'none'}; "
              f"sections that raised: {', '.join(result.errors) or 'none'}", file=sys.stderr)
        return 1
    return 0
