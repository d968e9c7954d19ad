"""FairnessMonitor: group-fairness metrics of the model on validation data at epoch ends."""

import keras

from keras_mlsec._core import validation as v
from keras_mlsec.responsible.fairness import dataset_bias, fairness_report

LOGGED = ("disparate_impact", "statistical_parity_difference", "equal_opportunity_difference")


class FairnessMonitor(keras.callbacks.Callback):
    """Logs how fair the model's decisions are on validation data during `fit`.

    Every `every` epochs, `keras_mlsec.responsible.fairness_report` runs on
    `(x_val, y_val)` and the epoch logs receive `val_disparate_impact`,
    `val_statistical_parity_difference` and
    `val_equal_opportunity_difference` (History, TensorBoard, EarlyStopping
    and later callbacks see them; list this callback before them). The
    latest `FairnessReport` is kept in `report`, every check in `history`.
    Like the other callbacks holding data arrays, it is not registered for
    serialization (callbacks are not saved inside .keras files).

    Args:
        x_val: validation inputs.
        y_val: binary validation labels (1 = favourable).
        protected: column index of `x_val` or an array of group labels.
        privileged: value of the protected attribute marking the privileged group.
        threshold: probability at or above which a decision is favourable.
        every: check every `every` epochs.
        verbose: 1 prints one line per check.

    Raises:
        ValueError: for a protected attribute that is not binary, a missing
            privileged group, labels that are not 0/1, or a bad `every`.

    Example:
        >>> monitor = FairnessMonitor(x_val, y_val, protected=0)
        >>> model.fit(x, y, epochs=10, callbacks=[monitor])
        >>> model.history.history["val_disparate_impact"]
    """

    def __init__(self, x_val, y_val, *, protected, privileged=1, threshold=0.5, every=1,
                 verbose=0):
        super().__init__()
        self.x_val = v.check_inputs(x_val, name="x_val")
        self.y_val = v.check_labels(y_val, len(self.x_val), name="y_val")
        # Checks the groups and binary labels now, where they enter, not at the first epoch.
        dataset_bias(self.x_val, self.y_val, protected=protected, privileged=privileged)
        self.protected = protected
        self.privileged = privileged
        self.threshold = v.check_non_negative(threshold, "threshold")
        if self.threshold > 1:
            raise ValueError("Expected `threshold` in [0, 1] (a probability of the favourable "
                             f"class). Received: threshold={threshold}")
        self.every = v.check_positive_int(every, "every")
        self.verbose = verbose
        self.report, self.history = None, []

    def on_train_begin(self, logs=None):
        self.report, self.history = None, []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        self.report = fairness_report(self.model, self.x_val, self.y_val,
                                      protected=self.protected, privileged=self.privileged,
                                      threshold=self.threshold)
        values = {f"val_{name}": float(self.report.metrics[name]) for name in LOGGED}
        self.history.append((epoch, values))
        if logs is not None:
            logs.update(values)
        if self.verbose:
            shown = ", ".join(f"{k}={val:.4f}" for k, val in values.items())
            print(f"\nEpoch {epoch + 1}: {shown}")
