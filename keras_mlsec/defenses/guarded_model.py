"""`GuardedModel`: the callable a prediction service puts in front of its model."""

import collections
import logging
import threading

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.defenses.detection.query_monitor import QueryMonitor
from keras_mlsec.defenses.extraction_alert import ExtractionAlert
from keras_mlsec.integrity.audit_log import check_audit_log, log_event

logger = logging.getLogger("keras_mlsec.defenses")


class GuardedModel:
    """Serves a model per client, with query budgets and extraction monitoring.

    Each call names its client. The guard reserves the batch against the
    client's `query_budget` before predicting (a batch that would exceed it
    is refused whole, and nothing is answered), predicts, then feeds the
    queries and predicted classes to `monitor`. When the monitor flags the
    client, `on_alert="raise"` withholds the answer and raises
    `ExtractionAlert` on this and every later call of that client;
    `on_alert="log"` logs a warning once per client, keeps the alert in
    `alerts` and answers. Calls from several threads are safe: budgets are
    reserved under a lock and the monitor locks its own state.

    Args:
        model: a `keras.Model` (called through one compiled function, no
            `predict` overhead per call) or any callable `x -> outputs`.
        monitor: a `QueryMonitor`, or None for budgets only.
        query_budget: examples each client may query in total, or None.
        on_alert: "raise" or "log".
        audit_log: optional `keras_mlsec.integrity.AuditLog`; every refused
            batch (budget) and the first monitor alert of each client are
            appended as `extraction_alert` events.

    Raises:
        TypeError: when `model` is not callable or `monitor` not a `QueryMonitor`.
        ValueError: for a bad `query_budget` or `on_alert`.

    Example:
        >>> guard = GuardedModel(model, monitor=QueryMonitor(), query_budget=10_000)
        >>> probs = guard(x_batch, client_id=request.api_key)

    Reference:
        Juuti et al., "PRADA: Protecting Against DNN Model Stealing Attacks",
        IEEE EuroS&P 2019.
    """

    def __init__(self, model, *, monitor=None, query_budget=None, on_alert="raise",
                 audit_log=None):
        if not callable(model):
            raise TypeError(f"Expected `model` to be a keras.Model or a callable. Received: "
                            f"model={v._short(model)} of type {type(model).__name__}.")
        if monitor is not None and not isinstance(monitor, QueryMonitor):
            raise TypeError(f"Expected `monitor` to be a QueryMonitor or None. Received: "
                            f"monitor of type {type(monitor).__name__}.")
        self.model = model
        self.monitor = monitor
        self.query_budget = (None if query_budget is None
                             else v.check_positive_int(query_budget, "query_budget"))
        self.on_alert = v.check_choice(on_alert, ("raise", "log"), "on_alert")
        self.audit_log = check_audit_log(audit_log)
        self.alerts = collections.deque(maxlen=1000)
        self._used = collections.Counter()
        self._logged = set()
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._predict = _predictor(model)

    def __call__(self, x, *, client_id):
        """The model's outputs for `x`, on behalf of `client_id`.

        Raises:
            ExtractionAlert: the budget would be exceeded, or the client is
                flagged and `on_alert="raise"`.
        """
        x = v.check_inputs(x)
        with self._lock:
            used = self._used[client_id]
            if self.query_budget is not None and used + len(x) > self.query_budget:
                alert = ExtractionAlert(
                    f"Client {client_id!r} asked for {len(x)} predictions with "
                    f"{self.query_budget - used} of its query_budget={self.query_budget} "
                    "left; refused.", client_id=client_id, reason="query_budget",
                    queries=used)
                self._log(alert)
                raise alert
            if (self.on_alert == "raise" and self.monitor is not None
                    and self.monitor.flagged(client_id)):
                raise self._alert(client_id, used)
            self._used[client_id] = used + len(x)
        outputs = self._predict(x)
        if self.monitor is not None and self.monitor.observe(x, outputs, client_id=client_id):
            alert = self._alert(client_id, used)
            with self._lock:
                first = client_id not in self._logged
                self._logged.add(client_id)
                if first and self.on_alert == "log":
                    self.alerts.append(alert)
            if first:
                self._log(alert)
            if self.on_alert == "raise":
                raise alert
            if first:
                logger.warning("%s", alert)
        return outputs

    predict = __call__

    def queries_used(self, client_id):
        """Examples answered (or reserved) for `client_id` so far."""
        with self._lock:
            return self._used[client_id]

    def _log(self, alert):
        with self._log_lock:  # one writer at a time (called with or without self._lock held)
            log_event(self.audit_log, "extraction_alert", {
                "client_id": str(alert.client_id), "reason": alert.reason,
                "queries": int(alert.queries), "message": str(alert)[:1000]})

    def _alert(self, client_id, used):
        statistic = self.monitor.statistic(client_id)
        return ExtractionAlert(
            f"Client {client_id!r} flagged as extracting the model by the query monitor "
            f"(Shapiro-Wilk W={statistic:.3f} < delta={self.monitor.delta}) after "
            f"{self.monitor.alert_at(client_id)} queries.", client_id=client_id,
            reason="monitor", queries=used, statistic=statistic)


def _predictor(model):
    import keras

    if not isinstance(model, keras.Model):
        return lambda x: np.asarray(model(x))
    import tensorflow as tf

    call = tf.function(lambda xb: model(xb, training=False), reduce_retracing=True)
    return lambda x: call(tf.constant(x)).numpy()
