"""`AuditReport`: an empirical lower bound on epsilon, next to the accountant's epsilon."""

from keras_mlsec._core.reports import JSONReport


class AuditReport(JSONReport):
    """Result of a privacy audit: a statistical lower bound on the epsilon of training.

    If training is (epsilon, delta)-DP, the audit's bound exceeds epsilon
    with probability at most `1 - confidence`. A bound above the accountant's
    epsilon therefore points at a bug (in the training, the accounting or
    the sampling assumptions); a bound far below it says the attack (or the
    canaries) found less leakage than the worst case, not that training is
    more private than the accountant says.

    Args:
        epsilon_lower_bound: the audited lower bound (>= 0).
        delta: the delta the bound is stated for.
        confidence: the confidence level of the bound, in (0, 1).
        tpr: true positive rate of the membership guesses (canaries guessed
            IN among those inserted).
        fpr: false positive rate (canaries guessed IN among those left out).
        num_canaries: canaries drawn (each inserted with probability 1/2).
        num_guesses: canaries guessed on (the others abstained on).
        num_correct: correct guesses.
        epsilon_accountant: the accountant's epsilon for the same training,
            or None.
        method: how the bound was computed, e.g. "one-run".

    Attributes:
        consistent: True when the bound is <= `epsilon_accountant` (None
            without an accountant epsilon).

    Example:
        >>> report = audit_epsilon(train_fn, data, canaries, delta=1e-5,
        ...                        epsilon_accountant=3.0)
        >>> print(report)
        >>> report.consistent
        True

    Reference:
        Steinke, Nasr and Jagielski 2023, "Privacy Auditing with One (1) Training Run".
    """

    def __init__(self, *, epsilon_lower_bound, delta, confidence, tpr, fpr, num_canaries,
                 num_guesses, num_correct, epsilon_accountant=None, method="one-run"):
        self.epsilon_lower_bound = float(epsilon_lower_bound)
        self.delta = float(delta)
        self.confidence = float(confidence)
        self.tpr = float(tpr)
        self.fpr = float(fpr)
        self.num_canaries = int(num_canaries)
        self.num_guesses = int(num_guesses)
        self.num_correct = int(num_correct)
        self.epsilon_accountant = None if epsilon_accountant is None else float(
            epsilon_accountant)
        self.method = str(method)

    @property
    def consistent(self):
        if self.epsilon_accountant is None:
            return None
        return self.epsilon_lower_bound <= self.epsilon_accountant

    def to_dict(self):
        """A JSON-ready dict of every field (and `consistent`)."""
        return {"method": self.method, "epsilon_lower_bound": self.epsilon_lower_bound,
                "epsilon_accountant": self.epsilon_accountant, "delta": self.delta,
                "confidence": self.confidence, "tpr": self.tpr, "fpr": self.fpr,
                "num_canaries": self.num_canaries, "num_guesses": self.num_guesses,
                "num_correct": self.num_correct, "consistent": self.consistent}

    @classmethod
    def from_dict(cls, data):
        """Rebuilds a report from `to_dict`'s output (`consistent` is derived)."""
        return cls(**{k: val for k, val in data.items() if k != "consistent"})

    def __str__(self):
        accountant = ("not given" if self.epsilon_accountant is None
                      else f"{self.epsilon_accountant:.4f}")
        lines = [f"Privacy audit ({self.method}, {self.num_canaries} canaries, "
                 f"{self.num_guesses} guesses, {self.num_correct} correct)",
                 f"Epsilon lower bound: {self.epsilon_lower_bound:.4f} "
                 f"(delta={self.delta:g}, confidence {100 * self.confidence:g}%)",
                 f"Accountant epsilon:  {accountant}",
                 f"Guesses: TPR {100 * self.tpr:.1f}%, FPR {100 * self.fpr:.1f}%"]
        if self.consistent is False:
            lines.append("WARNING: the lower bound exceeds the accountant's epsilon: "
                         "check the training, the accounting and its sampling assumptions.")
        return "\n".join(lines)

    def __repr__(self):
        return (f"AuditReport(epsilon_lower_bound={self.epsilon_lower_bound:.4f}, "
                f"epsilon_accountant={self.epsilon_accountant}, delta={self.delta:g}, "
                f"num_canaries={self.num_canaries})")
