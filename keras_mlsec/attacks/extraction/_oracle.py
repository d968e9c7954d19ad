"""The victim as the attacker sees it: a counted, checked query interface."""

import numpy as np

from keras_mlsec._core import validation as v

OUTPUTS = ("probabilities", "labels")


def check_victim(victim):
    """Checks that `victim` can be called; returns it."""
    if not callable(victim):
        raise TypeError(
            "Expected `victim` to be a keras.Model or a callable mapping an input batch to "
            f"scores or labels. Received: victim={v._short(victim)} of type "
            f"{type(victim).__name__}.")
    return victim


def victim_predictor(victim):
    """`x -> NumPy outputs` for a Keras model (one compiled call) or any callable."""
    import keras

    if isinstance(victim, keras.Model):
        import tensorflow as tf

        call = tf.function(lambda xb: victim(xb, training=False), reduce_retracing=True)
        return lambda x: np.asarray(call(tf.constant(x, tf.float32)))
    return lambda x: np.asarray(victim(x))


def to_probabilities(scores):
    """Rows of class probabilities from probabilities, logits or one sigmoid column."""
    scores = scores.astype(np.float64)
    if scores.shape[1] == 1:
        p = scores[:, 0]
        if p.min() < 0 or p.max() > 1:  # one logit
            p = 1.0 / (1.0 + np.exp(-p))
        return np.stack([1.0 - p, p], axis=1)
    sums = scores.sum(1)
    if scores.min() >= 0 and np.allclose(sums, 1.0, atol=1e-3):
        return scores / sums[:, None]
    shifted = np.exp(scores - scores.max(1, keepdims=True))  # logits
    return shifted / shifted.sum(1, keepdims=True)


class QueryOracle:
    """Wraps the victim: counts every queried example and never exceeds the budget.

    Every answer is checked (finite, one row per query, a width that does not
    change between calls) and turned into what the attacker is allowed to see:
    probability rows for `output="probabilities"`, arg-max labels for
    `output="labels"`.
    """

    def __init__(self, victim, *, query_budget, output, num_classes=None, batch_size=256):
        self.victim = check_victim(victim)
        self.query_budget = v.check_positive_int(query_budget, "query_budget")
        self.output = v.check_choice(output, OUTPUTS, "output")
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.queries_used = 0
        self._predict = victim_predictor(victim)
        self._width = None

    @property
    def remaining(self):
        return self.query_budget - self.queries_used

    def query(self, x):
        """Answers for the batch `x`; raises before querying when it would exceed the budget."""
        x = np.asarray(x, np.float32)
        if len(x) > self.remaining:
            raise ValueError(
                f"Expected at most {self.remaining} more queries within "
                f"query_budget={self.query_budget}. Received: a batch of {len(x)}.")
        parts = []
        for start in range(0, len(x), self.batch_size):
            batch = x[start:start + self.batch_size]
            self.queries_used += len(batch)  # counted even when the answer is bad
            parts.append(self._check(self._predict(batch), len(batch)))
        return np.concatenate(parts, 0)

    def _check(self, answer, rows):
        if answer.ndim == 0 or answer.shape[0] != rows:
            raise ValueError(
                f"Expected `victim` to return one row per queried example ({rows}). "
                f"Received: an answer of shape {answer.shape}.")
        if answer.ndim == 2 and answer.shape[1] == 1 and np.issubdtype(answer.dtype, np.integer):
            answer = answer[:, 0]
        width = answer.shape[1:]
        if self._width is not None and width != self._width:
            raise ValueError(
                f"Expected `victim` to return answers of the same shape on every call "
                f"(per example {self._width}). Received: per-example shape {width}.")
        self._width = width
        if answer.ndim > 2:
            raise ValueError(
                "Expected `victim` to return (batch, classes) scores or (batch,) labels. "
                f"Received: an answer of shape {answer.shape}.")
        if not np.all(np.isfinite(answer)):
            raise ValueError(
                "Expected `victim` to return finite values. Received: an answer with "
                f"{int(np.sum(~np.isfinite(answer)))} NaN or infinite entries.")
        if answer.ndim == 1:
            return self._labels_answer(answer)
        probs = to_probabilities(answer)
        self._set_classes(probs.shape[1])
        if self.output == "labels":
            return np.argmax(probs, 1).astype(np.int32)
        return probs.astype(np.float32)

    def _labels_answer(self, answer):
        if not np.all(answer == np.round(answer)) or answer.min() < 0:
            raise ValueError(
                "Expected `victim` to return scores (batch, classes) or integer labels "
                f"(batch,). Received: a 1-D answer with non-integer values {answer[:3]}.")
        if self.output == "probabilities":
            raise ValueError(
                "Expected `victim` to return class scores for output='probabilities'. "
                "Received: integer labels of shape (batch,). Pass output='labels'.")
        if self.num_classes is None:
            raise ValueError(
                "Expected `num_classes` for a victim answering with labels only. "
                "Received: num_classes=None.")
        if answer.max() >= self.num_classes:
            raise ValueError(
                f"Expected `victim` labels in [0, {self.num_classes - 1}] "
                f"(num_classes={self.num_classes}). Received: label {int(answer.max())}.")
        return answer.astype(np.int32)

    def _set_classes(self, width):
        if self.num_classes is None:
            self.num_classes = int(width)
        elif width != self.num_classes:
            raise ValueError(
                f"Expected `victim` to score num_classes={self.num_classes} classes. "
                f"Received: {width} scores per example.")
