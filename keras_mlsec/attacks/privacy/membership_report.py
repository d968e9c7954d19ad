"""`MembershipReport`: the result of `membership_inference`, as numbers, JSON, text or PNG.

Pure NumPy (matplotlib only inside `plot`). The ROC is computed here from the
attack scores of the members and non-members (higher score = "member").
"""

import json

import numpy as np

from keras_mlsec._core.reports import JSONReport

FPR_TARGETS = (0.001, 0.01, 0.1)


def _check_scores(scores, name):
    try:
        array = np.asarray(scores, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"Expected `{name}` to be an array of numbers. "
                        f"Received: {name} of type {type(scores).__name__}") from None
    if array.size == 0:
        raise ValueError(f"Expected `{name}` to hold at least one score. Received: {name}=[]")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"Expected `{name}` to hold finite scores. Received: {name} with "
                         f"{int(np.sum(~np.isfinite(array)))} NaN or infinite entries.")
    return array


def roc_curve(member_scores, non_member_scores):
    """ROC of the rule "member when score >= threshold", over every threshold.

    Returns:
        `(fpr, tpr)` float arrays, starting at (0, 0) and ending at (1, 1);
        tied scores move both rates in one step (a diagonal segment).
    """
    members = np.asarray(member_scores, dtype=np.float64)
    non_members = np.asarray(non_member_scores, dtype=np.float64)
    thresholds = np.unique(np.concatenate([members, non_members]))[::-1]
    members, non_members = np.sort(members), np.sort(non_members)
    # Number of scores >= t, for each threshold t (descending).
    tp = len(members) - np.searchsorted(members, thresholds, side="left")
    fp = len(non_members) - np.searchsorted(non_members, thresholds, side="left")
    tpr = np.concatenate([[0.0], tp / len(members)])
    fpr = np.concatenate([[0.0], fp / len(non_members)])
    return fpr, tpr


def area_under_curve(fpr, tpr):
    """Trapezoidal area under a ROC curve (equals the Mann-Whitney AUC, ties counted 1/2)."""
    fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def tpr_at_fpr(fpr, tpr, target):
    """Largest TPR reached at an FPR <= `target` (no interpolation, as in Carlini et al. 2022)."""
    fpr, tpr = np.asarray(fpr), np.asarray(tpr)
    return float(np.max(tpr[fpr <= target + 1e-12]))


class MembershipReport(JSONReport):
    """How well an attacker tells training members from non-members, from attack scores.

    Args:
        member_scores: attack scores of examples in the training set
            (higher means "more likely member").
        non_member_scores: attack scores of examples outside it.
        method: name of the attack that produced the scores.
        config: hyper-parameters of the attack (JSON-ready values).

    Attributes:
        auc: area under the ROC curve (0.5 is chance, 1 perfect).
        advantage: attacker advantage max(TPR - FPR) over thresholds (Yeom et al. 2018).
        tpr_at_fpr: dict {0.001, 0.01, 0.1} -> the largest TPR with FPR <= that
            level (the low-FPR metric of Carlini et al. 2022; no interpolation,
            so with fewer than 1/fpr non-members it is the TPR at FPR 0).
        roc: `(fpr, tpr)` NumPy arrays.
        method: the attack that produced the scores.
        num_members: how many members were scored.
        num_non_members: how many non-members were scored.
        config: the attack's settings.

    Raises:
        ValueError: for empty or non-finite scores.

    Example:
        >>> report = MembershipReport(member_scores=[0.9, 0.8], non_member_scores=[0.1, 0.85])
        >>> report.auc
        0.75
        >>> report.plot("roc.png")

    Reference:
        Carlini et al. 2022, "Membership Inference Attacks From First Principles".
    """

    def __init__(self, *, member_scores, non_member_scores, method="unknown", config=None):
        self.member_scores = _check_scores(member_scores, "member_scores")
        self.non_member_scores = _check_scores(non_member_scores, "non_member_scores")
        self.method = str(method)
        self.config = json.loads(json.dumps(config or {}, default=repr))
        self.roc = roc_curve(self.member_scores, self.non_member_scores)
        fpr, tpr = self.roc
        self.auc = area_under_curve(fpr, tpr)
        self.advantage = float(np.max(tpr - fpr))
        self.tpr_at_fpr = {level: tpr_at_fpr(fpr, tpr, level) for level in FPR_TARGETS}

    @property
    def num_members(self):
        return int(self.member_scores.size)

    @property
    def num_non_members(self):
        return int(self.non_member_scores.size)

    # Serialisation -------------------------------------------------------------
    def to_dict(self):
        """A JSON-ready dict: metrics, ROC, scores and config (`from_dict` rebuilds it)."""
        fpr, tpr = self.roc
        return {
            "method": self.method,
            "auc": self.auc,
            "advantage": self.advantage,
            "tpr_at_fpr": {str(k): val for k, val in self.tpr_at_fpr.items()},
            "num_members": self.num_members,
            "num_non_members": self.num_non_members,
            "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
            "member_scores": self.member_scores.tolist(),
            "non_member_scores": self.non_member_scores.tolist(),
            "config": self.config,
        }

    @classmethod
    def from_dict(cls, data):
        """Rebuilds a report from `to_dict()` output (metrics are recomputed from the scores)."""
        if not isinstance(data, dict) or "member_scores" not in data \
                or "non_member_scores" not in data:
            raise ValueError("Expected a dict with 'member_scores' and 'non_member_scores' "
                             f"(from MembershipReport.to_dict). Received: data={str(data)[:80]}")
        return cls(member_scores=data["member_scores"],
                   non_member_scores=data["non_member_scores"],
                   method=data.get("method", "unknown"), config=data.get("config"))

    # Rendering -----------------------------------------------------------------
    def plot(self, path):
        """Writes the ROC curve on log-log axes, with the chance diagonal, as a PNG.

        Log axes show the low-FPR regime that matters for privacy (Carlini et
        al. 2022); points at FPR or TPR 0 are drawn at the smallest visible rate.

        Args:
            path: output file, e.g. "membership_roc.png".

        Returns:
            `path`.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fpr, tpr = self.roc
        floor = 0.5 / max(self.num_members, self.num_non_members, 1000)
        figure = Figure(figsize=(5.2, 5.0), dpi=110)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.plot(np.maximum(fpr, floor), np.maximum(tpr, floor), linewidth=1.8,
                  label=f"{self.method} (AUC {self.auc:.3f})")
        axes.plot([floor, 1.0], [floor, 1.0], color="grey", linestyle="--", linewidth=0.9,
                  label="chance")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlim(floor, 1.0)
        axes.set_ylim(floor, 1.0)
        axes.set_xlabel("false positive rate")
        axes.set_ylabel("true positive rate")
        axes.set_title("Membership inference ROC (log-log)")
        axes.grid(alpha=0.3, which="both")
        axes.legend(loc="lower right", fontsize="small")
        figure.tight_layout()
        figure.savefig(path, format="png")
        return path

    def __str__(self):
        lines = [f"Membership inference report ({self.method}, {self.num_members} members, "
                 f"{self.num_non_members} non-members)",
                 f"AUC: {self.auc:.4f}",
                 f"Attacker advantage: {self.advantage:.4f}"]
        lines += [f"TPR at {100 * level:g}% FPR: {100 * value:.2f}%"
                  for level, value in self.tpr_at_fpr.items()]
        return "\n".join(lines)

    def __repr__(self):
        return (f"MembershipReport(method={self.method!r}, auc={self.auc:.4f}, "
                f"advantage={self.advantage:.4f}, num_members={self.num_members}, "
                f"num_non_members={self.num_non_members})")

