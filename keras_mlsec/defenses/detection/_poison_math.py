"""NumPy math behind `detect_poison`: spectral projections, 2-means splits, a k-NN vote."""

import numpy as np


def top_direction(activations):
    """Projection of centred `activations` on their top singular vector (Tran et al. 2018)."""
    centred = activations - activations.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    return centred @ vt[0]


def split_1d(values):
    """Otsu's best split of 1-D `values` in two groups (exact, by sorting).

    Returns:
        A bool array, True for the members of the smaller group.
    """
    order = np.argsort(values)
    ordered = values[order].astype(np.float64)
    n = len(ordered)
    cumsum = np.cumsum(ordered)
    left = np.arange(1, n)
    mean_left = cumsum[:-1] / left
    mean_right = (cumsum[-1] - cumsum[:-1]) / (n - left)
    between = left * (n - left) * (mean_left - mean_right) ** 2
    cut = int(np.argmax(between)) + 1
    high = np.zeros(n, bool)
    high[order[cut:]] = True
    return high if high.sum() <= n - high.sum() else ~high


def reduce_dims(activations, dims):
    """PCA of `activations` to at most `dims` components (whitened by nothing)."""
    centred = activations - activations.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    return centred @ vt[:dims].T


def split_kmeans(points, seed):
    """k-means with k=2 (scikit-learn); returns (smaller-cluster mask, relative distance score).

    The score is `(d_large - d_small) / (d_large + d_small)` with `d_*` the
    distance to each centroid: positive when closer to the smaller cluster.
    """
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=2, n_init=10, random_state=seed).fit(points)
    labels = km.labels_
    small = int(np.argmin(np.bincount(labels, minlength=2)))
    distances = np.linalg.norm(points[:, None, :] - km.cluster_centers_[None], axis=-1)
    d_small, d_large = distances[:, small], distances[:, 1 - small]
    return labels == small, (d_large - d_small) / (d_large + d_small + 1e-12)


def knn_labels(queries, references, reference_labels, k, batch_size=512):
    """Majority label of the `k` nearest `references` (Euclidean) of each query."""
    refs = references.reshape(len(references), -1).astype(np.float32)
    ref_sq = (refs ** 2).sum(1)
    votes = []
    num_classes = int(reference_labels.max()) + 1
    for start in range(0, len(queries), batch_size):
        q = queries[start:start + batch_size].reshape(-1, refs.shape[1]).astype(np.float32)
        d = ref_sq[None, :] - 2.0 * q @ refs.T
        nearest = np.argpartition(d, kth=min(k, len(refs)) - 1, axis=1)[:, :k]
        counts = np.apply_along_axis(np.bincount, 1, reference_labels[nearest],
                                     minlength=num_classes)
        votes.append(np.argmax(counts, axis=1))
    return np.concatenate(votes)


def refine_1d(values, group, iterations=20):
    """EM on a two-Gaussian mixture of 1-D `values`, started from the split `group`.

    Returns the members of the component that started as `group` (each value
    goes to the component of higher posterior): unlike Otsu's mid-point cut,
    the boundary moves away from the narrower component.
    """
    values = values.astype(np.float64)
    member = group.copy()
    for _ in range(iterations):
        if member.all() or not member.any():
            return group
        params = [(values[m].mean(), values[m].std() + 1e-9, m.mean()) for m in (member, ~member)]
        log_p = [np.log(w) - np.log(s) - 0.5 * ((values - mu) / s) ** 2 for mu, s, w in params]
        updated = log_p[0] > log_p[1]
        if np.array_equal(updated, member):
            break
        member = updated
    return member
