"""Two-sample statistics used by `detect_drift` (NumPy/SciPy only, no Keras).

Population stability index, multiple-testing corrections and the kernel MMD
permutation test; each works on plain arrays and is public for direct use.
"""

import numpy as np

MMD_MAX_SAMPLES = 2000
_PSI_FLOOR = 1e-4
CORRECTIONS = ("bonferroni", "fdr", "none")


def _factorize(reference, current):
    """Integer codes of two 1-D samples over their shared levels."""
    both = np.concatenate([reference, current])
    try:
        levels, codes = np.unique(both, return_inverse=True)
        count = len(levels)
    except TypeError:  # Mixed object types: fall back to hashing.
        mapping = {}
        codes = np.array([mapping.setdefault(value, len(mapping)) for value in both])
        count = len(mapping)
    codes = codes.reshape(-1)
    return codes[:len(reference)], codes[len(reference):], count


def _proportions(codes, count):
    return np.maximum(np.bincount(codes, minlength=count) / len(codes), _PSI_FLOOR)


def _psi_codes(reference, current, bins):
    """Bin codes: reference quantile bins, open-ended at both ends."""
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)))
    inner = edges[1:-1]
    if len(edges) == 1:  # Constant reference: one bin for the constant, one on each side.
        inner = np.array([edges[0], np.nextafter(edges[0], np.inf)])
    return (np.searchsorted(inner, reference, side="right"),
            np.searchsorted(inner, current, side="right"), len(inner) + 1)


def population_stability_index(reference, current, *, bins=10, categorical=False):
    """PSI of one feature: sum over bins of (q - p) * ln(q / p).

    Args:
        reference: 1-D reference sample (defines the bins).
        current: 1-D current sample.
        bins: number of reference-quantile bins (numeric data); values outside
            the reference range fall in the first or last bin.
        categorical: bin by level instead of by quantile.

    Returns:
        The PSI as a float. Bin proportions are floored at 1e-4 so that an
        empty bin does not give an infinite PSI. Usual reading: < 0.1 no
        significant change, 0.1-0.25 moderate, >= 0.25 significant.

    Example:
        >>> population_stability_index([0., 0., 1., 1.], [0., 1., 1., 1.], bins=2)
        0.2746...
    """
    reference, current = np.asarray(reference).ravel(), np.asarray(current).ravel()
    if categorical:
        ref_codes, cur_codes, count = _factorize(reference, current)
    else:
        ref_codes, cur_codes, count = _psi_codes(reference.astype(np.float64),
                                                 current.astype(np.float64), bins)
    p, q = _proportions(ref_codes, count), _proportions(cur_codes, count)
    return float(np.sum((q - p) * np.log(q / p)))


def check_correction(correction, name="correction"):
    """Returns the multiple-testing correction name ("bonferroni", "fdr" or "none")."""
    if correction is None:
        return "none"
    if isinstance(correction, str) and correction.lower() in CORRECTIONS:
        return correction.lower()
    raise ValueError(
        f'Expected `{name}` to be "bonferroni", "fdr" (Benjamini-Hochberg) or "none". '
        f"Received: {name}={correction!r}")


def adjust_p_values(p_values, correction="bonferroni"):
    """Multiple-testing adjusted p-values.

    Args:
        p_values: 1-D p-values, one per feature.
        correction: "bonferroni" (min(1, m p), controls the family-wise error
            rate), "fdr" (Benjamini-Hochberg step-up, controls the false
            discovery rate) or "none".

    Returns:
        Adjusted p-values; a feature is flagged when its adjusted p-value <= alpha.

    Example:
        >>> adjust_p_values([0.01, 0.04], "fdr")
        array([0.02, 0.04])
    """
    correction = check_correction(correction)
    p = np.asarray(p_values, dtype=np.float64).ravel()
    m = len(p)
    if correction == "none" or m == 0:
        return p.copy()
    if correction == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    scaled = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted


def mmd_test(x, y, *, num_permutations=500, seed=0):
    """Kernel two-sample test: unbiased MMD^2 with an RBF kernel and permutations.

    The kernel is k(a, b) = exp(-|a - b|^2 / h) with h the median squared
    pairwise distance of the pooled sample (median heuristic, computed on at
    most 1,000 pooled points). Each sample is randomly cut to
    `MMD_MAX_SAMPLES` (2,000) examples to bound the O(n^2) kernel matrix.

    Args:
        x: `(n, d)` reference sample (n >= 2).
        y: `(m, d)` current sample (m >= 2).
        num_permutations: random relabelings of the pooled sample.
        seed: seed of the permutations and the subsampling.

    Returns:
        `(mmd2, p_value, bandwidth)`, with p = (1 + #{permuted >= observed}) /
        (1 + num_permutations).

    Reference:
        Gretton et al., "A Kernel Two-Sample Test", JMLR 2012.
    """
    rng = np.random.default_rng(seed)
    x, y = (np.asarray(a, dtype=np.float64) for a in (x, y))
    x, y = (a[np.sort(rng.choice(len(a), MMD_MAX_SAMPLES, replace=False))]
            if len(a) > MMD_MAX_SAMPLES else a for a in (x, y))
    n, m = len(x), len(y)
    pooled = np.concatenate([x, y]).reshape(n + m, -1)
    squares = np.sum(pooled * pooled, axis=1)
    kernel = squares[:, None] + squares[None, :] - 2.0 * pooled @ pooled.T
    np.maximum(kernel, 0.0, out=kernel)
    pick = rng.choice(n + m, min(n + m, 1000), replace=False)
    sub = kernel[np.ix_(pick, pick)][np.triu_indices(len(pick), 1)]
    bandwidth = float(np.median(sub))
    if bandwidth <= 0:
        positive = sub[sub > 0]
        bandwidth = float(positive.mean()) if positive.size else 1.0
    np.exp(-kernel / bandwidth, out=kernel)
    row_sums, total = kernel.sum(axis=1), kernel.sum()

    def mmd2(labels):  # labels: (n + m, k) 0/1 columns, 1 marks the reference sample.
        k_labels = kernel @ labels
        xx = np.einsum("ij,ij->j", labels, k_labels)
        xy = row_sums @ labels - xx
        yy = total - 2.0 * (row_sums @ labels) + xx
        return (xx - n) / (n * (n - 1)) + (yy - m) / (m * (m - 1)) - 2.0 * xy / (n * m)

    base = np.zeros(n + m)
    base[:n] = 1.0
    observed = float(mmd2(base[:, None])[0])
    exceed, done = 0, 0
    while done < num_permutations:
        chunk = min(100, num_permutations - done)
        labels = np.stack([rng.permutation(base) for _ in range(chunk)], axis=1)
        exceed += int(np.sum(mmd2(labels) >= observed - 1e-12))
        done += chunk
    return observed, (1 + exceed) / (1 + num_permutations), bandwidth
