"""`FairPostprocessor`: equalized-odds post-processing of a trained model's decisions (aif360)."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.responsible import _groups as g
from keras_mlsec.responsible.fairness import _aif360

METHODS = ("equalized_odds", "calibrated_equalized_odds")
COST_CONSTRAINTS = ("fpr", "fnr", "weighted")


class FairPostprocessor:
    """Changes a trained model's decisions per group to equalize error rates.

    The model is not retrained: on held-out data with labels, aif360 learns
    per-group probabilities of flipping (or, for the calibrated variant,
    of replacing with the base rate) the model's decisions, so that the
    groups' true- and false-positive rates match (Hardt et al. 2016;
    Pleiss et al. 2017). Decisions are randomized with the fixed `seed`.

    Args:
        model: the binary classifier (see `fairness_report` for the outputs
            accepted).
        method: "equalized_odds" (aif360 `EqOddsPostprocessing`) or
            "calibrated_equalized_odds" (`CalibratedEqOddsPostprocessing`).
        cost_constraint: for the calibrated variant, the error rate to
            equalize: "fpr", "fnr" or "weighted".
        threshold: probability at or above which the model's decision is favourable.
        seed: seed of the randomized decisions.

    Attributes:
        fitted_: True once `fit` has run.

    Raises:
        ValueError: for an unknown `method` or `cost_constraint` or a bad `threshold`.

    Example:
        >>> post = FairPostprocessor(model).fit(x_val, y_val, protected=0)
        >>> decisions = post.predict(x_test)
        >>> fairness_report(post, x_test, y_test, protected=0)

    Reference:
        Hardt, Price and Srebro, "Equality of Opportunity in Supervised
        Learning", NeurIPS 2016. Pleiss et al., "On Fairness and
        Calibration", NeurIPS 2017.
    """

    def __init__(self, model, *, method="equalized_odds", cost_constraint="weighted",
                 threshold=0.5, seed=0):
        self.model = model
        self.method = v.check_choice(method, METHODS, "method")
        self.cost_constraint = v.check_choice(cost_constraint, COST_CONSTRAINTS,
                                              "cost_constraint")
        self.threshold = g.check_threshold(threshold)
        self.seed = v.check_seed(seed)
        self.fitted_ = False
        self._protected, self._privileged, self._algorithm = None, 1, None

    def _dataset(self, x, groups, labels=None):
        scores = g.positive_scores(self.model, x)
        decisions = (scores >= self.threshold).astype(np.float64)
        truth = g.binary_dataset(groups, decisions if labels is None else labels)
        return truth, g.with_predictions(truth, decisions, scores)

    def fit(self, x, y, *, protected, privileged=1):
        """Learns the per-group decision changes on labelled held-out data; returns self.

        Raises:
            ValueError: for a protected attribute that is not binary, a
                missing privileged group or labels that are not 0/1.
        """
        labels = g.binary_labels(y, len(np.asarray(y)), name="y")
        groups = g.privileged_mask(x, protected, privileged=privileged,
                                   num_examples=len(labels))
        module = _aif360("algorithms.postprocessing")
        common = {"unprivileged_groups": g.UNPRIVILEGED_GROUPS,
                  "privileged_groups": g.PRIVILEGED_GROUPS, "seed": self.seed}
        if self.method == "equalized_odds":
            algorithm = module.EqOddsPostprocessing(**common)
        else:
            algorithm = module.CalibratedEqOddsPostprocessing(
                cost_constraint=self.cost_constraint, **common)
        truth, predicted = self._dataset(x, groups, labels)
        self._algorithm = algorithm.fit(truth, predicted)
        self._protected, self._privileged, self.fitted_ = protected, privileged, True
        return self

    def _groups(self, x, protected, groups):
        if not self.fitted_:
            raise ValueError("Expected a fitted FairPostprocessor. Received: an unfitted one; "
                             "call fit(x_val, y_val, protected=...) first.")
        if groups is not None:
            return np.asarray(groups, np.float64)
        protected = self._protected if protected is None else protected
        if not isinstance(protected, (int, np.integer)) and protected is self._protected:
            raise ValueError("Expected `protected` (the group of each example of x): fit was "
                             "given an array, not a column index. Received: protected=None")
        return g.privileged_mask(x, protected, privileged=self._privileged,
                                 num_examples=len(np.asarray(x)))

    def _transformed(self, x, protected, groups):
        _, predicted = self._dataset(x, self._groups(x, protected, groups))
        return self._algorithm.predict(predicted)

    def predict(self, x, *, protected=None, groups=None):
        """Post-processed 0/1 decisions for `x`.

        Args:
            x: inputs of the model.
            protected: the groups of `x` when `fit` was given an array (a
                column index given to `fit` is reused).
            groups: internal fast path: 1.0/0.0 privileged mask.
        """
        return self._transformed(x, protected, groups).labels.ravel().astype(np.float64)

    def predict_scores(self, x, *, protected=None, groups=None):
        """Post-processed probabilities of the favourable class (calibrated variant), or
        the decisions themselves (equalized odds)."""
        return self._transformed(x, protected, groups).scores.ravel().astype(np.float64)
