"""Neural Cleanse (Wang et al. 2019): the smallest trigger that sends inputs to each class."""

import keras
import numpy as np
import tensorflow as tf

from keras_mlsec._core import models
from keras_mlsec._core import validation as v
from keras_mlsec.defenses.detection.backdoor_scan import BackdoorScan


def _mask_shape(sample_shape):
    """Images share one mask across channels; other inputs get one mask value per feature."""
    if len(sample_shape) == 3:
        return tuple(sample_shape[:2]) + (1,)
    return tuple(sample_shape)


def _step_builder(logits_fn, optimizer, mask_param, pattern_param, clip):
    low, high = clip

    def step(xb, cost):
        # xb: (classes, batch, ...): class t's trigger is stamped on batch t.
        num, size = tf.shape(xb)[0], tf.shape(xb)[1]
        with tf.GradientTape() as tape:
            mask = tf.sigmoid(mask_param)
            pattern = low + (high - low) * tf.sigmoid(pattern_param)
            stamped = xb * (1.0 - mask[:, None]) + (mask * pattern)[:, None]
            logits = logits_fn(tf.reshape(stamped, tf.concat([[-1], tf.shape(xb)[2:]], 0)))
            targets = tf.repeat(tf.range(num), size)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            ce = tf.reduce_mean(tf.reshape(ce, (num, -1)), axis=1)
            l1 = tf.reduce_sum(tf.reshape(mask, (num, -1)), axis=1)
            loss = tf.reduce_sum(ce + cost * l1)
        grads = tape.gradient(loss, [mask_param, pattern_param])
        optimizer.apply_gradients(zip(grads, [mask_param, pattern_param]))
        hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), targets)
        success = tf.reduce_mean(tf.reshape(tf.cast(hits, tf.float32), (num, -1)), axis=1)
        return success, l1, mask, pattern

    return step


def neural_cleanse(model, x_clean, y_clean=None, *, steps=300, batch_size=32,
                   learning_rate=0.1, init_cost=1e-3, cost_multiplier=1.5,
                   target_success=0.95, threshold=2.0, clip=(0.0, 1.0), seed=0):
    """Reverse-engineers the smallest trigger for every class and flags outliers.

    For each class t, a mask m (in [0, 1], one value per pixel) and a
    pattern p are optimised so that `x * (1 - m) + m * p` is classified as t
    for clean inputs x, while the mask's L1 norm is penalised with a weight
    adapted as in the paper (multiplied by `cost_multiplier` while the
    trigger succeeds on at least `target_success` of a batch, divided
    otherwise). A backdoored class needs a far smaller mask than the others;
    the anomaly index of class t is `(median - norm_t) / (1.4826 * MAD)` over
    the classes' smallest successful mask norms, and classes with an index
    above `threshold` (2 in the paper) below the median are flagged. All
    classes are optimised together, one batch of stamped inputs per class
    per step.

    Args:
        model: the `keras.Model` to scan (logits or softmax output).
        x_clean: clean inputs held by the defender.
        y_clean: their labels, optional; when given, inputs of class t are
            left out of class t's batch (they need no trigger).
        steps: optimisation steps.
        batch_size: clean inputs per class per step.
        learning_rate: Adam step size on the mask and pattern parameters.
        init_cost: initial weight of the mask L1 norm.
        cost_multiplier: factor of the weight's adaptation (> 1).
        target_success: share of a batch a trigger must send to its class
            to count as successful.
        threshold: anomaly index above which a class is flagged.
        clip: input domain `(min, max)` of the pattern.
        seed: seed of the initial parameters and the batches.

    Returns:
        A `BackdoorScan` (norms, anomaly indices, flagged classes, masks, patterns).

    Raises:
        ValueError: for bad counts, rates, inputs or labels.
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> scan = neural_cleanse(model, x_val, y_val)
        >>> scan.flagged_classes
        [0]

    Reference:
        Wang et al., "Neural Cleanse: Identifying and Mitigating Backdoor
        Attacks in Neural Networks", IEEE S&P 2019.
    """
    model = v.check_model(model)
    steps = v.check_positive_int(steps, "steps")
    batch_size = v.check_positive_int(batch_size, "batch_size")
    learning_rate = v.check_positive(learning_rate, "learning_rate")
    init_cost = v.check_positive(init_cost, "init_cost")
    cost_multiplier = v.check_positive(cost_multiplier, "cost_multiplier")
    if cost_multiplier <= 1:
        raise ValueError(f"Expected `cost_multiplier` > 1. Received: cost_multiplier="
                         f"{cost_multiplier}")
    target_success = v.check_positive(target_success, "target_success")
    if target_success > 1:
        raise ValueError(f"Expected `target_success` in (0, 1]. Received: target_success="
                         f"{target_success}")
    threshold = v.check_positive(threshold, "threshold")
    clip = v.check_clip(clip)
    if clip is None:
        raise ValueError("Expected `clip` as (min, max): the pattern lives in the input "
                         "domain. Received: clip=None")
    x = v.check_inputs(x_clean, model=model, clip=clip, name="x_clean")
    logits_fn = models.logits_function(model)
    num_classes = models.num_classes_of(model, logits_fn, x)
    y = None if y_clean is None else v.check_labels(y_clean, len(x), num_classes, "y_clean")
    rng = np.random.default_rng(v.check_seed(seed))
    shape = _mask_shape(x.shape[1:])
    mask_param = tf.Variable(rng.normal(0.0, 0.1, (num_classes,) + shape).astype(np.float32))
    pattern_param = tf.Variable(
        rng.normal(0.0, 0.1, (num_classes,) + x.shape[1:]).astype(np.float32))
    optimizer = keras.optimizers.Adam(learning_rate)
    step = tf.function(_step_builder(logits_fn, optimizer, mask_param, pattern_param, clip))
    cost = np.full(num_classes, init_cost, np.float32)
    best_norm = np.full(num_classes, np.inf)
    best_mask = np.zeros((num_classes,) + shape, np.float32)
    best_pattern = np.zeros((num_classes,) + x.shape[1:], np.float32)
    pools = [np.arange(len(x)) if y is None else np.flatnonzero(y != t) for t in range(num_classes)]
    pools = [p if len(p) else np.arange(len(x)) for p in pools]
    for _ in range(steps):
        batch = np.stack([x[rng.choice(p, size=batch_size)] for p in pools])
        success, l1, mask, pattern = (t.numpy() for t in step(tf.constant(batch),
                                                              tf.constant(cost)))
        improved = (success >= target_success) & (l1 < best_norm)
        best_norm[improved] = l1[improved]
        best_mask[improved], best_pattern[improved] = mask[improved], pattern[improved]
        cost = np.where(success >= target_success, cost * cost_multiplier,
                        cost / cost_multiplier).astype(np.float32)
    return BackdoorScan(best_norm, best_mask, best_pattern, threshold=threshold,
                        config={"steps": steps, "batch_size": batch_size,
                                "learning_rate": learning_rate, "init_cost": init_cost,
                                "target_success": target_success, "seed": seed})

