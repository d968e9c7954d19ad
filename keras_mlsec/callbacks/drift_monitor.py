"""DriftMonitor: drift checks during `fit` and on a sliding window of traffic."""

import warnings

import keras
import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.callbacks import _drift_features as _features
from keras_mlsec.integrity.audit_log import check_audit_log, log_event
from keras_mlsec.monitoring import drift as _drift


class DriftMonitor(keras.callbacks.Callback):
    """Tests data against a reference distribution, each epoch and in production.

    What is compared (`on`):
    - "predictions": the model's outputs. `reduce="columns"` (default) tests
      each output column (class probability or logit) and corrects across
      them; "max_probability" tests the top softmax probability (logits get a
      softmax first), the classic confidence-drift check; "class" tests the
      predicted class with chi2 (the default when `test="chi2"`).
    - "inputs": the raw features (flattened to `(n, features)`).
    - "layer:<name>": the flattened output of that layer, through a sub-model
      sharing the model's weights (MMD suits these many-unit embeddings).

    During `fit`, after every epoch, the reference and `data` are passed
    through the current model (outputs change as it trains; "inputs" are
    computed once) and the test's overall p-value, largest statistic and
    verdict go into the epoch logs as `drift_p_value` (NaN for PSI),
    `drift_statistic` and `drift_detected` (1.0 or 0.0), where `History`
    and later callbacks see them (list a `TensorBoard` callback after this
    one). Keras does not hand callbacks the validation data: pass `data=x_val`.
    Without `data` the monitor tries to read the validation data given to
    `fit`, and warns and skips the check when it cannot.

    Outside training, `update(batch)` appends examples to a sliding window of
    the last `window_size`; once the window is full it is tested every
    `check_every` new examples and `on_drift(report)` is called on drift.

    Cost: one forward pass over at most `max_samples` reference and
    `max_samples` data examples per epoch plus the test (see
    benchmarks/bench_drift.py for the measured epoch-time overhead).

    Args:
        reference: reference inputs `(n, ...)`, e.g. (a sample of) `x_train`.
            To watch production traffic on "predictions" or a layer, give
            held-out data the model was not trained on: a model is more
            confident on its own training data than on any new data, and
            the test reads that gap as drift.
        data: inputs checked after every epoch, e.g. `x_val`.
        on: "predictions", "inputs" or "layer:<name>".
        test: "ks", "psi", "chi2" or "mmd" (see `detect_drift`).
        alpha: significance level.
        correction: "bonferroni", "fdr" or "none" across features.
        reduce: for `on="predictions"`: "columns", "max_probability" or
            "class"; None picks "class" for chi2, else "columns".
        model: model used by `update` outside `fit` (also settable with
            `set_model`); `fit` sets the model it trains.
        window_size: examples in the production window.
        check_every: new examples between two window tests (default
            `window_size`).
        on_drift: callable receiving the `DriftReport` when drift is detected,
            in `update` and at epoch ends.
        max_samples: cap on reference and data examples (a seeded random
            subset is drawn once).
        batch_size: batch size of the forward passes.
        test_options: extra keyword arguments for `detect_drift` (e.g.
            `{"num_permutations": 200}` or `{"psi_threshold": 0.1}`).
        seed: seed of the subsampling.
        verbose: 1 prints one line per check.
        audit_log: optional `keras_mlsec.integrity.AuditLog` receiving a
            `drift_alert` record per detected drift. Not serialized.

    Raises:
        ValueError: for empty `reference`/`data`, mismatched shapes, or bad
            `on`, `test`, `correction`, `alpha`, `reduce`, sizes.
        TypeError: when `on_drift` is not callable.

    Example:
        >>> monitor = DriftMonitor(x_train, data=x_val, on="predictions")
        >>> model.fit(x_train, y_train, epochs=5, callbacks=[monitor])
        >>> monitor = DriftMonitor(x_val, model=model, window_size=500,
        ...                        on_drift=lambda report: print(report))
        >>> for batch in traffic:
        ...     monitor.update(batch)
    """

    def __init__(self, reference, *, data=None, on="predictions", test="ks", alpha=0.05,
                 correction="bonferroni", reduce=None, model=None, window_size=1000,
                 check_every=None, on_drift=None, max_samples=1000, batch_size=512,
                 test_options=None, seed=0, verbose=0, audit_log=None):
        super().__init__()
        self.audit_log = check_audit_log(audit_log)
        if not isinstance(on, str) or not (on in ("predictions", "inputs") or (
                on.startswith("layer:") and len(on) > len("layer:"))):
            raise ValueError(
                f'Expected `on` to be "predictions", "inputs" or "layer:<layer name>". '
                f"Received: on={on!r}")
        self.on = on
        self.test = _drift.check_test(test)
        self.alpha = _drift.check_alpha(alpha)
        self.correction = _drift.check_correction(correction)
        if reduce is not None and (on != "predictions" or reduce not in _features.REDUCTIONS):
            raise ValueError(
                'Expected `reduce` to be None, "columns", "max_probability" or "class", and only '
                f'with on="predictions". Received: reduce={reduce!r} with on={on!r}')
        self.reduce = reduce
        self.window_size = v.check_positive_int(window_size, "window_size")
        self.check_every = (None if check_every is None
                            else v.check_positive_int(check_every, "check_every"))
        if on_drift is not None and not callable(on_drift):
            raise TypeError(
                f"Expected `on_drift` to be a callable or None. Received: on_drift={on_drift!r}")
        self.on_drift = on_drift
        self.max_samples = (None if max_samples is None
                            else v.check_positive_int(max_samples, "max_samples"))
        self.batch_size = v.check_positive_int(batch_size, "batch_size")
        self.test_options = dict(test_options or {})
        self.seed = seed
        self.verbose = verbose
        self.reference = self._sample(reference, "reference")
        self.data = None if data is None else self._sample(data, "data")
        if self.data is not None:
            self._check_shape(self.data, "data")
        self.last_report = None
        self._reference_features = None
        self._feature_model = None
        self._window = None
        self._since_check = 0
        self._validation_cache = None
        self._warned = False
        if model is not None:
            self.set_model(model)

    def _sample(self, x, name):
        array = np.asarray(x)
        if array.ndim == 0 or array.shape[0] == 0:
            raise ValueError(
                f"Expected `{name}` to hold at least one example. Received: {name} with shape "
                f"{array.shape}")
        if self.max_samples is not None and len(array) > self.max_samples:
            rng = np.random.default_rng(self.seed)
            array = array[np.sort(rng.choice(len(array), self.max_samples, replace=False))]
        return array

    def _check_shape(self, x, name):
        if x.shape[1:] != self.reference.shape[1:]:
            raise ValueError(
                f"Expected `{name}` examples of shape {self.reference.shape[1:]} like `reference`. "
                f"Received: {name} with shape {x.shape} (mismatched feature count).")

    @property
    def _reduction(self):
        return self.reduce or ("class" if self.test == "chi2" else "columns")

    def set_model(self, model):
        if model is not getattr(self, "_model", None):
            self._feature_model = None
            self._reference_features = None
        super().set_model(model)

    def features(self, x):
        """The compared features of inputs `x`: `(n, features)` plus their names."""
        x = np.asarray(x)
        if self.on == "inputs":
            flat = x.reshape(len(x), -1)
            return flat, [f"input_{j}" for j in range(flat.shape[1])]
        return _features.model_features(self._get_feature_model(), x, on=self.on,
                                        reduction=self._reduction, batch_size=self.batch_size)

    def _get_feature_model(self):
        model = self.model
        if model is None:
            raise ValueError(
                f"Expected a model for on={self.on!r}: pass `model=` to DriftMonitor or call "
                "`monitor.set_model(model)` before `update`. Received: model=None")
        if self.on == "predictions":
            return model
        if self._feature_model is None:
            self._feature_model = _features.layer_model(model, self.on)
        return self._feature_model

    def _reference_table(self):
        if self._reference_features is None:
            self._reference_features = self.features(self.reference)
        return self._reference_features

    def _run(self, current, where):
        reference, names = self._reference_table()
        report = _drift.detect_drift(
            reference, current, test=self.test, alpha=self.alpha, correction=self.correction,
            feature_names=names, **self.test_options)
        self.last_report = report
        if self.verbose:
            p = "n/a" if report.p_value is None else f"{report.p_value:.4g}"
            print(f"DriftMonitor {where}: {report.test} p-value {p}, statistic "
                  f"{report.statistic:.4g}, drift "
                  f"{'DETECTED' if report.drift_detected else 'not detected'}")
        if report.drift_detected:
            log_event(self.audit_log, "drift_alert", {
                "where": where, "on": self.on, "test": report.test,
                "p_value": report.p_value, "statistic": float(report.statistic),
                "drifted_features": report.drifted_features[:20],
                "num_drifted": len(report.drifted_features)})
        if report.drift_detected and self.on_drift is not None:
            self.on_drift(report)
        return report

    def on_train_begin(self, logs=None):
        if self.on != "inputs":
            self._reference_features = None
        self._validation_cache = None

    def on_epoch_end(self, epoch, logs=None):
        x = self.data if self.data is not None else self._validation_data()
        if x is None:
            return
        if self.on != "inputs":
            self._reference_features = None  # The model changed during the epoch.
        report = self._run(self.features(x)[0], f"epoch {epoch + 1}")
        if logs is not None:
            logs["drift_p_value"] = (float("nan") if report.p_value is None
                                     else float(report.p_value))
            logs["drift_statistic"] = float(report.statistic)
            logs["drift_detected"] = float(report.drift_detected)

    def _validation_data(self):
        if self._validation_cache is None:
            try:
                inputs = _features.validation_inputs(self.model, self.max_samples)
                self._validation_cache = self._sample(inputs, "data")
                self._check_shape(self._validation_cache, "validation data")
            except Exception:  # noqa: BLE001 - best effort; any failure means "not available".
                if not self._warned:
                    warnings.warn("DriftMonitor has no `data` and could not read the validation "
                                  "data of `fit`; pass DriftMonitor(..., data=x_val). Skipping "
                                  "the per-epoch drift check.", stacklevel=2)
                    self._warned = True
                return None
        return self._validation_cache

    def update(self, batch):
        """Adds production examples to the sliding window and tests it when due.

        Args:
            batch: inputs `(n, ...)` shaped like `reference`.

        Returns:
            The `DriftReport` when a test ran on this call, else None.

        Raises:
            ValueError: for an empty or wrongly shaped `batch`, or when a model
                is needed and none is set.
        """
        batch = np.asarray(batch)
        if batch.ndim == 0 or batch.shape[0] == 0:
            raise ValueError(
                f"Expected `batch` to hold at least one example. Received: shape {batch.shape}")
        self._check_shape(batch, "batch")
        new = self.features(batch)[0]
        window = new if self._window is None else np.concatenate([self._window, new])
        self._window = window[-self.window_size:]
        self._since_check += len(batch)
        if len(self._window) < self.window_size or \
                self._since_check < (self.check_every or self.window_size):
            return None
        self._since_check = 0
        return self._run(self._window, "update")

    def reset(self):
        """Empties the production window."""
        self._window, self._since_check = None, 0
