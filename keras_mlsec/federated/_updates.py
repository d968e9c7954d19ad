"""Pure NumPy checks and transforms on model updates (lists of weight arrays)."""

import numpy as np


def update_norm(new_weights, old_weights):
    """Global L2 norm of `new - old` over every array of the model."""
    total = 0.0
    for new, old in zip(new_weights, old_weights):
        diff = np.asarray(new, dtype=np.float64) - np.asarray(old, dtype=np.float64)
        total += float(np.sum(diff * diff))
    return float(np.sqrt(total))


def update_problem(new_weights, old_weights, *, max_norm=None):
    """Why an update must be refused, or None when it is acceptable.

    Checks, in order: the number of arrays, each array's shape and dtype
    against the global model, NaN or infinite entries, and the L2 norm of the
    update `new - old` against `max_norm` (skipped when None).

    Args:
        new_weights: the client's weights, a list of arrays.
        old_weights: the global weights the client started from.
        max_norm: largest accepted update norm, or None.

    Returns:
        None, or a short reason such as "non-finite values in array 2".

    Example:
        >>> update_problem([np.array([np.nan])], [np.array([0.0])])
        'non-finite values in array 0'
    """
    if len(new_weights) != len(old_weights):
        return f"expected {len(old_weights)} arrays, got {len(new_weights)}"
    for i, (new, old) in enumerate(zip(new_weights, old_weights)):
        new, old = np.asarray(new), np.asarray(old)
        if new.shape != old.shape:
            return f"array {i} has shape {new.shape}, expected {old.shape}"
        if new.dtype != old.dtype:
            return f"array {i} has dtype {new.dtype}, expected {old.dtype}"
        if not np.all(np.isfinite(new)):
            return f"non-finite values in array {i}"
    if max_norm is not None:
        norm = update_norm(new_weights, old_weights)
        if norm > max_norm:
            return f"update norm {norm:.4g} above the bound {max_norm:.4g}"
    return None


def clip_update(new_weights, old_weights, max_norm):
    """`old + (new - old) * min(1, max_norm / ||new - old||)`, array by array."""
    norm = update_norm(new_weights, old_weights)
    scale = 1.0 if norm <= max_norm else max_norm / norm
    return [np.asarray(old + (np.asarray(new) - old) * scale, dtype=np.asarray(old).dtype)
            for new, old in zip(new_weights, old_weights)]
