"""Distribution-drift tests: KS, PSI, chi-squared and MMD (NumPy/SciPy, no Keras).

`detect_drift` compares a reference sample (training data, or the model's
outputs / embeddings on it) with a current sample (validation data or
production traffic) and returns a `DriftReport`.

Data layout: the first axis is the example axis. A 1-D array is one feature;
anything with more than two dimensions (images, sequences, feature maps) is
flattened to `(n, features)`, so an 8x8 image becomes 64 pixel features. For
large inputs prefer testing a reduction (model outputs or an embedding layer,
see `keras_mlsec.callbacks.DriftMonitor`) or the multivariate MMD test: KS on
784 pixels with a Bonferroni correction tests each pixel at alpha / 784.

Categorical rule: a sample is categorical when its dtype is object, string or
bool, or when it has an integer dtype and the whole array holds at most
`CATEGORICAL_MAX_LEVELS` (20) distinct values. KS and MMD refuse categorical
samples (use `test="chi2"`); PSI bins categorical features by level. Float
data is never treated as categorical.
"""

import numbers

import numpy as np

from keras_mlsec.monitoring.drift_report import DriftReport
from keras_mlsec.monitoring.statistics import _factorize
from keras_mlsec.monitoring.statistics import adjust_p_values, check_correction
from keras_mlsec.monitoring.statistics import mmd_test
from keras_mlsec.monitoring.statistics import population_stability_index

TESTS = ("ks", "psi", "chi2", "mmd")
PSI_THRESHOLDS = {"moderate": 0.1, "significant": 0.25}
CATEGORICAL_MAX_LEVELS = 20
CHI2_MAX_FLOAT_LEVELS = 100


def check_test(test, name="test"):
    """Returns `test` lower-cased after checking it names a supported test."""
    if isinstance(test, str) and test.lower() in TESTS:
        return test.lower()
    raise ValueError(
        f'Expected `{name}` to be one of "ks", "psi", "chi2" or "mmd". Received: {name}={test!r}')


def check_alpha(alpha, name="alpha"):
    """Returns `alpha` as a float after checking 0 < alpha < 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"Expected `{name}` to be a number in (0, 1). Received: {name}={alpha!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(
            f"Expected `{name}` to be in (0, 1), e.g. 0.05. Received: {name}={alpha!r}")
    return float(alpha)


def as_table(x, name):
    """Returns `x` as a 2-D `(examples, features)` array, flattening extra axes."""
    if x is None:
        raise ValueError(f"Expected `{name}` to be an array of examples. Received: {name}=None")
    array = np.asarray(x)
    if array.dtype.kind in "US":
        array = array.astype(object)
    if array.dtype.kind not in "biufO":
        raise TypeError(
            f"Expected `{name}` to hold numbers or categories. "
            f"Received: {name} with dtype {array.dtype}")
    if array.ndim == 0 or array.shape[0] == 0:
        raise ValueError(
            f"Expected `{name}` to hold at least one example (first axis). "
            f"Received: {name} with shape {array.shape}")
    array = array.reshape(len(array), -1)
    if array.shape[1] == 0:
        raise ValueError(
            f"Expected `{name}` to have at least one feature. Received: shape {array.shape}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ValueError(
            f"Expected `{name}` to hold finite values. Received: {name} with {bad} NaN or "
            "infinite entries. Drop or impute them first.")
    return array


def is_categorical(array):
    """True when a 2-D sample is categorical under the module's rule (see above)."""
    if array.dtype.kind in "bO":
        return True
    return array.dtype.kind in "iu" and np.unique(array).size <= CATEGORICAL_MAX_LEVELS


def _per_feature(test, reference, current, bins, categorical):
    from scipy import stats

    if test == "ks":
        result = stats.ks_2samp(reference.astype(np.float64), current.astype(np.float64), axis=0)
        return np.atleast_1d(result.statistic), np.atleast_1d(result.pvalue)
    statistics, p_values = [], []
    for j in range(reference.shape[1]):
        ref_col, cur_col = reference[:, j], current[:, j]
        if test == "psi":
            statistics.append(population_stability_index(
                ref_col, cur_col, bins=bins, categorical=categorical))
            p_values.append(np.nan)
            continue
        ref_codes, cur_codes, count = _factorize(ref_col, cur_col)
        if count > CHI2_MAX_FLOAT_LEVELS and reference.dtype.kind == "f":
            raise ValueError(
                f"Expected discrete features for test='chi2' (at most {CHI2_MAX_FLOAT_LEVELS} "
                f"distinct float values per feature). Received: reference and current with "
                f"{count} distinct values in feature {j}. Use test='ks' or 'psi' for "
                "continuous features.")
        if count < 2:
            statistics.append(0.0)
            p_values.append(1.0)
            continue
        table = np.stack([np.bincount(ref_codes, minlength=count),
                          np.bincount(cur_codes, minlength=count)])
        result = stats.chi2_contingency(table, correction=False)
        statistics.append(float(result.statistic))
        p_values.append(float(result.pvalue))
    return np.asarray(statistics, dtype=np.float64), np.asarray(p_values, dtype=np.float64)


def _check_categorical_for(test, reference, current):
    for name, array in (("reference", reference), ("current", current)):
        if test == "mmd" and array.dtype.kind == "O":
            raise TypeError(
                f"Expected numeric `{name}` for test='mmd'. Received: {name} with dtype object. "
                "Encode the categories or use test='chi2'.")
        if test == "ks" and is_categorical(array):
            kind = (f"dtype {array.dtype}" if array.dtype.kind in "bO" else
                    f"integer dtype {array.dtype} with only {np.unique(array).size} "
                    "distinct values")
            raise ValueError(
                f"Expected continuous numeric `{name}` for test='ks'. Received: {name} with "
                f"{kind}, which looks categorical. Use test='chi2' for categorical or discrete "
                "features (or cast to float if the values are truly continuous).")


def detect_drift(reference, current, *, test="ks", alpha=0.05, correction="bonferroni",
                 feature_names=None, bins=10, psi_threshold=0.25, num_permutations=500, seed=0):
    """Tests whether `current` is drawn from the same distribution as `reference`.

    Args:
        reference: `(n, ...)` reference sample: raw features, model outputs or
            embeddings. Extra axes are flattened into features.
        current: `(m, ...)` sample with the same number of features.
        test: "ks" (two-sample Kolmogorov-Smirnov per feature, continuous data),
            "psi" (population stability index per feature), "chi2" (Pearson
            chi-squared contingency test per feature, categorical/discrete
            data) or "mmd" (multivariate kernel test over all features jointly).
        alpha: significance level of the per-feature decision (after correction).
        correction: "bonferroni" (default) or "fdr" (Benjamini-Hochberg) across
            features, or "none". Ignored by "mmd" (one test) and "psi".
        feature_names: optional names, one per feature (default: a DataFrame's
            columns, else "feature_0", "feature_1", ...).
        bins: PSI quantile bins of the reference.
        psi_threshold: PSI at or above which a feature counts as drifted
            (0.25 is the usual "significant shift" line, 0.1 "moderate").
        num_permutations: MMD permutations.
        seed: MMD permutation seed.

    Returns:
        A `DriftReport`. For "ks"/"chi2" a feature drifts when its adjusted
        p-value <= alpha. PSI has no p-value: `p_value` and `adjusted_p_value`
        are None and a feature drifts when PSI >= `psi_threshold`. MMD reports
        one multivariate entry. Drift is detected when any feature drifts.

    Raises:
        ValueError: for empty samples, mismatched feature counts, categorical
            data sent to KS, or a bad `test`, `correction` or `alpha`.
        TypeError: for non-numeric data sent to MMD or a non-number `alpha`.

    Example:
        >>> report = detect_drift(x_train, x_production, test="ks")
        >>> report.drift_detected, report.drifted_features
    """
    test, correction, alpha = check_test(test), check_correction(correction), check_alpha(alpha)
    ref, cur = as_table(reference, "reference"), as_table(current, "current")
    if ref.shape[1] != cur.shape[1]:
        raise ValueError(
            f"Expected `current` to have the same number of features as `reference` "
            f"({ref.shape[1]}). Received: current with {cur.shape[1]} features "
            f"(shape {np.shape(current)}, reference shape {np.shape(reference)}).")
    if feature_names is None and getattr(reference, "columns", None) is not None:
        feature_names = list(reference.columns)  # A pandas DataFrame.
    if feature_names is None:
        feature_names = [f"feature_{j}" for j in range(ref.shape[1])]
    feature_names = [str(name) for name in feature_names]
    if len(feature_names) != ref.shape[1]:
        raise ValueError(
            f"Expected one name per feature ({ref.shape[1]}) in `feature_names`. "
            f"Received: {len(feature_names)} names.")
    _check_categorical_for(test, ref, cur)
    details = {}
    if test == "mmd":
        if len(ref) < 2 or len(cur) < 2:
            raise ValueError(
                "Expected at least 2 examples in both `reference` and `current` for test='mmd'. "
                f"Received: {len(ref)} and {len(cur)}.")
        if (isinstance(num_permutations, bool)
                or not isinstance(num_permutations, numbers.Integral)
                or num_permutations < 1):
            raise ValueError(
                "Expected `num_permutations` >= 1. "
                f"Received: num_permutations={num_permutations!r}")
        stat, p, bandwidth = mmd_test(ref, cur, num_permutations=int(num_permutations), seed=seed)
        features = [{"feature": f"all {ref.shape[1]} features (multivariate)", "statistic": stat,
                     "p_value": p, "adjusted_p_value": p, "drifted": bool(p <= alpha)}]
        details = {"kernel": "rbf", "bandwidth": bandwidth,
                   "num_permutations": int(num_permutations), "seed": seed}
        return DriftReport(test=test, alpha=alpha, correction="none", features=features,
                           n_reference=len(ref), n_current=len(cur), details=details)
    if test == "psi":
        if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 2:
            raise ValueError(f"Expected `bins` to be an integer >= 2. Received: bins={bins!r}")
        if isinstance(psi_threshold, bool) or not isinstance(psi_threshold, numbers.Real) \
                or not psi_threshold > 0:
            raise ValueError(
                "Expected `psi_threshold` > 0, e.g. 0.25. "
                f"Received: psi_threshold={psi_threshold!r}")
        details = {"bins": int(bins), "psi_threshold": float(psi_threshold),
                   "thresholds": dict(PSI_THRESHOLDS)}
    categorical = test == "psi" and (is_categorical(ref) or is_categorical(cur))
    statistics, p_values = _per_feature(test, ref, cur, int(bins), categorical)
    if test == "psi":
        adjusted = [None] * len(statistics)
        drifted = statistics >= psi_threshold
        p_values = [None] * len(statistics)
    else:
        adjusted = adjust_p_values(p_values, correction).tolist()
        drifted = np.asarray(adjusted) <= alpha
        p_values = p_values.tolist()
    features = [{"feature": name, "statistic": float(s), "p_value": p, "adjusted_p_value": a,
                 "drifted": bool(d)}
                for name, s, p, a, d in zip(feature_names, statistics, p_values, adjusted, drifted)]
    return DriftReport(test=test, alpha=alpha, correction=correction, features=features,
                       n_reference=len(ref), n_current=len(cur), details=details,
                       samples=(ref, cur))
