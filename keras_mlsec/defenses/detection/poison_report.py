"""`PoisonReport`: what `detect_poison` found, as numbers, JSON, Markdown or a PNG."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec._core.reports import JSONReport


class PoisonReport(JSONReport):
    """Suspected poisoned training examples, with a score per example.

    Args:
        suspected_indices: indices (into the analysed `x`) flagged as poison.
        scores: one outlier score per analysed example (higher = more suspect;
            comparable within a class).
        labels: the labels the examples were analysed under.
        method: "spectral" or "activation_clustering".
        layer: the analysed layer.
        class_details: dict class -> statistics of that class's split.
        config: the detector's settings.

    Attributes:
        suspected_indices, scores, labels, method, layer, class_details, config.
        flagged_classes: classes whose candidate group was kept.
        suspected_fraction: share of examples flagged.

    Example:
        >>> report = detect_poison(model, x, y)
        >>> report.evaluate(data.poison_indices, classes=[0])
        {'precision': 1.0, 'recall': 0.97, 'f1': 0.98, ...}
    """

    def __init__(self, suspected_indices, scores, labels, *, method, layer=None,
                 class_details=None, config=None):
        self.scores = np.asarray(scores, dtype=np.float64)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.suspected_indices = v.check_indices(suspected_indices, len(self.scores),
                                                "suspected_indices")
        self.method, self.layer = method, layer
        self.class_details = {int(c): dict(d) for c, d in (class_details or {}).items()}
        self.config = dict(config or {})

    @property
    def num_examples(self):
        return len(self.scores)

    @property
    def flagged_classes(self):
        return sorted(c for c, d in self.class_details.items() if d.get("flagged"))

    @property
    def suspected_fraction(self):
        return len(self.suspected_indices) / max(1, self.num_examples)

    def evaluate(self, poison_indices, *, classes=None):
        """Precision, recall, F1 and false-positive rate against the true poison.

        Args:
            poison_indices: the true poison (indices into the analysed `x`, or
                a boolean mask), e.g. `PoisonedData.poison_indices`.
            classes: only count examples labelled with these classes (e.g.
                `[target]`: the examples a backdoor relabels); None counts all.

        Returns:
            dict with precision, recall, f1, false_positive_rate, and the
            counts true_positives, false_positives, false_negatives, negatives.

        Raises:
            ValueError: when `poison_indices` leave the analysed examples.
        """
        truth = np.zeros(self.num_examples, bool)
        truth[v.check_indices(poison_indices, self.num_examples)] = True
        flagged = np.zeros(self.num_examples, bool)
        flagged[self.suspected_indices] = True
        scope = np.ones(self.num_examples, bool) if classes is None else np.isin(
            self.labels, np.asarray(list(classes)))
        tp = int(np.sum(flagged & truth & scope))
        fp = int(np.sum(flagged & ~truth & scope))
        fn = int(np.sum(~flagged & truth & scope))
        negatives = int(np.sum(~truth & scope))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1,
                "false_positive_rate": fp / negatives if negatives else 0.0,
                "true_positives": tp, "false_positives": fp, "false_negatives": fn,
                "negatives": negatives}

    def to_dict(self):
        return {"method": self.method, "layer": self.layer, "config": self.config,
                "num_examples": self.num_examples,
                "suspected_indices": self.suspected_indices.tolist(),
                "scores": self.scores.tolist(), "labels": self.labels.tolist(),
                "flagged_classes": self.flagged_classes,
                "class_details": {str(c): d for c, d in self.class_details.items()}}

    @classmethod
    def from_dict(cls, data):
        return cls(data["suspected_indices"], data["scores"], data["labels"],
                   method=data["method"], layer=data.get("layer"),
                   class_details={int(c): d for c, d in data.get("class_details", {}).items()},
                   config=data.get("config"))

    def to_markdown(self):
        """A Markdown summary: flagged classes and a per-class table."""
        lines = [f"# Poison detection ({self.method}, layer: {self.layer})", "",
                 f"{len(self.suspected_indices)} of {self.num_examples} examples suspected "
                 f"({100 * self.suspected_fraction:.1f}%); flagged classes: "
                 f"{self.flagged_classes or 'none'}.", "",
                 "| class | examples | candidate group | share | relabelled by k-NN | flagged |",
                 "|---|---|---|---|---|---|"]
        for c, d in sorted(self.class_details.items()):
            relabel = d.get("relabel_fraction")
            lines.append(f"| {c} | {d['size']} | {d.get('cluster_size', '-')} | "
                         f"{d.get('cluster_fraction', float('nan')):.2f} | "
                         f"{'-' if relabel is None else f'{relabel:.2f}'} | "
                         f"{'yes' if d.get('flagged') else 'no'} |")
        return "\n".join(lines) + "\n"

    def plot(self, path):
        """Writes a PNG: the score distribution of each class, suspects in red."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        classes = sorted(np.unique(self.labels).tolist())
        flagged = np.zeros(self.num_examples, bool)
        flagged[self.suspected_indices] = True
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(classes)), 4))
        rng = np.random.default_rng(0)
        for i, c in enumerate(classes):
            members = self.labels == c
            jitter = i + rng.uniform(-0.3, 0.3, members.sum())
            ax.scatter(jitter, self.scores[members], s=6,
                       c=np.where(flagged[members], "tab:red", "tab:blue"))
        ax.set_xticks(range(len(classes)), [str(c) for c in classes])
        ax.set_xlabel("label")
        ax.set_ylabel(f"{self.method} score")
        ax.set_title(f"Poison detection: {len(self.suspected_indices)} suspects (red)")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def __repr__(self):
        return (f"PoisonReport(method={self.method!r}, suspected={len(self.suspected_indices)}"
                f"/{self.num_examples}, flagged_classes={self.flagged_classes})")
