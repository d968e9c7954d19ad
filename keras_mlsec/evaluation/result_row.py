"""`ResultRow`: one (attack, eps) row of a `RobustnessReport`, typed, with `to_dict`."""

import dataclasses
from typing import Optional

# Keys every row's dict has (None when unknown), in the order of the JSON report.
BASE_KEYS = ("attack", "eps", "adversarial_accuracy", "robustness_gap", "success_rate",
             "mean_perturbation", "max_perturbation", "seconds")
# Keys written only when set (rows of older reports do not have them).
_OPTIONAL_KEYS = ("num_robust", "minimum_norm", "config", "kind", "uses_gradients",
                  "iterative", "cascade", "stage", "num_broken", "broken_by")


@dataclasses.dataclass
class ResultRow:
    """Accuracy of one attack (or of the worst case) at one budget.

    Reads like the dict rows of earlier versions (`row["config"]`,
    `row.get("seconds")`), and `to_dict()` writes the same JSON keys.

    Attributes:
        attack: the row's label ("pgd", "apgd-t", "worst_case", ...).
        eps: the budget, in the report's norm.
        adversarial_accuracy: share of all examples classified correctly both
            clean and under attack. For a stage of a cascade: robust after
            this stage and every stage before it (and, at a larger eps, after
            the whole cascade at the smaller eps).
        robustness_gap: clean accuracy minus `adversarial_accuracy`.
        success_rate: share of the correctly classified examples fooled.
        mean_perturbation: mean perturbation norm (0 for examples an
            attack left alone).
        max_perturbation: largest perturbation norm.
        seconds: run time of the attack (for a cascade stage: of that stage).
        num_robust: number of robust examples.
        minimum_norm: whether the attack is a minimum-norm attack.
        config: the attack's hyper-parameters (`get_config()` plus overrides).
        kind: "fixed_budget" or "minimum_norm" (from the attack's class).
        uses_gradients: False for black-box attacks (from the class).
        iterative: False for single-step attacks (from the class).
        cascade: the preset ("autoattack", ...) this row is a stage of, else None.
        stage: 1-based position in the cascade, else None.
        num_broken: examples this stage newly fooled (cascade stages only).
        broken_by: worst-case rows only: per example, the attack that broke
            it ("clean" when misclassified without attack, None when robust).
        extra: keys of a loaded report this version does not know.
    """

    attack: str
    eps: float
    adversarial_accuracy: float
    robustness_gap: Optional[float] = None
    success_rate: Optional[float] = None
    mean_perturbation: Optional[float] = None
    max_perturbation: Optional[float] = None
    seconds: Optional[float] = None
    num_robust: Optional[int] = None
    minimum_norm: Optional[bool] = None
    config: Optional[dict] = None
    kind: Optional[str] = None
    uses_gradients: Optional[bool] = None
    iterative: Optional[bool] = None
    cascade: Optional[str] = None
    stage: Optional[int] = None
    num_broken: Optional[int] = None
    broken_by: Optional[list] = None
    extra: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        """The row as a JSON-ready dict (unset optional keys are left out)."""
        out = {k: getattr(self, k) for k in BASE_KEYS}
        out.update({k: getattr(self, k) for k in _OPTIONAL_KEYS if getattr(self, k) is not None})
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data):
        """A row from a dict (`to_dict` output or a row of an older report)."""
        if isinstance(data, cls):
            return data
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        fields = {k: val for k, val in data.items() if k in known}
        extra = {k: val for k, val in data.items() if k not in known}
        return cls(**fields, extra=extra)

    # Read access by key, as for the dict rows of earlier versions.
    def __getitem__(self, key):
        if key in BASE_KEYS or (key in _OPTIONAL_KEYS and getattr(self, key) is not None):
            return getattr(self, key)
        if key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def __contains__(self, key):
        try:
            self[key]
        except KeyError:
            return False
        return True

    def get(self, key, default=None):
        """`row[key]`, or `default` when the row has no such key."""
        return self[key] if key in self else default

    def keys(self):
        return self.to_dict().keys()

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __repr__(self):
        return (f"ResultRow(attack={self.attack!r}, eps={self.eps!r}, "
                f"adversarial_accuracy={self.adversarial_accuracy!r})")
