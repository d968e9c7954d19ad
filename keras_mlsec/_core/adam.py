"""Adam (Kingma and Ba 2015) written out for loops that optimise an input, not weights.

Carlini-Wagner and model inversion descend on an input tensor inside one
`tf.while_loop`; a Keras optimizer would need a variable per batch shape.
Pure TensorFlow, safe inside `tf.function`.
"""

import tensorflow as tf

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


def adam_update(gradient, m, s, step, learning_rate, *, beta1=BETA1, beta2=BETA2,
                epsilon=EPSILON):
    """One Adam update with bias correction.

    Args:
        gradient: the gradient of the objective at the current point.
        m: first-moment estimate (zeros at the start).
        s: second-moment estimate (zeros at the start).
        step: the 0-based index of this update (int tensor or int).
        learning_rate: step size.

    Returns:
        `(delta, m, s)`: subtract `delta` from the point to descend; `m` and
        `s` are the updated moment estimates.

    Example:
        >>> delta, m, s = adam_update(g, m, s, 0, 0.1)  # first step: delta = 0.1 * sign(g)
    """
    t = tf.cast(step + 1, gradient.dtype)
    m = beta1 * m + (1.0 - beta1) * gradient
    s = beta2 * s + (1.0 - beta2) * tf.square(gradient)
    m_hat = m / (1.0 - tf.pow(beta1, t))
    s_hat = s / (1.0 - tf.pow(beta2, t))
    return learning_rate * m_hat / (tf.sqrt(s_hat) + epsilon), m, s
