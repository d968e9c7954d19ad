"""`AuditContext`: the model, data, settings and gates every audit section reads."""

import os

import numpy as np

from keras_mlsec.audit.registry import SECTIONS
from keras_mlsec.audit.section_result import SectionResult

DEFAULT_GATES = {
    "min_robust_accuracy": 0.3,       # worst-case accuracy at the largest eps
    "max_membership_auc": 0.6,        # strongest membership attack
    "max_inversion_recognised": 0.5,  # share of classes whose inversion looks like the class
    "max_drift_share": 0.0,           # share of features drifting train -> test
    "fairness": True,                 # FairnessReport.passed (four-fifths rule and bounds)
    "scan": True,                     # no blocking finding in the saved model file
    "max_backdoor_classes": 0,        # classes Neural Cleanse flags
    "max_extraction_agreement": 0.9,  # substitute/model agreement at the query budget
}

DEFAULT_BUDGET = {
    "max_examples": 200,        # test examples attacked / explained
    "pgd_steps": 10,
    "masking_checks": False,    # gradient-masking checks of evaluate_robustness (about 4 PGD runs)
    "shadow_models": 3,         # LiRA offline needs >= 3
    "shadow_epochs": 3,
    "inversion_steps": 100,
    "backdoor_steps": 100,      # Neural Cleanse optimisation steps
    "extraction_queries": 1000,
    "explain_examples": 10,
    "explain_samples": 50,
    "explain_background": 50,
}


class AuditContext:
    """What `keras_mlsec.audit.audit` hands to each section.

    Attributes:
        model: the audited `keras.Model`.
        x_train, y_train, x_test, y_test: the data (sparse int labels).
        protected, privileged: the protected attribute (or None) and its privileged value.
        eps: robustness budgets (None: the evaluation's default).
        clip: input domain used by attacks ((0, 1) for data inside it, else None).
        gates: `DEFAULT_GATES` with the caller's overrides.
        budget: `DEFAULT_BUDGET` with the caller's overrides.
        model_path: the model file audited (a fresh save when none was given).
        workdir: a scratch folder for plots and the saved model.
        seed: seed of every random choice.
        feature_names: optional names of tabular features.
    """

    def __init__(self, *, model, train, test, protected, privileged, eps, gates, budget,
                 model_path, workdir, seed, feature_names=None):
        self.model = model
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train, test
        self.protected, self.privileged, self.eps = protected, privileged, eps
        inside = min(self.x_train.min(), self.x_test.min()) >= 0 and max(
            self.x_train.max(), self.x_test.max()) <= 1
        self.clip = (0.0, 1.0) if inside else None
        self.gates = {**DEFAULT_GATES, **(gates or {})}
        self.budget = {**DEFAULT_BUDGET, **(budget or {})}
        self.model_path, self.workdir, self.seed = model_path, workdir, seed
        self.feature_names = feature_names

    @property
    def is_image(self):
        """True for image inputs `(n, h, w, c)` or `(n, h, w)`."""
        return self.x_train.ndim >= 3

    @property
    def num_classes(self):
        return int(self.model.output_shape[-1])

    def subset(self, x, y, count):
        """A seeded subset of at most `count` examples."""
        keep = np.sort(np.random.default_rng(self.seed).permutation(len(x))[:count])
        return x[keep], y[keep]

    def path(self, name):
        return os.path.join(self.workdir, name)

    @staticmethod
    def png(path):
        with open(path, "rb") as handle:
            return handle.read()

    def result(self, name, **fields):
        """A `SectionResult` for registered section `name` (threat and title filled in)."""
        threat, title, _ = SECTIONS[name]
        return SectionResult(name=name, threat=threat, title=title, **fields)

    def not_run(self, name, reason, **fields):
        """A "not_run" result: the section does not apply, `reason` says why."""
        return self.result(name, status="not_run", summary=f"Not run: {reason}", reason=reason,
                           **fields)
