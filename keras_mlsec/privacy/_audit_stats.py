"""Statistics of the privacy audit: argument checks, Clopper-Pearson, the one-run p-value.

`audit` builds its epsilon lower bounds on these; `clopper_pearson` and
`one_run_p_value` are importable from `keras_mlsec.privacy.audit` too.
"""

import math
import numbers

import numpy as np


def _check_count(value, name, upper=None, upper_name=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"Expected `{name}` to be an int >= 0. Received: {name}={value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"Expected `{name}` <= {upper_name} ({upper}). "
                         f"Received: {name}={value}")
    return int(value)


def _check_delta(delta):
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) \
            or not 0.0 <= delta < 1.0:
        raise ValueError(f"Expected `delta` in [0, 1). Received: delta={delta!r}")
    return float(delta)


def _check_confidence(confidence):
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) \
            or not 0.0 < confidence < 1.0:
        raise ValueError(f"Expected `confidence` in (0, 1), e.g. 0.95. "
                         f"Received: confidence={confidence!r}")
    return float(confidence)


def clopper_pearson(successes, trials, *, confidence=0.95):
    """Two-sided Clopper-Pearson interval `(low, high)` of a binomial proportion."""
    from scipy import stats

    trials = _check_count(trials, "trials")
    successes = _check_count(successes, "successes", trials, "trials")
    alpha = 1.0 - _check_confidence(confidence)
    low = 0.0 if successes == 0 else stats.beta.ppf(alpha / 2, successes, trials - successes + 1)
    high = 1.0 if successes == trials else stats.beta.ppf(1 - alpha / 2, successes + 1,
                                                          trials - successes)
    return float(low), float(high)


def one_run_p_value(num_canaries, num_guesses, num_correct, *, epsilon, delta=0.0):
    """Steinke et al. 2023 Theorem 3.1: P[>= num_correct right guesses] under (eps, delta)-DP."""
    from scipy import stats

    m, r, correct = num_canaries, num_guesses, num_correct
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = float(stats.binom.sf(correct - 1, r, q))  # P[W' >= v]
    if delta == 0.0 or correct == 0:
        return min(tail, 1.0)
    # P[v - i <= W' < v] / i for i = 1..v, cumulated from the top.
    window = np.cumsum(stats.binom.pmf(np.arange(correct - 1, -1, -1), r, q))
    slack = float(np.max(window / np.arange(1, correct + 1)))
    return min(tail + 2.0 * m * delta * slack, 1.0)
