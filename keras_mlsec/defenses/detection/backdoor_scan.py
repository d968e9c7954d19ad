"""`BackdoorScan`: the per-class trigger norms Neural Cleanse found, and the outliers among them."""

import numpy as np

from keras_mlsec._core.reports import JSONReport

MAD_CONSISTENCY = 1.4826  # makes the MAD a consistent estimator of a normal's standard deviation


def anomaly_indices(norms):
    """`(median - norm) / (1.4826 * MAD)` per class (Wang et al. 2019).

    Classes whose trigger was never found (infinite norm) count as the
    largest finite norm times two for the median and MAD.

    Example:
        >>> anomaly_indices([10.0, 10.0, 12.0, 8.0, 1.0]).round(2)
        array([ 0.  ,  0.  , -0.67,  0.67,  3.04])
    """
    norms = np.asarray(norms, dtype=np.float64)
    finite = np.isfinite(norms)
    if not finite.any():
        return np.zeros(len(norms))
    filled = np.where(finite, norms, 2.0 * norms[finite].max())
    median = np.median(filled)
    mad = MAD_CONSISTENCY * np.median(np.abs(filled - median))
    return (median - filled) / max(mad, 1e-12)


class BackdoorScan(JSONReport):
    """What Neural Cleanse found: the smallest trigger per class and the anomalous classes.

    Args:
        norms: L1 norm of the smallest successful mask per class (inf when
            no mask reached the success target).
        masks: `(classes, ...)` the recovered masks in [0, 1].
        patterns: `(classes, ...)` the recovered patterns.
        threshold: anomaly index above which a class is flagged (2 in the paper).
        config: settings of the scan.

    Attributes:
        anomaly_index: per class, `(median - norm) / (1.4826 * MAD)`.
        flagged_classes: classes with an anomaly index above `threshold`
            (unusually small triggers: likely backdoor targets).

    Example:
        >>> scan = neural_cleanse(model, x_val, y_val)
        >>> scan.flagged_classes, scan.anomaly_index.round(1)
    """

    def __init__(self, norms, masks, patterns, *, threshold=2.0, config=None):
        self.norms = np.asarray(norms, dtype=np.float64)
        self.masks = np.asarray(masks, dtype=np.float32)
        self.patterns = np.asarray(patterns, dtype=np.float32)
        self.threshold = float(threshold)
        self.config = dict(config or {})

    @property
    def anomaly_index(self):
        return anomaly_indices(self.norms)

    @property
    def flagged_classes(self):
        return [int(c) for c in np.flatnonzero(self.anomaly_index > self.threshold)]

    @property
    def is_backdoored(self):
        return bool(self.flagged_classes)

    def trigger(self, target):
        """`(mask, pattern)` recovered for class `target`, to stamp with `x*(1-m) + m*p`."""
        if not 0 <= int(target) < len(self.norms):
            raise ValueError(f"Expected `target` in [0, {len(self.norms) - 1}]. "
                             f"Received: target={target!r}")
        return self.masks[int(target)], self.patterns[int(target)]

    def to_dict(self):
        return {"norms": [None if not np.isfinite(n) else float(n) for n in self.norms],
                "anomaly_index": self.anomaly_index.tolist(),
                "flagged_classes": self.flagged_classes, "threshold": self.threshold,
                "config": self.config, "masks": self.masks.tolist(),
                "patterns": self.patterns.tolist()}

    @classmethod
    def from_dict(cls, data):
        norms = [np.inf if n is None else n for n in data["norms"]]
        return cls(norms, data["masks"], data["patterns"], threshold=data["threshold"],
                   config=data.get("config"))

    def to_markdown(self):
        """A Markdown table: trigger norm and anomaly index per class."""
        lines = ["# Neural Cleanse scan", "",
                 f"Flagged classes (anomaly index > {self.threshold:g}): "
                 f"{self.flagged_classes or 'none'}.", "",
                 "| class | trigger L1 norm | anomaly index | flagged |", "|---|---|---|---|"]
        flagged = set(self.flagged_classes)
        for c, (norm, index) in enumerate(zip(self.norms, self.anomaly_index)):
            lines.append(f"| {c} | {norm:.1f} | {index:.2f} | {'yes' if c in flagged else 'no'} |")
        return "\n".join(lines) + "\n"

    def plot(self, path):
        """Writes a PNG of the recovered mask (top) and masked pattern (bottom) per class."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        count = len(self.norms)
        fig, axes = plt.subplots(2, count, figsize=(1.4 * count, 3.2), squeeze=False)
        flagged = set(self.flagged_classes)
        for c in range(count):
            mask, pattern = self.masks[c], self.patterns[c]
            image_like = mask.ndim >= 2
            shown = (mask, mask * pattern) if image_like else (mask[None], (mask * pattern)[None])
            for row, img in enumerate(shown):
                axes[row, c].imshow(np.squeeze(img), cmap="gray", vmin=0, vmax=1)
                axes[row, c].axis("off")
            color = "tab:red" if c in flagged else "black"
            norm = "inf" if not np.isfinite(self.norms[c]) else f"{self.norms[c]:.0f}"
            axes[0, c].set_title(f"{c}: {norm}\n{self.anomaly_index[c]:.1f}", fontsize=8,
                                 color=color)
        fig.suptitle("Neural Cleanse: mask / masked pattern (class: L1, anomaly index)",
                     fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def __repr__(self):
        return f"BackdoorScan(flagged_classes={self.flagged_classes}, norms={self.norms.round(1)})"
