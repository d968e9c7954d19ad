"""What the fairness tools share: group and label checks, aif360 data sets, model scores.

A protected attribute is given as a column index of `x` or as a separate
array with one value per example; it must take exactly two values, one of
them `privileged`. Internally groups are coded 1.0 (privileged) and 0.0
(unprivileged), in an aif360 column named "protected".
"""

import numbers
import warnings

import numpy as np

from keras_mlsec._core import validation as v

PROTECTED, LABEL = "protected", "label"
PRIVILEGED_GROUPS, UNPRIVILEGED_GROUPS = [{PROTECTED: 1.0}], [{PROTECTED: 0.0}]


def group_values(x, protected, *, num_examples=None, name="protected"):
    """The raw protected values: column `protected` of `x`, or the array itself."""
    if isinstance(protected, numbers.Integral) and not isinstance(protected, bool):
        table = np.asarray(x)
        if table.ndim != 2:
            raise ValueError(
                f"Expected tabular `x` of shape (examples, features) when `{name}` is a column "
                f"index. Received: x with shape {table.shape}, {name}={protected}. Pass the "
                "groups as an array instead.")
        if not -table.shape[1] <= protected < table.shape[1]:
            raise ValueError(f"Expected `{name}` to be a column index in [0, {table.shape[1]}). "
                             f"Received: {name}={protected}")
        return table[:, protected]
    if protected is None or isinstance(protected, (str, bool)):
        raise TypeError(f"Expected `{name}` to be a column index (int) of x or an array of group "
                        f"labels, one per example. Received: {name}={protected!r}")
    values = np.asarray(protected)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    count = len(np.asarray(x)) if num_examples is None else num_examples
    if values.ndim != 1 or len(values) != count:
        raise ValueError(f"Expected `{name}` to hold one group label per example ({count}). "
                         f"Received: {name} with shape {values.shape}")
    return values


def privileged_mask(x, protected, *, privileged=1, num_examples=None, name="protected"):
    """Returns float64 groups: 1.0 privileged, 0.0 unprivileged.

    Raises:
        ValueError: when the attribute is not binary (exactly two values) or
            `privileged` is not one of its values.
    """
    values = group_values(x, protected, num_examples=num_examples, name=name)
    distinct = np.unique(values)
    if len(distinct) != 2:
        shown = distinct[:6].tolist()
        raise ValueError(
            f"Expected a binary protected attribute `{name}` (exactly two groups). Received: "
            f"{len(distinct)} distinct value(s) {shown}{'...' if len(distinct) > 6 else ''}. "
            "Binarize it first, e.g. (age >= 25).")
    if not np.any(values == privileged):
        raise ValueError(
            f"Expected `privileged` to be one of the values of `{name}` {distinct.tolist()}. "
            f"Received: privileged={privileged!r}")
    return (values == privileged).astype(np.float64)


def binary_labels(y, num_examples, name="y"):
    """Returns float64 0/1 labels from `(n,)`, `(n, 1)` or one-hot `(n, 2)` `y`.

    Raises:
        ValueError: when `y` has other values than 0 and 1 (or more classes).
    """
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] > 2:
        raise ValueError(f"Expected binary labels in `{name}` for the fairness metrics. "
                         f"Received: one-hot {name} with {array.shape[1]} classes")
    labels = v.check_labels(y, num_examples, name=name)
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError(f"Expected binary labels (0 = unfavourable, 1 = favourable) in `{name}`. "
                         f"Received: label values {np.unique(labels)[:6].tolist()}. Map them to "
                         "0/1 first (1 for the favourable outcome).")
    return labels.astype(np.float64)


def binary_dataset(groups, labels, scores=None):
    """An aif360 `BinaryLabelDataset` with columns "protected" and "label"."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from aif360.datasets import BinaryLabelDataset

    frame = pd.DataFrame({PROTECTED: groups, LABEL: labels})
    dataset = BinaryLabelDataset(df=frame, label_names=[LABEL],
                                 protected_attribute_names=[PROTECTED],
                                 favorable_label=1.0, unfavorable_label=0.0)
    if scores is not None:
        dataset.scores = np.asarray(scores, np.float64).reshape(-1, 1)
    return dataset


def with_predictions(truth, predicted, scores=None):
    """A copy of `truth` whose labels are `predicted` (aif360's classified data set)."""
    dataset = truth.copy(deepcopy=True)
    dataset.labels = np.asarray(predicted, np.float64).reshape(-1, 1)
    if scores is not None:
        dataset.scores = np.asarray(scores, np.float64).reshape(-1, 1)
    return dataset


def check_threshold(threshold):
    threshold = v.check_non_negative(threshold, "threshold")
    if threshold > 1:
        raise ValueError(f"Expected `threshold` in [0, 1] (a probability of the favourable "
                         f"class). Received: threshold={threshold}")
    return threshold


def positive_scores(model, x, batch_size=256):
    """Probability of the favourable class 1 from a binary classifier.

    `model` is a `keras.Model` with one output unit (a sigmoid probability,
    or a logit when the last layer has no sigmoid) or two (softmax or
    logits), or a callable `x -> such scores`.
    """
    import keras

    if isinstance(model, keras.Model):
        outputs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
        sigmoid = _ends_with(model, "sigmoid")
    elif callable(model):
        outputs, sigmoid = np.asarray(model(x)), None
    else:
        raise TypeError("Expected `model` to be a keras.Model or a callable returning scores. "
                        f"Received: model of type {type(model).__name__}")
    return scores_from_outputs(outputs, sigmoid)


def scores_from_outputs(outputs, sigmoid=None):
    outputs = np.asarray(outputs, np.float64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim == 1:
        probabilities = sigmoid or (outputs.min() >= 0 and outputs.max() <= 1)
        return outputs if probabilities else 1.0 / (1.0 + np.exp(-outputs))
    if outputs.ndim == 2 and outputs.shape[1] == 2:
        is_simplex = outputs.min() >= 0 and np.allclose(outputs.sum(1), 1.0, atol=1e-4)
        if not is_simplex:
            outputs = np.exp(outputs - outputs.max(1, keepdims=True))
            outputs /= outputs.sum(1, keepdims=True)
        return outputs[:, 1]
    raise ValueError("Expected a binary classifier: one output unit (probability or logit) or "
                     f"two (class scores). Received: model outputs of shape {outputs.shape}")


def _ends_with(model, activation):
    last = model.layers[-1] if getattr(model, "layers", None) else None
    function = getattr(last, "activation", None)
    return getattr(function, "__name__", "") == activation
