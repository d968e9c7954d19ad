"""`FairnessReport`: group-fairness metrics of a classifier, with pass/fail bounds."""

import math

from keras_mlsec._core.reports import JSONReport

DEFAULT_BOUNDS = {
    "disparate_impact": (0.8, 1.25),
    "statistical_parity_difference": (-0.1, 0.1),
    "equal_opportunity_difference": (-0.1, 0.1),
    "average_odds_difference": (-0.1, 0.1),
}
"""Accepted ranges: the four-fifths rule (and its inverse) for disparate impact, +-0.1 for
the differences (aif360's usual fairness band)."""

METRICS = ("disparate_impact", "statistical_parity_difference", "equal_opportunity_difference",
           "average_odds_difference", "theil_index", "accuracy")


def _cell(value, digits=3):
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


class FairnessReport(JSONReport):
    """Group-fairness metrics of a binary classifier (returned by `fairness_report`).

    Attributes:
        metrics: `{name: value}` for `disparate_impact`,
            `statistical_parity_difference`, `equal_opportunity_difference`,
            `average_odds_difference`, `theil_index` and overall `accuracy`
            (also readable as attributes, e.g. `report.disparate_impact`).
        groups: `{"privileged" | "unprivileged": {count, accuracy,
            true_positive_rate, false_positive_rate, selection_rate}}`.
        bounds: `{metric: (low, high)}` checked by `passed`.
        config: threshold, privileged value, how `protected` was given, size.

    Example:
        >>> report = fairness_report(model, x, y, protected=0)
        >>> report.passed, report.failures
        >>> print(report.to_markdown())
    """

    def __init__(self, *, metrics, groups, bounds=None, config=None):
        self.metrics = dict(metrics)
        self.groups = {k: dict(val) for k, val in groups.items()}
        self.bounds = {k: tuple(val) for k, val in (bounds or DEFAULT_BOUNDS).items()}
        self.config = dict(config or {})

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(f"'FairnessReport' object has no attribute {name!r}")

    def checks(self):
        """`[(metric, value, (low, high), ok)]` for every bounded metric; NaN fails."""
        rows = []
        for name, (low, high) in self.bounds.items():
            value = self.metrics.get(name)
            ok = value is not None and math.isfinite(value) and low <= value <= high
            rows.append((name, value, (low, high), ok))
        return rows

    @property
    def failures(self):
        """Names of the metrics outside their bounds."""
        return [name for name, _, _, ok in self.checks() if not ok]

    @property
    def passed(self):
        """True when every bounded metric lies within its bounds (four-fifths rule included)."""
        return not self.failures

    def to_dict(self):
        return {"metrics": self.metrics, "groups": self.groups,
                "bounds": {k: list(val) for k, val in self.bounds.items()},
                "passed": self.passed, "failures": self.failures, "config": self.config}

    @classmethod
    def from_dict(cls, data):
        return cls(metrics=data["metrics"], groups=data["groups"], bounds=data.get("bounds"),
                   config=data.get("config"))

    def to_markdown(self):
        """A Markdown summary: verdict, metric table with bounds, per-group table."""
        verdict = "PASSED" if self.passed else f"FAILED ({', '.join(self.failures)})"
        lines = [f"## Fairness: {verdict}", "", "| metric | value | bounds | ok |",
                 "|---|---|---|---|"]
        checked = {name: (bounds, ok) for name, _, bounds, ok in self.checks()}
        for name in METRICS:
            value = self.metrics.get(name)
            bounds, ok = checked.get(name, (None, None))
            span = "" if bounds is None else f"[{bounds[0]:g}, {bounds[1]:g}]"
            mark = "" if ok is None else ("yes" if ok else "**no**")
            lines.append(f"| {name} | {_cell(value)} | {span} | {mark} |")
        lines += ["", "| group | count | accuracy | TPR | FPR | selection rate |",
                  "|---|---|---|---|---|---|"]
        for group, row in self.groups.items():
            lines.append(f"| {group} | {row['count']} | {_cell(row['accuracy'])} | "
                         f"{_cell(row['true_positive_rate'])} | "
                         f"{_cell(row['false_positive_rate'])} | "
                         f"{_cell(row['selection_rate'])} |")
        return "\n".join(lines) + "\n"

    def plot(self, path):
        """Bar charts: each bounded metric against its band, and rates per group."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
        rows = self.checks()
        for i, (name, value, (low, high), ok) in enumerate(rows):
            shown = value if value is not None and math.isfinite(value) else 0.0
            left.barh(i, shown, color="tab:green" if ok else "tab:red")
            left.plot([low, low], [i - 0.4, i + 0.4], "k--", lw=1)
            left.plot([high, high], [i - 0.4, i + 0.4], "k--", lw=1)
        left.set_yticks(range(len(rows)), [r[0].replace("_", " ") for r in rows], fontsize=8)
        left.axvline(0, color="grey", lw=0.5)
        left.set_title("metrics (dashed: accepted band)", fontsize=9)
        names = ("accuracy", "true_positive_rate", "false_positive_rate", "selection_rate")
        width = 0.38
        for j, (group, row) in enumerate(self.groups.items()):
            values = [row[n] if math.isfinite(row[n]) else 0.0 for n in names]
            right.bar([i + (j - 0.5) * width for i in range(len(names))], values, width,
                      label=group)
        right.set_xticks(range(len(names)), ["accuracy", "TPR", "FPR", "selection"], fontsize=8)
        right.set_ylim(0, 1)
        right.legend(fontsize=8)
        right.set_title("per group", fontsize=9)
        fig.suptitle("Fairness: " + ("passed" if self.passed else "failed"), fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def __str__(self):
        return self.to_markdown()

    def __repr__(self):
        return (f"FairnessReport(disparate_impact={_cell(self.metrics.get('disparate_impact'))}, "
                f"passed={self.passed})")
