"""The result of `detect_drift`: verdict, per-feature statistics, export and plot."""

import json
import math

import numpy as np


class DriftReport:
    """Outcome of a drift test between a reference and a current sample.

    Built by `keras_mlsec.monitoring.detect_drift`; read it, print it, export
    it with `to_dict` / `to_json`, or draw it with `plot`.

    Args:
        test: the test that ran ("ks", "psi", "chi2" or "mmd").
        alpha: significance level of the per-feature decision.
        correction: multiple-testing correction ("bonferroni", "fdr", "none").
        features: one dict per tested feature with keys "feature" (name),
            "statistic", "p_value" (None for PSI), "adjusted_p_value" (None for
            PSI) and "drifted" (bool). MMD gives a single multivariate entry.
        n_reference: number of reference examples.
        n_current: number of current examples.
        details: test-specific settings (PSI bins and threshold, MMD bandwidth
            and permutations).
        samples: optional `(reference, current)` 2-D arrays kept only for the
            histograms of `plot`; never exported.

    Example:
        >>> report = detect_drift(x_train, x_new)
        >>> if report.drift_detected:
        ...     print(report)
        ...     report.plot("drift.png")
    """

    def __init__(self, *, test, alpha, correction, features, n_reference, n_current,
                 details=None, samples=None):
        self.test = test
        self.alpha = float(alpha)
        self.correction = correction
        self.features = [dict(feature) for feature in features]
        self.n_reference = int(n_reference)
        self.n_current = int(n_current)
        self.details = dict(details or {})
        self._samples = samples

    @property
    def drift_detected(self):
        """True when at least one feature drifted."""
        return any(feature["drifted"] for feature in self.features)

    @property
    def drifted_features(self):
        """Names of the features flagged as drifted."""
        return [feature["feature"] for feature in self.features if feature["drifted"]]

    @property
    def p_value(self):
        """Smallest adjusted p-value (a valid overall p-value for Bonferroni and
        Benjamini-Hochberg); None for PSI, which has no p-value."""
        values = [f["adjusted_p_value"] for f in self.features if f["adjusted_p_value"] is not None]
        return min(values) if values else None

    @property
    def statistic(self):
        """Largest per-feature statistic (KS distance, PSI, chi-squared or MMD^2)."""
        return max(feature["statistic"] for feature in self.features)

    def most_drifted(self, k=5):
        """The `k` features ranked from most to least drifted.

        Ranked by adjusted p-value (ascending, ties by statistic), or by
        statistic for PSI.
        """
        if self.test == "psi":
            key = lambda f: -f["statistic"]  # noqa: E731
        else:
            key = lambda f: (f["adjusted_p_value"], -f["statistic"])  # noqa: E731
        return sorted(self.features, key=key)[:k]

    def to_dict(self):
        """A JSON-ready dict: verdict, settings and every feature's result."""
        return {
            "drift_detected": self.drift_detected,
            "test": self.test,
            "alpha": self.alpha,
            "correction": self.correction,
            "p_value": self.p_value,
            "statistic": self.statistic,
            "num_features": len(self.features),
            "num_drifted": len(self.drifted_features),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "details": self.details,
            "features": [dict(feature) for feature in self.features],
        }

    def to_json(self, indent=2):
        """`to_dict` as a JSON string (non-finite numbers written as null)."""
        return json.dumps(_finite(self.to_dict()), indent=indent, allow_nan=False)

    def __str__(self):
        verdict = "DRIFT DETECTED" if self.drift_detected else "no drift"
        rule = (f"PSI >= {self.details.get('psi_threshold')}" if self.test == "psi"
                else f"adjusted p <= {self.alpha:g}, correction={self.correction}")
        lines = [
            f"DriftReport: {verdict} in {len(self.drifted_features)} of {len(self.features)} "
            f"feature(s) (test={self.test}, {rule}; n_reference={self.n_reference}, "
            f"n_current={self.n_current})",
            f"  {'feature':<28} {'statistic':>10} {'p_value':>10} {'adj_p':>10}  drifted",
        ]
        shown = self.most_drifted(10)
        for f in shown:
            lines.append(f"  {f['feature'][:28]:<28} {f['statistic']:>10.4g} "
                         f"{_fmt(f['p_value']):>10} {_fmt(f['adjusted_p_value']):>10}  "
                         f"{'yes' if f['drifted'] else 'no'}")
        if len(self.features) > len(shown):
            lines.append(f"  ... {len(self.features) - len(shown)} more feature(s)")
        return "\n".join(lines)

    def __repr__(self):
        return (f"DriftReport(test={self.test!r}, drift_detected={self.drift_detected}, "
                f"num_drifted={len(self.drifted_features)}/{len(self.features)})")

    def plot(self, path, *, top_k=3):
        """Saves a figure of the report to `path` (PNG, PDF, SVG by extension).

        The first panel shows each feature's evidence: -log10(adjusted p) with
        the -log10(alpha) line, or the PSI with its 0.1 / 0.25 lines (at most
        the 30 most drifted features). When the samples are available (reports
        from `detect_drift`, not MMD), `top_k` more panels overlay reference and
        current histograms of the most drifted features.

        Args:
            path: output file.
            top_k: number of histogram panels.

        Returns:
            `path`.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        ranked = self.most_drifted(30)
        hist = [] if self._samples is None or self.test == "mmd" else self.most_drifted(top_k)
        figure = Figure(figsize=(5 + 4 * len(hist), 4))
        FigureCanvasAgg(figure)
        axes = figure.subplots(1, 1 + len(hist), squeeze=False)[0]
        names = [f["feature"] for f in ranked]
        if self.test == "psi":
            values = [f["statistic"] for f in ranked]
            for level, style in ((0.1, ":"), (self.details.get("psi_threshold", 0.25), "--")):
                axes[0].axhline(level, color="gray", linestyle=style)
            axes[0].set_ylabel("PSI")
        else:
            values = [-math.log10(max(f["adjusted_p_value"], 1e-300)) for f in ranked]
            axes[0].axhline(-math.log10(self.alpha), color="gray", linestyle="--")
            axes[0].set_ylabel("-log10(adjusted p-value)")
        colors = ["tab:red" if f["drifted"] else "tab:blue" for f in ranked]
        axes[0].bar(range(len(ranked)), values, color=colors)
        axes[0].set_xticks(range(len(ranked)), names, rotation=90, fontsize=7)
        axes[0].set_title(f"{self.test} drift per feature")
        index = {f["feature"]: j for j, f in enumerate(self.features)}
        reference, current = self._samples if hist else (None, None)
        for axis, feature in zip(axes[1:], hist):
            j = index[feature["feature"]]
            _histogram(axis, reference[:, j], current[:, j])
            axis.set_title(f"{feature['feature']} (stat {feature['statistic']:.3g})")
            axis.legend()
        figure.tight_layout()
        figure.savefig(path)
        return path


def _histogram(axis, reference, current):
    if reference.dtype.kind in "fiu" and np.unique(np.concatenate([reference, current])).size > 20:
        edges = np.histogram_bin_edges(np.concatenate([reference, current]).astype(float), 30)
        axis.hist(reference, edges, density=True, alpha=0.5, label="reference")
        axis.hist(current, edges, density=True, alpha=0.5, label="current")
        return
    levels = sorted({str(value) for value in np.concatenate([reference, current])})
    position = {level: k for k, level in enumerate(levels)}
    for offset, (sample, label) in enumerate(((reference, "reference"), (current, "current"))):
        counts = np.bincount([position[str(value)] for value in sample], minlength=len(levels))
        axis.bar(np.arange(len(levels)) + 0.4 * offset, counts / len(sample), 0.4, label=label)
    axis.set_xticks(np.arange(len(levels)) + 0.2, levels, fontsize=7)


def _fmt(value):
    return "-" if value is None else f"{value:.3g}"


def _finite(value):
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
