"""Bias in data and in a model's decisions, measured with aif360 0.6.1.

`dataset_bias(x, y, protected=...)` measures the labels; `fairness_report(
model, x, y, protected=...)` the model's predictions against the labels, as
a `FairnessReport`. `reweighing` returns `sample_weight`s for `fit` that
remove the labels' dependence on the group (a pre-processing mitigation).
"""

import warnings

import numpy as np

from keras_mlsec.responsible import _groups as g
from keras_mlsec.responsible.fairness_report import DEFAULT_BOUNDS, FairnessReport


def _aif360(module):
    """Imports an aif360 submodule without its warnings about optional packages."""
    import importlib
    import logging

    previous = logging.root.level
    logging.root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(f"aif360.{module}")
    finally:
        logging.root.setLevel(previous)


def protected_groups(x, protected, *, privileged=1):
    """Checks a protected attribute and returns its groups: 1.0 privileged, 0.0 unprivileged.

    Args:
        x: features (only read when `protected` is a column index).
        protected: column index of `x`, or an array with one group label per example.
        privileged: the value marking the privileged group.

    Returns:
        A float64 array with one entry per example.

    Raises:
        ValueError: when the attribute is not binary (exactly two values), `privileged`
            is not one of its values, or the column index / array length is wrong.
        TypeError: when `protected` is neither an int nor an array.

    Example:
        >>> protected_groups(x, 0)  # column 0 of x, value 1 privileged
    """
    return g.privileged_mask(x, protected, privileged=privileged)


def dataset_bias(x, y, *, protected, privileged=1):
    """Measures the bias of the labels themselves (before any model).

    Args:
        x: features `(examples, features)`; only read when `protected` is a
            column index.
        y: binary labels (1 = favourable outcome), `(n,)` or one-hot `(n, 2)`.
        protected: column index of `x` holding the protected attribute, or an
            array of group labels (one per example). Exactly two groups.
        privileged: the value of the protected attribute marking the
            privileged group.

    Returns:
        A dict: `disparate_impact` (favourable rate of the unprivileged group
        over the privileged one; 1 is parity, < 0.8 fails the four-fifths
        rule), `statistical_parity_difference` (difference of those rates; 0
        is parity), `base_rate_privileged`, `base_rate_unprivileged`,
        `num_privileged`, `num_unprivileged`, all from aif360's
        `BinaryLabelDatasetMetric`.

    Raises:
        ValueError: for a protected attribute that is not binary, a
            `privileged` value it does not take, or labels that are not 0/1.

    Example:
        >>> (x, y), _ = keras_mlsec.datasets.load_credit(bias=0.4)
        >>> dataset_bias(x, y, protected=0)["disparate_impact"]
    """
    labels = g.binary_labels(y, len(np.asarray(y)), name="y")
    groups = g.privileged_mask(x, protected, privileged=privileged, num_examples=len(labels))
    metric = _aif360("metrics").BinaryLabelDatasetMetric(
        g.binary_dataset(groups, labels), unprivileged_groups=g.UNPRIVILEGED_GROUPS,
        privileged_groups=g.PRIVILEGED_GROUPS)
    return {"disparate_impact": float(metric.disparate_impact()),
            "statistical_parity_difference": float(metric.statistical_parity_difference()),
            "base_rate_privileged": float(metric.base_rate(privileged=True)),
            "base_rate_unprivileged": float(metric.base_rate(privileged=False)),
            "num_privileged": int(metric.num_instances(privileged=True)),
            "num_unprivileged": int(metric.num_instances(privileged=False))}


def fairness_report(model, x, y, *, protected, privileged=1, threshold=0.5, bounds=None,
                    batch_size=256):
    """Measures how fair a binary classifier's decisions are across two groups.

    The model's probability of the favourable class (1) is thresholded at
    `threshold`, and aif360's `ClassificationMetric` compares the decisions
    with the labels per group.

    Args:
        model: a binary classifier: a `keras.Model` with one output unit
            (sigmoid probability, or logit) or two (softmax or logits), a
            callable returning such scores, or a `FairPostprocessor`.
        x: inputs of the model.
        y: binary labels (1 = favourable), `(n,)` or one-hot `(n, 2)`.
        protected: column index of `x` or an array of group labels (two groups).
        privileged: value of the protected attribute marking the privileged group.
        threshold: probability at or above which the decision is favourable.
        bounds: optional overrides of `DEFAULT_BOUNDS` (`{metric: (low, high)}`)
            that `FairnessReport.passed` checks.
        batch_size: prediction batch size.

    Returns:
        A `FairnessReport` with `disparate_impact`, `statistical_parity_difference`,
        `equal_opportunity_difference`, `average_odds_difference`, `theil_index`
        and, per group, accuracy, TPR, FPR and selection rate.

    Raises:
        ValueError: for a protected attribute that is not binary, a missing
            privileged group, labels that are not 0/1, a bad `threshold` or
            a model that is not a binary classifier.
        TypeError: when `model` is neither a model nor a callable.

    Example:
        >>> report = fairness_report(model, x_test, y_test, protected=0)
        >>> report.passed, report.disparate_impact
        >>> report.plot("fairness.png")
    """
    threshold = g.check_threshold(threshold)
    labels = g.binary_labels(y, len(np.asarray(y)), name="y")
    groups = g.privileged_mask(x, protected, privileged=privileged, num_examples=len(labels))
    if hasattr(model, "predict_scores") and hasattr(model, "fitted_"):  # a FairPostprocessor
        scores = model.predict_scores(x, groups=groups)
        predicted = model.predict(x, groups=groups)
    else:
        scores = g.positive_scores(model, x, batch_size=batch_size)
        predicted = (scores >= threshold).astype(np.float64)
    truth = g.binary_dataset(groups, labels)
    metric = _aif360("metrics").ClassificationMetric(
        truth, g.with_predictions(truth, predicted, scores),
        unprivileged_groups=g.UNPRIVILEGED_GROUPS, privileged_groups=g.PRIVILEGED_GROUPS)
    metrics = {"disparate_impact": metric.disparate_impact(),
               "statistical_parity_difference": metric.statistical_parity_difference(),
               "equal_opportunity_difference": metric.equal_opportunity_difference(),
               "average_odds_difference": metric.average_odds_difference(),
               "theil_index": metric.theil_index(),
               "accuracy": metric.accuracy()}
    per_group = {}
    for name, flag in (("privileged", True), ("unprivileged", False)):
        measures = metric.performance_measures(privileged=flag)  # one confusion matrix
        per_group[name] = {"count": int(metric.num_instances(privileged=flag)),
                           "accuracy": float(measures["ACC"]),
                           "true_positive_rate": float(measures["TPR"]),
                           "false_positive_rate": float(measures["FPR"]),
                           "selection_rate": float(metric.selection_rate(privileged=flag))}
    return FairnessReport(metrics={k: float(val) for k, val in metrics.items()}, groups=per_group,
                          bounds={**DEFAULT_BOUNDS, **(bounds or {})},
                          config={"threshold": threshold, "privileged": _plain(privileged),
                                  "protected": _describe(protected), "num_examples": len(labels)})


def reweighing(x, y, *, protected, privileged=1):
    """Sample weights that make labels independent of the group (Kamiran and Calders 2012).

    Each (group, label) cell gets the weight `P(group) P(label) / P(group,
    label)`, computed by aif360's `Reweighing`; training with these weights
    (`model.fit(x, y, sample_weight=w)`) sees a data set where both groups
    have the same favourable rate.

    Args:
        x: features (only read when `protected` is a column index).
        y: binary labels (1 = favourable).
        protected: column index of `x` or an array of group labels.
        privileged: value of the protected attribute marking the privileged group.

    Returns:
        A float32 array of one weight per example (mean about 1).

    Raises:
        ValueError: for a protected attribute that is not binary, a missing
            privileged group or labels that are not 0/1.

    Example:
        >>> weights = reweighing(x_train, y_train, protected=0)
        >>> model.fit(x_train, y_train, sample_weight=weights, epochs=10)

    Reference:
        Kamiran and Calders, "Data preprocessing techniques for classification
        without discrimination", Knowledge and Information Systems, 2012.
    """
    labels = g.binary_labels(y, len(np.asarray(y)), name="y")
    groups = g.privileged_mask(x, protected, privileged=privileged, num_examples=len(labels))
    transformer = _aif360("algorithms.preprocessing").Reweighing(
        unprivileged_groups=g.UNPRIVILEGED_GROUPS, privileged_groups=g.PRIVILEGED_GROUPS)
    weighted = transformer.fit_transform(g.binary_dataset(groups, labels))
    return np.asarray(weighted.instance_weights, np.float32)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _describe(protected):
    if isinstance(protected, (int, np.integer)) and not isinstance(protected, bool):
        return {"column": int(protected)}
    return {"array": True}
