"""Per-example membership scores (higher = more likely member) and their statistics.

Everything but `predict_logits` and `train_shadow` is pure NumPy.
"""

import numpy as np

from keras_mlsec._core import models

_EPS = 1e-12


def predict_logits(model, x, batch_size):
    """Logits of `model` on `x` (pre-softmax when the model ends in a softmax), as NumPy."""
    import tensorflow as tf

    logits_fn = models.logits_function(model)
    predict = models.compiled(logits_fn, ("membership_logits",), lambda: logits_fn)
    parts = [np.asarray(predict(tf.constant(x[i:i + batch_size])), dtype=np.float64)
             for i in range(0, len(x), batch_size)]
    return np.concatenate(parts, 0)


def log_softmax(logits):
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def threshold_scores(logits, labels):
    """Confidence on the true class, p_y (Yeom et al. 2018's confidence threshold)."""
    return np.exp(log_softmax(logits)[np.arange(len(labels)), labels])


def loss_scores(logits, labels):
    """Negative per-example cross-entropy, log p_y (Yeom et al. 2018's loss threshold)."""
    return log_softmax(logits)[np.arange(len(labels)), labels]


def entropy_scores(logits, labels):
    """Negative modified entropy of Song and Mittal 2021.

    Mentr = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i); unlike the plain
    entropy it uses the label, so a confident wrong prediction scores low.
    """
    log_p = log_softmax(logits)
    p = np.exp(log_p)
    rows = np.arange(len(labels))
    log_1mp = np.log(np.clip(1.0 - p, _EPS, None))
    p_y = p[rows, labels]
    true_term = (1.0 - p_y) * log_p[rows, labels]
    others = p * log_1mp
    others[rows, labels] = 0.0
    return true_term + others.sum(axis=1)


def logit_confidence(logits, labels):
    """phi = log(p_y / (1 - p_y)), computed stably from logits (Carlini et al. 2022)."""
    logits = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(labels))
    true_logit = logits[rows, labels]
    others = logits.copy()
    others[rows, labels] = -np.inf
    top = others.max(axis=1, keepdims=True)
    rest = top[:, 0] + np.log(np.exp(others - top).sum(axis=1))
    return true_logit - rest


def attack_features(logits, labels):
    """Features of the shadow attack classifier: sorted log-probabilities and log p_y."""
    log_p = log_softmax(logits)
    sorted_log_p = -np.sort(-log_p, axis=1)
    return np.concatenate([np.maximum(sorted_log_p, -30.0),
                           np.maximum(log_p[np.arange(len(labels)), labels], -30.0)[:, None],
                           logit_confidence(logits, labels)[:, None].clip(-30.0, 30.0)], axis=1)


def lira_scores(phi, phi_shadow, in_mask, *, online):
    """Likelihood-ratio scores from target and shadow logit-scaled confidences.

    Args:
        phi: (n,) phi of each example under the target model.
        phi_shadow: (num_shadow, n) phi under each shadow model.
        in_mask: (num_shadow, n) bool, whether the shadow trained on the example.
        online: use IN and OUT Gaussians (likelihood ratio); otherwise only OUT
            (one-sided test: the z-score of phi above the OUT mean, which ranks
            examples exactly as the OUT Gaussian's CDF does).

    Returns:
        (n,) scores, higher = more likely member. Variances are shared by all
        examples ("fixed variance" of Carlini et al. 2022, robust with few shadows):
        the pooled within-example variance, or with one shadow per example the
        variance of all values.
    """
    out_mask = ~in_mask
    mean_out = _masked_mean(phi_shadow, out_mask)
    std_out = np.sqrt(_pooled_variance(phi_shadow, out_mask, mean_out)) + 1e-6
    if not online:
        return (phi - mean_out) / std_out
    mean_in = _masked_mean(phi_shadow, in_mask)
    std_in = np.sqrt(_pooled_variance(phi_shadow, in_mask, mean_in)) + 1e-6
    log_in = -0.5 * ((phi - mean_in) / std_in) ** 2 - np.log(std_in)
    log_out = -0.5 * ((phi - mean_out) / std_out) ** 2 - np.log(std_out)
    return log_in - log_out


def _masked_mean(values, mask):
    return np.sum(values * mask, axis=0) / np.maximum(mask.sum(axis=0), 1)


def _pooled_variance(values, mask, mean):
    """Within-example variance pooled over examples; with a single shadow per example
    (none to measure it from), the variance of all masked values, as Carlini et al.'s code."""
    if int(mask.sum(axis=0).min()) >= 2:
        residual = (values - mean[None, :]) * mask
        return float(np.sum(residual ** 2) / (int(mask.sum()) - mask.shape[1]))
    return float(np.var(values[mask]))


SCORERS = {"threshold": threshold_scores, "loss": loss_scores, "entropy": entropy_scores}


def shadow_optimizer(model):
    """A fresh optimizer of the target's class and config, or Adam when not compiled."""
    import keras

    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(model, "compiled", False):
        try:
            return type(optimizer).from_config(optimizer.get_config())
        except (TypeError, ValueError):
            pass
    return keras.optimizers.Adam(1e-3)


def train_shadow(model, x, y, *, epochs, batch_size):
    """Clones the target architecture (fresh weights) and trains it on `(x, y)`.

    The loss is sparse cross-entropy on the model's logits or probabilities
    (labels are sparse here whatever the target was compiled with).
    """
    import keras

    try:
        shadow = keras.models.clone_model(model)
    except Exception as error:  # noqa: BLE001 - clone_model raises many types
        raise ValueError(
            "Expected a model that `keras.models.clone_model` can clone (Sequential or "
            f"functional) to build shadow models. Received: model={model!r} ({error})"
        ) from None
    from_logits = not models.logits_function(model).from_softmax
    shadow.compile(optimizer=shadow_optimizer(model),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    shadow.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    return shadow
