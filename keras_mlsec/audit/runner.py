"""`audit(model, train=(x, y), test=(x, y))`: every security check in one call."""

import importlib
import importlib.metadata
import os
import platform
import tempfile
import time

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.audit.audit_context import AuditContext
from keras_mlsec.audit.registry import SECTIONS
from keras_mlsec.audit.security_audit import SecurityAudit
from keras_mlsec.responsible.fairness import protected_groups

SECTION_MODULES = ("keras_mlsec.audit.sections_training", "keras_mlsec.audit.sections_inference",
                   "keras_mlsec.audit.sections_extraction", "keras_mlsec.audit.sections_privacy",
                   "keras_mlsec.audit.sections_mlops", "keras_mlsec.audit.sections_responsible")
"""The modules whose sections `audit` runs, in this order (a new capability adds its module)."""

for _module in SECTION_MODULES:  # importing a module registers its sections
    importlib.import_module(_module)

_PACKAGES = ("keras", "tensorflow", "numpy", "aif360", "shap", "scikit-learn")


def _versions():
    import keras_mlsec

    versions = {"keras_mlsec": keras_mlsec.__version__, "python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _check_sections(sections):
    if sections is None:
        return list(SECTIONS)
    names = [sections] if isinstance(sections, str) else list(sections)
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or not names:
        raise ValueError(f"Expected section names from {list(SECTIONS)}. Received: "
                         f"sections={sections!r}")
    return names


def _check_protected(protected, privileged, train, test):
    """Checks the protected attribute where it enters (binary, privileged value present)."""
    if protected is None:
        return None
    if isinstance(protected, (int, np.integer)) and not isinstance(protected, bool):
        for x, _ in (train, test):
            protected_groups(x, int(protected), privileged=privileged)
        return int(protected)
    if not isinstance(protected, (tuple, list)) or len(protected) != 2:
        raise TypeError("Expected `protected` to be a column index of x or a pair "
                        "(train_groups, test_groups) of arrays. Received: protected of type "
                        f"{type(protected).__name__}")
    for groups, (x, _) in ((protected[0], train), (protected[1], test)):
        protected_groups(x, np.asarray(groups), privileged=privileged)
    return tuple(np.asarray(groups) for groups in protected)


def audit(model, train, test, *, protected=None, privileged=1, eps=None, sections=None,
          gates=None, budget=None, model_path=None, feature_names=None, seed=0, verbose=1):
    """Runs every applicable security check on a trained classifier; returns a `SecurityAudit`.

    Sections (see `keras_mlsec.audit.registry.SECTIONS`): robustness
    (inference-time), membership inference and model inversion (privacy),
    static scan of the model file and drift baseline (MLOps), fairness and
    explanations (responsible AI). Training-time and extraction threats have
    no section yet and are reported "not_assessed". A section that does not
    apply (e.g. inversion on tables, fairness without `protected`) or that
    raises is reported with its reason, never as passed.

    Args:
        model: a trained single-output `keras.Model` classifier.
        train: `(x, y)` the model was trained on (membership members,
            explanation background, drift reference).
        test: `(x, y)` held out (attacks, fairness, membership non-members).
        protected: column index of x holding a binary protected attribute, or
            `(train_groups, test_groups)` arrays; None skips fairness.
        privileged: the protected value marking the privileged group.
        eps: robustness budgets (L-inf), default (0.05, 0.1, 0.2).
        sections: names of the sections to run (default: all registered).
        gates: overrides of `audit_context.DEFAULT_GATES`, e.g.
            `{"min_robust_accuracy": 0.5, "max_membership_auc": 0.55}`.
        budget: overrides of `audit_context.DEFAULT_BUDGET` (examples,
            steps, shadow models...).
        model_path: the model's file when it came from one (scanned as is);
            otherwise the model is saved to a temporary .keras file for the scan.
        feature_names: optional names of tabular features (explanations).
        seed: seed of every subset, attack and shadow model.
        verbose: 1 prints one line per section.

    Returns:
        A `SecurityAudit` (`verdicts`, `passed`, `to_json`, `to_markdown`,
        `save_html(directory)`).

    Raises:
        TypeError: when `model` is not a `keras.Model` or `protected` has a bad type.
        ValueError: for data that do not fit the model, unknown section names,
            or groups of the wrong length.

    Example:
        >>> result = keras_mlsec.audit(model, train=(x_train, y_train),
        ...                            test=(x_test, y_test))
        >>> result.save_html("audit-report")
    """
    model = v.check_model(model)
    train = v.check_pair(train, "train", model)
    test = v.check_pair(test, "test", model)
    protected = _check_protected(protected, privileged, train, test)
    names = _check_sections(sections)
    seed = v.check_seed(seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="km-audit-") as workdir:
        if model_path is None:
            model_path = os.path.join(workdir, "model.keras")
            model.save(model_path)
        context = AuditContext(model=model, train=train, test=test, protected=protected,
                               privileged=privileged, eps=eps, gates=gates, budget=budget,
                               model_path=str(model_path), workdir=workdir, seed=seed,
                               feature_names=feature_names)
        for name in names:
            results.append(_run(name, context, verbose))
    settings = {"train_examples": len(train[0]), "test_examples": len(test[0]),
                "input_shape": list(train[0].shape[1:]), "eps": eps, "clip": context.clip,
                "protected": None if protected is None else (
                    protected if isinstance(protected, int) else "arrays"),
                "privileged": privileged, "gates": context.gates, "budget": context.budget,
                "seed": seed, "sections": names}
    return SecurityAudit(sections=results, settings=settings, versions=_versions())


def _run(name, context, verbose):
    threat, title, function = SECTIONS[name]
    start = time.perf_counter()
    try:
        result = function(context)
    except Exception as error:  # a broken check is reported, never passed
        result = context.result(name, status="error", reason=f"{type(error).__name__}: {error}",
                                summary=f"The check raised {type(error).__name__}: {error}")
    result.seconds = time.perf_counter() - start
    if verbose:
        print(f"[audit] {name:<13} {result.status:<8} {result.seconds:6.1f} s  {result.summary}",
              flush=True)
    return result
