"""PoisoningMonitor: runs a poison detector on the training data during `fit`."""

import keras
import numpy as np

from keras_mlsec._core import models
from keras_mlsec._core import validation as v
from keras_mlsec.defenses.detection.detect_poison import METHODS, detect_poison
from keras_mlsec.integrity.audit_log import check_audit_log, log_event

LOG_KEY = "suspected_poison_fraction"


class PoisoningMonitor(keras.callbacks.Callback):
    """Watches the training set for poison while the model learns it.

    At the end of every `every`-th epoch, `keras_mlsec.defenses.detect_poison`
    (Spectral Signatures or Activation Clustering on the penultimate layer,
    or `layer`) analyses `(x, y)` with the model as trained so far; the
    share of suspected examples goes into the epoch logs as
    `suspected_poison_fraction` (History, TensorBoard, CSVLogger and later
    callbacks see it; list this callback before them) and the suspects into
    `suspected_indices`. Skipped epochs log nothing. For a wrapper being
    trained (`DPModel`, `AdversarialModel`) the inner model is analysed.

    Args:
        x: the training inputs (or a sample of them).
        y: their labels as trained on.
        method: "spectral" (default) or "activation_clustering".
        every: analyse every `every` epochs.
        layer: layer name to analyse (None: the penultimate representation).
        verbose: 1 prints one line per check.
        audit_log: optional `keras_mlsec.integrity.AuditLog`; each check that
            finds suspects appends a `poisoning_suspects` event.
        **detector_kwargs: further `detect_poison` settings (`verify`, `k`, ...).

    Attributes:
        suspected_indices: indices into `x` flagged by the latest check.
        history: list of `(epoch, PoisonReport)`.

    Raises:
        ValueError: for an unknown `method`, a bad `every`, or malformed `x`/`y`.

    Example:
        >>> monitor = PoisoningMonitor(data.x, data.y, every=2)
        >>> model.fit(data.x, data.y, epochs=10, callbacks=[monitor])
        >>> history.history["suspected_poison_fraction"], monitor.suspected_indices

    Reference:
        Tran, Li and Madry, "Spectral Signatures in Backdoor Attacks", NeurIPS
        2018. Chen et al., "Detecting Backdoor Attacks on Deep Neural Networks
        by Activation Clustering", 2018.
    """

    def __init__(self, x, y, *, method="spectral", every=1, layer=None, verbose=0,
                 audit_log=None, **detector_kwargs):
        super().__init__()
        self.method = v.check_choice(method, METHODS, "method")
        self.every = v.check_positive_int(every, "every")
        self.layer = layer
        self.verbose = verbose
        self.audit_log = check_audit_log(audit_log)
        self.detector_kwargs = dict(detector_kwargs)
        self._x, self._y = v.check_pair((x, y), "(x, y)")
        self.suspected_indices = np.zeros(0, np.int64)
        self.history = []

    def on_train_begin(self, logs=None):
        self.history = []
        self.suspected_indices = np.zeros(0, np.int64)

    def check(self, model=None):
        """Runs the detector now on `model` (default: the model in training); a `PoisonReport`."""
        model = models.inner_model(model if model is not None else self.model)
        return detect_poison(model, self._x, self._y, method=self.method, layer=self.layer,
                             **self.detector_kwargs)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        report = self.check()
        self.history.append((epoch, report))
        self.suspected_indices = report.suspected_indices
        if logs is not None:
            logs[LOG_KEY] = report.suspected_fraction
        if len(report.suspected_indices):
            log_event(self.audit_log, "poisoning_suspects", {
                "epoch": int(epoch), "method": self.method,
                "suspected_fraction": float(report.suspected_fraction),
                "flagged_classes": [int(c) for c in report.flagged_classes],
                "suspected_indices": [int(i) for i in report.suspected_indices[:1000]]})
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: {LOG_KEY}={report.suspected_fraction:.4f} "
                  f"(flagged classes {report.flagged_classes})")

    def get_config(self):
        return {"method": self.method, "every": self.every, "layer": self.layer,
                "verbose": self.verbose, **self.detector_kwargs}
