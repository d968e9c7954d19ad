"""`ExtractionResult`: the stolen substitute, the queries it cost and how faithful it is."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.extraction._oracle import victim_predictor
from keras_mlsec.attacks.extraction._predict import substitute_labels, victim_labels
from keras_mlsec.attacks.extraction.extraction_report import ExtractionReport


class ExtractionResult:
    """What `extract_model` (or `extract_linear`) returns.

    Attributes:
        substitute: the stolen copy: a `keras.Model`, or a fitted scikit-learn
            `RandomForestClassifier` for `substitute="random_forest"`.
        queries_used: examples sent to the victim (never above the budget).
        query_budget: the budget the attack was given.
        strategy: "random", "jacobian", "knockoff" or "linear".
        output: "probabilities" or "labels", what the victim revealed.
        queries: the inputs sent, in order.
        answers: what the attacker kept of each answer (probability rows or labels).
        history: `(queries used, snapshot)` after each training round.
        weights, bias: the recovered parameters (`extract_linear` only).
    """

    def __init__(self, *, substitute, victim, queries_used, query_budget, strategy, output,
                 queries, answers, history, num_classes, weights=None, bias=None):
        self.substitute = substitute
        self.victim = victim
        self.queries_used = int(queries_used)
        self.query_budget = int(query_budget)
        self.strategy = strategy
        self.output = output
        self.queries = queries
        self.answers = answers
        self.history = list(history)
        self.num_classes = int(num_classes)
        self.weights = weights
        self.bias = bias
        self._victim_predict = victim_predictor(victim)
        self._replica = None

    def agreement(self, x):
        """Fidelity: the share of `x` on which substitute and victim predict the same class.

        These evaluation calls to the victim are not attack queries and are
        not counted in `queries_used`.

        Args:
            x: inputs (a batch).

        Returns:
            A float in [0, 1].
        """
        x = v.check_inputs(x)
        stolen = substitute_labels(self.substitute, x)
        return float(np.mean(stolen == victim_labels(self._victim_predict, x)))

    def report(self, x_test, y_test=None):
        """Agreement, both accuracies and the agreement-versus-queries curve on a test set.

        Args:
            x_test: evaluation inputs.
            y_test: their true labels (sparse or one-hot); without them the
                accuracies are None.

        Returns:
            An `ExtractionReport`.
        """
        x_test = v.check_inputs(x_test, name="x_test")
        y = None if y_test is None else v.check_labels(y_test, len(x_test), name="y_test")
        victim = victim_labels(self._victim_predict, x_test)
        final = substitute_labels(self.substitute, x_test)
        curve = [(q, float(np.mean(self._snapshot_labels(snap, x_test) == victim)))
                 for q, snap in self.history[:-1]]
        curve.append((self.queries_used, float(np.mean(final == victim))))

        def accuracy(labels):
            return None if y is None else float(np.mean(labels == y))

        return ExtractionReport(
            agreement=curve[-1][1], substitute_accuracy=accuracy(final),
            victim_accuracy=accuracy(victim), curve_queries=[q for q, _ in curve],
            curve_agreement=[a for _, a in curve], strategy=self.strategy, output=self.output,
            queries_used=self.queries_used, query_budget=self.query_budget,
            num_examples=len(x_test))

    def _snapshot_labels(self, snapshot, x):
        import keras

        if not isinstance(self.substitute, keras.Model):
            return substitute_labels(snapshot, x)
        if self._replica is None:
            self._replica = keras.models.clone_model(self.substitute)
        self._replica.set_weights(snapshot)
        return substitute_labels(self._replica, x)

    def __repr__(self):
        return (f"ExtractionResult(strategy={self.strategy!r}, output={self.output!r}, "
                f"queries_used={self.queries_used}/{self.query_budget})")
