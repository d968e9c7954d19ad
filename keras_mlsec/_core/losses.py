"""Per-example losses shared by the attacks, adversarial training and the audits.

Everything here is pure TensorFlow, safe to call inside `tf.function`.
"""

import tensorflow as tf


def cross_entropy(labels, logits):
    """Per-example sparse softmax cross-entropy."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def dlr_loss(labels, logits, targets=None):
    """Difference of Logits Ratio loss (Croce and Hein 2020), per example.

    Untargeted: -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3).
    Targeted (`targets` given): -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2).
    Higher means closer to (or further past) misclassification.
    """
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
    if targets is None:
        return -margin(labels, logits) / (sorted_logits[:, 0] - sorted_logits[:, 2] + 1e-12)
    true_logit = tf.gather(logits, labels, batch_dims=1)
    target_logit = tf.gather(logits, targets, batch_dims=1)
    denominator = sorted_logits[:, 0] - 0.5 * (sorted_logits[:, 2] + sorted_logits[:, 3]) + 1e-12
    return -(true_logit - target_logit) / denominator


def margin(labels, logits):
    """Per-example margin z_y - max_{i != y} z_i (negative means misclassified)."""
    num_classes = tf.shape(logits)[-1]
    true_logit = tf.gather(logits, labels, batch_dims=1)
    other = tf.reduce_max(logits - 1e9 * tf.one_hot(labels, num_classes), axis=-1)
    return true_logit - other


def cw_objective(labels, logits, confidence, targeted=False):
    """Carlini-Wagner hinge on the logit margin, per example (zero once the goal is met).

    Untargeted: max(z_y - max_{i != y} z_i + confidence, 0); targeted (`labels`
    are the targets): max(max_{i != t} z_i - z_t + confidence, 0).
    """
    gap = margin(labels, logits)
    return tf.nn.relu(confidence - gap if targeted else gap + confidence)


def cw_success(labels, logits, confidence, targeted=False):
    """Whether the logit margin passes `confidence` in the attack's direction, per example."""
    gap = margin(labels, logits)
    return gap > confidence if targeted else gap < -confidence


def kl_divergence(p_clean, logits):
    """Per-example KL(p_clean || softmax(logits)), the TRADES objective."""
    log_q = tf.nn.log_softmax(logits, axis=-1)
    log_p = tf.math.log(tf.clip_by_value(p_clean, 1e-12, 1.0))
    return tf.reduce_sum(p_clean * (log_p - log_q), axis=-1)


def sparse_labels(y):
    """Sparse int32 labels from sparse `(n,)`/`(n, 1)` or one-hot `(n, classes)` labels."""
    y = tf.convert_to_tensor(y)
    if y.shape.rank is not None and y.shape.rank >= 2 and y.shape[-1] not in (None, 1):
        return tf.argmax(y, axis=-1, output_type=tf.int32)
    return tf.cast(tf.reshape(y, [-1]), tf.int32)
