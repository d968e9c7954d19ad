"""Equation-solving extraction of logistic and softmax-linear models (Tramer et al. 2016)."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.extraction._oracle import check_victim, victim_predictor
from keras_mlsec.attacks.extraction.extraction_result import ExtractionResult


def extract_linear(victim, input_dim, *, clip=(0.0, 1.0), query_budget=None):
    """Recovers the weights of a logistic or softmax-linear model from its probabilities.

    A softmax-linear model answers `p = softmax(x W + b)`, so for every query
    `log p_c - log p_0 = x (W_c - W_0) + (b_c - b_0)`: each answer gives one
    linear equation per class. The attack queries the low corner `x0` of the
    clip box and `x0 + h e_j` for every feature j (`h` the clip width),
    `d + 1` queries in all, and solves the equations exactly:
    `W_c - W_0 = (z(x0 + h e_j) - z(x0)) / h`. A logistic model whose float32
    answers saturate near 0 or 1 (where `1 - p` loses its digits) is solved
    a second time around its decision boundary, with steps that keep the
    logits small: `2 (d + 1)` queries, still `d + 1` per class. Softmax weights are only
    identifiable up to a per-feature shift shared by all classes, so they
    are returned centred (the mean over classes subtracted); a logistic model
    (one sigmoid output) is identifiable and returned as is. Victims that
    answer with logits instead of probabilities are solved the same way.

    Args:
        victim: a `keras.Model` or callable `(n, input_dim) -> probabilities`
            (softmax rows or one sigmoid column) or logits.
        input_dim: the number of features d.
        clip: `(min, max)` box the queries must stay in; None queries 0 and
            the unit vectors.
        query_budget: optional cap; a ValueError is raised before any query
            when `d + 1` exceeds it.

    Returns:
        An `ExtractionResult` whose `substitute` is a `keras.Model` (one Dense
        layer with the recovered weights), with `weights` shaped
        `(d, classes)` (or `(d, 1)` for a logistic model), `bias` and
        `queries_used` (`d + 1`, or `2 (d + 1)` for a saturated logistic model).

    Raises:
        TypeError: when `victim` is not callable.
        ValueError: for a bad `input_dim`, `clip` or budget; when an answer is
            not finite, has the wrong number of rows, or a probability
            underflows to 0 (the log-ratio is then unknown: narrow `clip`).

    Example:
        >>> result = extract_linear(logistic_model, input_dim=30)
        >>> result.weights.shape, result.queries_used
        ((30, 1), 31)

    Reference:
        Tramer, Zhang, Juels, Reiter and Ristenpart, "Stealing Machine
        Learning Models via Prediction APIs", USENIX Security 2016.
    """
    check_victim(victim)
    d = v.check_positive_int(input_dim, "input_dim")
    clip = v.check_clip(clip)
    if query_budget is not None and v.check_positive_int(query_budget, "query_budget") < d + 1:
        raise ValueError(
            f"Expected `query_budget` >= input_dim + 1 = {d + 1} (one query per feature plus "
            f"the centre). Received: query_budget={query_budget}.")
    low, high = (0.0, 1.0) if clip is None else clip
    predict = victim_predictor(victim)
    # The low corner as base point: the bias is read off one answer instead of being
    # accumulated over d weight estimates; each step spans the whole clip range.
    corner, width = np.full(d, low), high - low
    center, half = np.full(d, (low + high) / 2), width / 2
    weights, bias, logistic, answers, queries = _solve(predict, corner, np.full(d, width))
    used = d + 1
    budget_left = None if query_budget is None else query_budget - used
    if logistic and _saturated(answers) and (budget_left is None or budget_left >= d + 1):
        # Float32 sigmoid answers near 0 or 1 lose the digits of 1 - p: solve again
        # around the decision boundary, with steps that keep every logit small
        # (2 (d + 1) queries in all, d + 1 per class).
        w = weights[:, 0]
        point = center - (center @ w + bias[0]) * w / max(float(w @ w), 1e-12)
        point = np.clip(point, low, high)
        steps = np.minimum(half, 1.0 / np.maximum(np.abs(w), 1e-12))
        steps = np.where(point + steps <= high, steps, -steps)
        weights, bias, _, answers2, queries2 = _solve(predict, point, steps)
        answers, queries = np.concatenate([answers, answers2]), np.concatenate([queries, queries2])
        used += d + 1
    if not logistic:
        weights = weights - weights.mean(1, keepdims=True)
        bias = bias - bias.mean()
    substitute = _linear_model(weights, bias, logistic)
    return ExtractionResult(
        substitute=substitute, victim=victim, queries_used=used,
        query_budget=used if query_budget is None else query_budget, strategy="linear",
        output="probabilities", queries=queries, answers=answers.astype(np.float32),
        history=[(used, substitute.get_weights())], num_classes=max(2, weights.shape[1]),
        weights=weights, bias=bias)


def _solve(predict, base, steps):
    """Queries `base` and `base + steps[j] e_j`; solves the d + 1 equations per class."""
    d = len(base)
    queries = np.tile(base, (d + 1, 1)).astype(np.float32)
    queries[np.arange(1, d + 1), np.arange(d)] += steps
    steps = queries[np.arange(1, d + 1), np.arange(d)].astype(np.float64) - queries[0]
    answers = np.asarray(predict(queries), np.float64)
    scores, logistic = _log_scores(answers, d + 1)
    weights = (scores[1:] - scores[:1]) / steps[:, None]
    bias = scores[0] - queries[0].astype(np.float64) @ weights
    return weights, bias, logistic, answers, queries


def _saturated(answers, margin=0.02):
    if answers.min() < 0 or answers.max() > 1:  # logits: nothing lost to rounding
        return False
    return bool(np.any((answers < margin) | (answers > 1 - margin)))


def _log_scores(answers, rows):
    """Per-class scores equal to the logits up to a per-row constant; logistic flag."""
    if answers.ndim != 2 or answers.shape[0] != rows:
        raise ValueError(
            f"Expected `victim` to return a (batch, classes) array with one row per query "
            f"({rows}). Received: an answer of shape {answers.shape}.")
    if not np.all(np.isfinite(answers)):
        raise ValueError("Expected `victim` to return finite values. Received: NaN or "
                         "infinite entries.")
    logistic = answers.shape[1] == 1
    probabilities = answers.min() >= 0 and answers.max() <= 1 and (
        logistic or np.allclose(answers.sum(1), 1.0, atol=1e-3))
    if not probabilities:
        return answers, logistic  # logits
    if np.any(answers <= 0) or (logistic and np.any(answers >= 1)):
        raise ValueError(
            "Expected `victim` probabilities strictly inside (0, 1): a probability that "
            "underflowed to 0 or 1 hides its log-ratio. Received: saturated answers. "
            "Pass a narrower `clip`.")
    if logistic:
        return np.log(answers) - np.log1p(-answers), True
    return np.log(answers), False


def _linear_model(weights, bias, logistic):
    import keras

    inputs = keras.Input((weights.shape[0],))
    layer = keras.layers.Dense(weights.shape[1], activation="sigmoid" if logistic else "softmax")
    model = keras.Model(inputs, layer(inputs), name="extracted_linear")
    layer.set_weights([weights.astype(np.float32), bias.astype(np.float32)])
    return model
