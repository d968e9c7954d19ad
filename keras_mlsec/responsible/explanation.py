"""`Explanation`: SHAP values of a model's predictions, with rankings and plots."""

import numpy as np

from keras_mlsec._core.reports import JSONReport


class Explanation(JSONReport):
    """Feature attributions returned by `explain`.

    Attributes:
        values: float32 array `(n, *input_shape, outputs)`: the contribution of
            each input feature to each output, per example.
        base_values: `(outputs,)` mean output over the background; for each
            example and output, `base_values + values.sum(features)` is about
            the model's output (exactly for kernel SHAP).
        data: the explained inputs `(n, *input_shape)`.
        feature_names: names of the (flattened) features.
        output_names: names of the outputs.
        method: "gradient", "kernel" or "deep".
        config: output kind, nsamples, seed, background size.

    Example:
        >>> explanation = explain(model, x, background=x_train[:100])
        >>> explanation.top_features(3)
        [('feature_0', 0.41), ('feature_5', 0.12), ('feature_2', 0.05)]
    """

    def __init__(self, *, values, base_values, data, feature_names=None, output_names=None,
                 method="gradient", config=None):
        self.values = np.asarray(values, np.float32)
        self.base_values = np.asarray(base_values, np.float32).reshape(-1)
        self.data = np.asarray(data, np.float32)
        count = int(np.prod(self.data.shape[1:]))
        names = list(feature_names) if feature_names is not None else None
        if names is not None and len(names) != count:
            raise ValueError(f"Expected {count} `feature_names` (one per input feature). "
                             f"Received: {len(names)} names")
        self.feature_names = names or [f"feature_{i}" for i in range(count)]
        outputs = self.values.shape[-1]
        self.output_names = list(output_names) if output_names is not None else [
            f"output_{i}" for i in range(outputs)]
        self.method = method
        self.config = dict(config or {})

    @property
    def is_image(self):
        """True for inputs with spatial axes (`(n, h, w)` or `(n, h, w, c)`)."""
        return self.data.ndim >= 3

    def importance(self, output=None):
        """Mean |SHAP| per flattened feature: of one output (index) or summed over all."""
        flat = np.abs(self.values.reshape(len(self.values), -1, self.values.shape[-1]))
        per_output = flat.mean(0)
        return per_output.sum(1) if output is None else per_output[:, int(output)]

    def top_features(self, k=10, output=None):
        """The `k` features with the largest mean |SHAP|, as `[(name, importance)]`.

        Raises:
            ValueError: when `k` is not a positive integer.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"Expected `k` to be an integer >= 1. Received: k={k!r}")
        importance = self.importance(output)
        order = np.argsort(-importance, kind="stable")[:k]
        return [(self.feature_names[i], float(importance[i])) for i in order]

    def to_dict(self):
        return {"method": self.method, "config": self.config,
                "base_values": self.base_values.tolist(), "values": self.values.tolist(),
                "data": self.data.tolist(), "feature_names": self.feature_names,
                "output_names": self.output_names,
                "top_features": [list(row) for row in self.top_features(10)]}

    @classmethod
    def from_dict(cls, data):
        return cls(values=data["values"], base_values=data["base_values"], data=data["data"],
                   feature_names=data["feature_names"], output_names=data["output_names"],
                   method=data["method"], config=data.get("config"))

    def plot(self, path, *, kind="auto", max_display=10, examples=6):
        """Draws the explanation into a PNG and returns `path`.

        Args:
            path: output file.
            kind: "auto" (beeswarm for tables, overlay for images), "beeswarm",
                "bar" (mean |SHAP| per feature) or "image" (heat maps of the
                predicted output's SHAP values over the inputs).
            max_display: features shown by "beeswarm" and "bar".
            examples: images shown by "image".

        Raises:
            ValueError: for an unknown `kind`, or "image" on tabular data.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        kinds = ("auto", "beeswarm", "bar", "image")
        if kind not in kinds:
            raise ValueError(f"Expected `kind` to be one of {kinds}. Received: kind={kind!r}")
        if kind == "auto":
            kind = "image" if self.is_image else "beeswarm"
        if kind == "image" and not self.is_image:
            raise ValueError("Expected image inputs (n, h, w[, c]) for kind='image'. Received: "
                             f"data with shape {self.data.shape}")
        if kind == "image":
            fig = self._image_figure(plt, examples)
        else:
            fig = self._feature_figure(plt, kind, max_display)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def _feature_figure(self, plt, kind, max_display):
        importance = self.importance()
        order = np.argsort(-importance, kind="stable")[:max_display][::-1]
        fig, axis = plt.subplots(figsize=(6, 0.35 * len(order) + 1.2))
        names = [self.feature_names[i] for i in order]
        if kind == "bar":
            axis.barh(range(len(order)), importance[order], color="tab:blue")
            axis.set_xlabel("mean |SHAP value| (summed over outputs)")
        else:
            flat = self.values.reshape(len(self.values), -1, self.values.shape[-1]).sum(-1)
            features = self.data.reshape(len(self.data), -1)
            rng = np.random.default_rng(0)
            for row, i in enumerate(order):
                column = features[:, i]
                span = np.ptp(column) or 1.0
                jitter = rng.uniform(-0.25, 0.25, len(column))
                points = axis.scatter(flat[:, i], row + jitter, c=(column - column.min()) / span,
                                      cmap="coolwarm", s=10, vmin=0, vmax=1)
            fig.colorbar(points, ax=axis, label="feature value (low to high)")
            axis.axvline(0, color="grey", lw=0.5)
            axis.set_xlabel("SHAP value (summed over outputs)")
        axis.set_yticks(range(len(order)), names, fontsize=8)
        axis.set_title(f"SHAP ({self.method}), {len(self.values)} examples", fontsize=9)
        fig.tight_layout()
        return fig

    def _image_figure(self, plt, examples):
        count = min(int(examples), len(self.values))
        fig, axes = plt.subplots(1, count, figsize=(1.8 * count, 2.1), squeeze=False)
        for j in range(count):
            values = self.values[j]
            # the predicted output: base value plus the attributions (SHAP's additivity)
            output = int(np.argmax(self.base_values + values.reshape(-1, values.shape[-1]).sum(0)))
            heat = values[..., output]
            image = self.data[j]
            if image.ndim == 3:
                heat, image = heat.sum(-1), image.mean(-1)
            limit = float(np.abs(heat).max()) or 1.0
            axes[0, j].imshow(image, cmap="gray_r", alpha=0.6)
            axes[0, j].imshow(heat, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.6)
            axes[0, j].set_title(self.output_names[output], fontsize=7)
            axes[0, j].axis("off")
        fig.suptitle(f"SHAP ({self.method}): red raises, blue lowers the output", fontsize=8)
        fig.tight_layout()
        return fig

    def __repr__(self):
        top = ", ".join(name for name, _ in self.top_features(3))
        return (f"Explanation(method={self.method!r}, examples={len(self.values)}, "
                f"outputs={self.values.shape[-1]}, top=[{top}])")
