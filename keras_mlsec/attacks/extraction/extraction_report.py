"""`ExtractionReport`: how much of a model an extraction stole, and at what query cost."""

from keras_mlsec._core.reports import JSONReport

_FIELDS = ("agreement", "substitute_accuracy", "victim_accuracy", "curve_queries",
           "curve_agreement", "strategy", "output", "queries_used", "query_budget",
           "num_examples")


class ExtractionReport(JSONReport):
    """Fidelity and accuracy of a stolen model, with the agreement-versus-queries curve.

    Attributes:
        agreement: share of test inputs where substitute and victim agree.
        substitute_accuracy: the substitute's accuracy on the true labels (or None).
        victim_accuracy: the victim's accuracy on the true labels (or None).
        curve_queries: queries used at each training round.
        curve_agreement: the agreement after each of those rounds.
        strategy, output: how the model was stolen.
        queries_used, query_budget: queries spent and allowed.
        num_examples: size of the test set.

    Example:
        >>> report = result.report(x_test, y_test)
        >>> report.plot("extraction.png"); print(report.to_markdown())
    """

    def __init__(self, *, agreement, substitute_accuracy, victim_accuracy, curve_queries,
                 curve_agreement, strategy, output, queries_used, query_budget, num_examples):
        self.agreement = float(agreement)
        self.substitute_accuracy = substitute_accuracy
        self.victim_accuracy = victim_accuracy
        self.curve_queries = [int(q) for q in curve_queries]
        self.curve_agreement = [float(a) for a in curve_agreement]
        self.strategy = strategy
        self.output = output
        self.queries_used = int(queries_used)
        self.query_budget = int(query_budget)
        self.num_examples = int(num_examples)

    def to_dict(self):
        """The report as a JSON-ready dict (keys: agreement, accuracies, curve...)."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data):
        """Rebuilds a report from `to_dict`'s output."""
        return cls(**{name: data[name] for name in _FIELDS})

    def to_markdown(self):
        """A Markdown summary with the agreement-versus-queries table."""

        def fmt(value):
            return "n/a" if value is None else f"{value:.3f}"

        lines = [f"## Model extraction ({self.strategy}, {self.output})", "",
                 f"- queries used: {self.queries_used} of {self.query_budget}",
                 f"- agreement with the victim: {self.agreement:.3f} "
                 f"on {self.num_examples} test inputs",
                 f"- substitute accuracy: {fmt(self.substitute_accuracy)}",
                 f"- victim accuracy: {fmt(self.victim_accuracy)}", "",
                 "| queries | agreement |", "|---:|---:|"]
        lines += [f"| {q} | {a:.3f} |" for q, a in zip(self.curve_queries, self.curve_agreement)]
        return "\n".join(lines) + "\n"

    def plot(self, path):
        """Draws agreement against queries into `path` (PNG, SVG... by extension)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(self.curve_queries, self.curve_agreement, marker="o")
        ax.set_xlabel("queries to the victim")
        ax.set_ylabel("agreement with the victim")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"Extraction ({self.strategy}, {self.output})")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path

    def __repr__(self):
        return (f"ExtractionReport(agreement={self.agreement:.3f}, "
                f"queries_used={self.queries_used}, strategy={self.strategy!r})")
