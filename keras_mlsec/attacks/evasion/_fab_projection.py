"""FAB's projection: the smallest step onto a hyperplane that stays inside the input box.

For a batch of points `p`, hyperplanes `{z : w . z = b}` and the box
`[low, high]`, finds per example the perturbation `d` of smallest L-inf or L2
norm with `w . (p + d) = b` and `low <= p + d <= high` (when the box does not
reach the hyperplane: the point of the box furthest along `w`).

Both norms reduce to one piecewise-linear equation. Let `c = b - w . p` and
`s = sign(c)`; every coordinate moves in the direction `s * sign(w_i)` by at
most its room to the box (`high - p_i` or `p_i - low`).

- L-inf: `d_i = s sign(w_i) min(t, room_i)` and
  `g(t) = sum_i |w_i| min(t, room_i) = |c|`.
- L2 (KKT of the projection onto the hyperplane, clipped to the box):
  `d_i = s sign(w_i) |w_i| min(lam, room_i / |w_i|)` and
  `g(lam) = sum_i w_i^2 min(lam, room_i / |w_i|) = |c|`.

With levels `l_i` (`room_i`, or `room_i / |w_i|`) and weights `q_i`
(`|w_i|`, or `w_i^2`), `g(t) = sum_i q_i min(t, l_i)` is increasing and
linear between sorted levels: after one sort, prefix sums give `g` at every
level, and the solution lies on the first segment where `g` reaches `|c|`.
Worked example (L-inf, one example): `w = (1, 2)`, rooms `(0.1, 1)`,
`c = 0.5`: `g(0.1) = 0.1 + 0.2 = 0.3 < 0.5`, then `g(t) = 0.1 + 2t` on
`[0.1, 1]` gives `t = 0.2` and `d = (0.1, 0.2)`: `w . d = 0.5`.
"""

import tensorflow as tf

_BIG = 1e12  # "no bound": a level that is never reached


def _solve(levels, weights, target):
    """Smallest `t >= 0` with `sum_i weights_i min(t, levels_i) >= target`, per row.

    Rows where even `t = max(levels)` falls short get `max(levels)`.
    """
    order = tf.argsort(levels, axis=1)
    level = tf.gather(levels, order, batch_dims=1)
    weight = tf.gather(weights, order, batch_dims=1)
    below = tf.cumsum(weight * level, axis=1, exclusive=True)  # saturated coordinates
    above = tf.cumsum(weight, axis=1, reverse=True)  # coordinates still moving
    reached = below + level * above >= target[:, None]
    feasible = tf.reduce_any(reached, axis=1)
    first = tf.argmax(tf.cast(reached, tf.int32), axis=1, output_type=tf.int32)
    t = (target - tf.gather(below, first, batch_dims=1)) / tf.maximum(
        tf.gather(above, first, batch_dims=1), 1e-30)
    return tf.maximum(tf.where(feasible, t, tf.reduce_max(level, axis=1)), 0.0)


def project_to_hyperplane(points, w, b, norm, clip):
    """Smallest-norm `d` with `w . (points + d) = b` inside `clip`; rows are examples.

    Args:
        points: `(batch, features)` float tensor.
        w: `(batch, features)` normals of the hyperplanes.
        b: `(batch,)` offsets.
        norm: "linf" or "l2".
        clip: `(low, high)` or None (no box).

    Returns:
        The `(batch, features)` perturbation.
    """
    c = b - tf.reduce_sum(w * points, axis=1)
    direction = tf.sign(c)[:, None] * tf.sign(w)
    if clip is None:
        room = tf.fill(tf.shape(points), _BIG)
    else:
        room = tf.where(direction > 0, clip[1] - points, points - clip[0])
        room = tf.maximum(room, 0.0)
    a = tf.abs(w)
    if norm == "linf":
        levels, weights = room, a
    else:
        levels = tf.where(a > 0, room / tf.maximum(a, 1e-30), _BIG)
        weights = tf.square(a)
    t = _solve(levels, weights, tf.abs(c))
    size = tf.minimum(t[:, None], levels)
    if norm == "l2":
        size = size * a
    return direction * size
