"""`RobustnessReport`: the result of `evaluate_robustness`, as JSON, Markdown, PNG or text.

Pure Python and NumPy (matplotlib only inside `plot`), so reports can be
loaded, compared and rendered without TensorFlow.
"""

import json
import math
import numbers
import os

import numpy as np

from keras_mlsec._core.reports import JSONReport
from keras_mlsec.evaluation.check_result import CheckResult
from keras_mlsec.evaluation.result_row import ResultRow

WORST_CASE = "worst_case"
_REQUIRED = ("attack", "eps", "adversarial_accuracy")


def _jsonable(value):
    """A copy of `value` made of JSON types only (NaN and infinities become None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(val) for k, val in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(val) for val in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return repr(value)


def _percent(value):
    return "-" if value is None else f"{100 * value:.1f}%"


def _number(value, digits=4):
    return "-" if value is None else f"{value:.{digits}g}"


class RobustnessReport(JSONReport):
    """Clean and adversarial accuracy per (attack, eps), with the worst case over attacks.

    Each row of `results` is a `ResultRow` (read like a dict, `to_dict()`
    for JSON) with "attack", "eps", "adversarial_accuracy", "robustness_gap"
    (clean minus adversarial), "success_rate" (share of the correctly
    classified examples the attack fooled), "mean_perturbation" and
    "max_perturbation" (in `norm`), "seconds", the attack's hyper-parameters
    under "config" and what the attack declares ("kind", "uses_gradients",
    "iterative"). Rows of a cascade's stages also have "cascade" (the
    preset), "stage" and "num_broken", and their accuracy is the robust
    accuracy after that stage. The rows whose attack is "worst_case" take,
    per example, the strongest of all attacks, and name per example the
    attack that broke it ("broken_by").

    Args:
        clean_accuracy: accuracy on the unperturbed inputs, in [0, 1].
        results: list of `ResultRow`s or row dicts (see above).
        config: hyper-parameters and environment of the evaluation.
        num_examples: number of evaluated examples.
        norm: norm of the budgets and perturbations, "linf" or "l2".
        checks: gradient-masking checks, a list of `CheckResult`s or dicts
            {"name", "verdict" ("pass", "warn", "fail" or "skipped"),
            "reason"}, or None.

    Raises:
        ValueError: for an accuracy outside [0, 1] or rows missing keys.

    Example:
        >>> report = keras_mlsec.evaluate_robustness(model, x, y, eps=[0.05, 0.1])
        >>> print(report)
        >>> report.save("mlsec-report")
        >>> same = RobustnessReport.from_json(report.to_json())
    """

    def __init__(self, *, clean_accuracy, results, config=None, num_examples=None, norm="linf",
                 checks=None):
        if not isinstance(clean_accuracy, numbers.Real) or not 0.0 <= clean_accuracy <= 1.0:
            raise ValueError(f"Expected `clean_accuracy` in [0, 1]. "
                             f"Received: clean_accuracy={clean_accuracy!r}")
        if not isinstance(results, (list, tuple)) or not results:
            raise ValueError(f"Expected `results` to be a non-empty list of row dicts. "
                             f"Received: results={results!r}")
        rows = []
        for row in results:
            if isinstance(row, ResultRow):
                row = row.to_dict()
            missing = [k for k in _REQUIRED if not isinstance(row, dict) or k not in row]
            if missing:
                raise ValueError(f"Expected every row of `results` to have the keys {_REQUIRED}. "
                                 f"Received: a row missing {missing}: {row!r}")
            rows.append(ResultRow.from_dict(_jsonable(row)))
        self.clean_accuracy = float(clean_accuracy)
        self.results = rows
        self.config = _jsonable(config or {})
        self.num_examples = None if num_examples is None else int(num_examples)
        self.norm = str(norm)
        self.checks = None if checks is None else [
            CheckResult.from_dict(c if isinstance(c, CheckResult) else _jsonable(c))
            for c in checks]

    # Queries -----------------------------------------------------------------
    @property
    def attacks(self):
        """Names of the evaluated attacks, in order, without "worst_case"."""
        names = [r["attack"] for r in self.results if r["attack"] != WORST_CASE]
        return list(dict.fromkeys(names))

    @property
    def eps_values(self):
        """Sorted list of the evaluated budgets."""
        return sorted({r["eps"] for r in self.results})

    def row(self, attack, eps):
        """The row of `attack` at `eps`; raises KeyError when there is none."""
        for r in self.results:
            if r["attack"] == attack and math.isclose(r["eps"], eps, rel_tol=1e-9, abs_tol=1e-12):
                return r
        raise KeyError(f"No result for attack={attack!r}, eps={eps!r}. "
                       f"Attacks: {self.attacks + [WORST_CASE]}, eps: {self.eps_values}")

    def accuracy(self, attack, eps):
        """Adversarial accuracy of `attack` (or "worst_case") at `eps`."""
        return self.row(attack, eps)["adversarial_accuracy"]

    @property
    def max_eps(self):
        return self.eps_values[-1]

    @property
    def robust_accuracy(self):
        """Worst-case adversarial accuracy at the largest eps."""
        rows = [r for r in self.results if math.isclose(r["eps"], self.max_eps)]
        worst = [r for r in rows if r["attack"] == WORST_CASE]
        return min(r["adversarial_accuracy"] for r in (worst or rows))

    @property
    def robustness_gap(self):
        """Clean accuracy minus `robust_accuracy`."""
        return self.clean_accuracy - self.robust_accuracy

    # Serialisation -------------------------------------------------------------
    def to_dict(self):
        """A JSON-ready dict: summary numbers, `results` rows, `config`."""
        return {
            "clean_accuracy": self.clean_accuracy,
            "robust_accuracy": self.robust_accuracy,
            "robustness_gap": self.robustness_gap,
            "num_examples": self.num_examples,
            "norm": self.norm,
            "results": [r.to_dict() for r in self.results],
            "config": json.loads(json.dumps(self.config)),
            "checks": None if self.checks is None else [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data):
        """Rebuilds a report from `to_dict()` output (derived numbers are recomputed)."""
        if not isinstance(data, dict) or "results" not in data or "clean_accuracy" not in data:
            raise ValueError("Expected a dict with 'clean_accuracy' and 'results' (from "
                             f"RobustnessReport.to_dict). Received: data={str(data)[:80]}")
        return cls(clean_accuracy=data["clean_accuracy"], results=data["results"],
                   config=data.get("config"), num_examples=data.get("num_examples"),
                   norm=data.get("norm", "linf"), checks=data.get("checks"))

    # Rendering -----------------------------------------------------------------
    @property
    def notes(self):
        """Caveats of the evaluation (e.g. attacks run without EOT on a random model)."""
        return list(self.config.get("notes") or [])

    def _headline(self):
        return [
            f"Clean Accuracy: {_percent(self.clean_accuracy)}",
            f"Adversarial Accuracy (worst case, eps={self.max_eps:g}): "
            f"{_percent(self.robust_accuracy)}",
            f"Robustness Gap: {100 * self.robustness_gap:.1f} pp",
        ]

    def _table_cells(self):
        for r in self.results:
            yield [r["attack"], f"{r['eps']:g}", _percent(r["adversarial_accuracy"]),
                   "-" if r["robustness_gap"] is None else f"{100 * r['robustness_gap']:.1f}",
                   _percent(r["success_rate"]), _number(r["mean_perturbation"]),
                   _number(r["max_perturbation"]),
                   "-" if r["seconds"] is None else f"{r['seconds']:.2f}"]

    _COLUMNS = ("attack", "eps", "adversarial accuracy", "gap (pp)", "success rate",
                "mean perturbation", "max perturbation", "seconds")

    def to_markdown(self):
        """A Markdown document: summary, one table row per (attack, eps), hyper-parameters."""
        name = self.config.get("model_name", "model")
        lines = [f"# Robustness report: {name}", ""]
        for line in self._headline():
            key, value = line.split(": ", 1)
            lines.append(f"- **{key}**: {value}")
        lines += [f"- **Examples**: {self.num_examples}", f"- **Norm**: {self.norm}", "",
                  "Adversarial accuracy counts an example only when it is classified correctly "
                  "both clean and under attack; `worst_case` takes, per example, the strongest "
                  "attack. Success rate is the share of correctly classified examples the "
                  f"attack fooled; perturbations are measured in {self.norm}.", "",
                  "| " + " | ".join(self._COLUMNS) + " |",
                  "|" + "|".join(["---"] + ["---:"] * (len(self._COLUMNS) - 1)) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in self._table_cells()]
        lines += self._cascade_lines()
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {note}" for note in self.notes]
        if self.checks is not None:
            lines += ["", "## Gradient-masking checks", "", "| check | verdict | reason |",
                      "|---|---|---|"]
            lines += [f"| {c['name']} | {c['verdict']} | {c['reason']} |" for c in self.checks]
        lines += ["", "## Hyper-parameters", ""]
        for attack in self.attacks:
            first = next(r for r in self.results if r["attack"] == attack)
            config = {k: val for k, val in (first.get("config") or {}).items() if k != "eps"}
            lines.append(f"- `{attack}`: `{json.dumps(config, sort_keys=True)}`")
        lines += ["", "Evaluation:", ""]
        lines += [f"- {k}: `{json.dumps(val)}`"
                  for k, val in self.config.items() if k != "versions"]
        lines.append("")
        versions = self.config.get("versions")
        if versions:
            lines += ["Versions: " + ", ".join(f"{k} {val}" for k, val in versions.items()), ""]
        return "\n".join(lines)

    def cascade_summary(self):
        """Per eps, the cascade's stages: `[(eps, [(stage label, robust accuracy after it,
        examples it broke)]), ...]` (empty without a cascade)."""
        out = []
        for e in self.eps_values:
            stages = sorted((r for r in self.results if r.cascade and r.eps == e),
                            key=lambda r: r.stage)
            if stages:
                out.append((e, [(r.attack, r.adversarial_accuracy, r.num_broken)
                                for r in stages]))
        return out

    def _cascade_lines(self):
        summary = self.cascade_summary()
        if not summary:
            return []
        preset = next(r.cascade for r in self.results if r.cascade)
        lines = ["", f"## Cascade ({preset})", "",
                 "Each stage attacks only the examples every stage before it left robust (at a "
                 "larger eps, starting from those still robust at the smaller one). Robust "
                 "accuracy after each stage, and how many examples it broke:", ""]
        for e, stages in summary:
            steps = " -> ".join(f"{label} {_percent(acc)} ({broken} broken)"
                                for label, acc, broken in stages)
            lines.append(f"- eps={e:g}: clean {_percent(self.clean_accuracy)} -> {steps}")
        return lines

    def plot(self, path):
        """Writes accuracy-versus-eps curves (one per attack, plus worst case) as a PNG.

        Args:
            path: output file, e.g. "robustness.png".

        Returns:
            `path`.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 4.4), dpi=110)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for attack in self.attacks + [WORST_CASE]:
            rows = sorted((r for r in self.results if r["attack"] == attack),
                          key=lambda r: r["eps"])
            if not rows:
                continue
            eps = [r["eps"] for r in rows]
            acc = [r["adversarial_accuracy"] for r in rows]
            if eps[0] > 0:  # at eps = 0 every attack leaves the clean accuracy
                eps, acc = [0.0] + eps, [self.clean_accuracy] + acc
            style = dict(color="black", linestyle="--", linewidth=2.2) if attack == WORST_CASE \
                else dict(linewidth=1.5)
            axes.plot(eps, acc, marker="o", label=attack.replace("_", " "), **style)
        axes.axhline(self.clean_accuracy, color="grey", linewidth=0.8, linestyle=":",
                     label="clean")
        axes.set_xlabel(f"eps ({self.norm})")
        axes.set_ylabel("adversarial accuracy")
        axes.set_ylim(-0.02, 1.02)
        axes.set_title(f"Robustness of {self.config.get('model_name', 'the model')}")
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize="small")
        figure.tight_layout()
        figure.savefig(path, format="png")
        return path

    def save(self, directory):
        """Writes report.json, report.md and robustness.png into `directory` (created).

        Returns:
            A dict with the paths under the keys "json", "markdown" and "plot".
        """
        os.makedirs(directory, exist_ok=True)
        paths = {"json": os.path.join(directory, "report.json"),
                 "markdown": os.path.join(directory, "report.md"),
                 "plot": os.path.join(directory, "robustness.png")}
        self.to_json(paths["json"])
        with open(paths["markdown"], "w", encoding="utf-8") as f:
            f.write(self.to_markdown())
        self.plot(paths["plot"])
        return paths

    def __str__(self):
        name = self.config.get("model_name", "model")
        lines = [f"Robustness report ({name}, {self.num_examples} examples, norm {self.norm})"]
        lines += self._headline() + [""]
        table = [list(self._COLUMNS)] + list(self._table_cells())
        widths = [max(len(row[i]) for row in table) for i in range(len(self._COLUMNS))]
        for row in table:
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
            lines.append("  ".join(cells).rstrip())
        lines += [line.replace("## ", "") for line in self._cascade_lines()]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {note}" for note in self.notes]
        if self.checks is not None:
            lines += ["", "Gradient-masking checks:"]
            lines += [f"  [{c['verdict'].upper()}] {c['name']}: {c['reason']}" for c in self.checks]
        return "\n".join(lines)

    def __repr__(self):
        return (f"RobustnessReport(clean_accuracy={self.clean_accuracy:.4f}, "
                f"robust_accuracy={self.robust_accuracy:.4f}, attacks={self.attacks}, "
                f"eps={self.eps_values})")
