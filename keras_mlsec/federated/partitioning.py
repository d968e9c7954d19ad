"""Splitting a data set across federated clients: IID and Dirichlet non-IID."""

import numpy as np

from keras_mlsec._core import validation as v


def partition(x, y, num_clients, *, iid=True, alpha=0.5, seed=None, min_size=1):
    """Splits `(x, y)` into `num_clients` disjoint client data sets.

    IID: a seeded shuffle cut into `num_clients` near-equal parts. Non-IID:
    for every class, the class's examples are shared out in proportions drawn
    from a symmetric Dirichlet(`alpha`) over the clients (Hsu et al. 2019); a
    small `alpha` gives each client few classes, a large one approaches IID.
    Draws are repeated (with the same seed stream) until every client holds at
    least `min_size` examples.

    Args:
        x: array of examples, first axis the example axis.
        y: integer labels, one per example.
        num_clients: number of parts, >= 1 and <= len(x).
        iid: IID split when True, Dirichlet split when False.
        alpha: Dirichlet concentration (> 0); only used when `iid=False`.
        seed: seed of the shuffle and of the Dirichlet draws.
        min_size: fewest examples a client may receive (>= 1).

    Returns:
        A list of `num_clients` pairs `(x_i, y_i)`; together they hold every
        example exactly once.

    Raises:
        ValueError: for mismatched `x`/`y`, fewer examples than
            `num_clients * min_size`, a non-positive `alpha`, or a Dirichlet
            split that cannot give every client `min_size` examples.

    Example:
        >>> parts = partition(x_train, y_train, 5, iid=False, alpha=0.5, seed=0)
        >>> [len(p[1]) for p in parts]

    Reference:
        Hsu, Qi and Brown 2019, "Measuring the Effects of Non-Identical Data
        Distribution for Federated Visual Classification".
    """
    x, y = np.asarray(x), np.asarray(y)
    num_clients = v.check_positive_int(num_clients, "num_clients")
    min_size = v.check_positive_int(min_size, "min_size")
    seed = v.check_seed(seed)
    if len(x) != len(y):
        raise ValueError(
            "Expected `x` and `y` to hold the same number of examples. "
            f"Received: len(x)={len(x)}, len(y)={len(y)}")
    if len(x) < num_clients * min_size:
        raise ValueError(
            f"Expected at least num_clients * min_size = {num_clients * min_size} examples "
            f"so that every client gets data. Received: num_clients={num_clients} for "
            f"{len(x)} examples")
    rng = np.random.default_rng(seed)
    if iid:
        parts = np.array_split(rng.permutation(len(x)), num_clients)
    else:
        alpha = v.check_positive(alpha, "alpha")
        parts = _dirichlet_indices(y, num_clients, alpha, rng, min_size)
    return [(x[np.sort(idx)], y[np.sort(idx)]) for idx in parts]


def _dirichlet_indices(y, num_clients, alpha, rng, min_size, max_tries=1000):
    """Per-class Dirichlet shares; redrawn until every client has `min_size` examples."""
    labels = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
    classes = np.unique(labels)
    for _ in range(max_tries):
        parts = [[] for _ in range(num_clients)]
        for label in classes:
            members = rng.permutation(np.flatnonzero(labels == label))
            shares = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
            for client, chunk in enumerate(np.split(members, cuts)):
                parts[client].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.asarray(p, dtype=np.int64) for p in parts]
    raise ValueError(
        f"Expected a Dirichlet split giving every client >= {min_size} examples; "
        f"{max_tries} draws failed. Received: alpha={alpha}, num_clients={num_clients}, "
        f"{len(y)} examples. Raise `alpha` or lower `num_clients`/`min_size`.")
