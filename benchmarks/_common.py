"""Helpers shared by the benchmark scripts: timing and environment facts."""

import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def timed(fn, repeats):
    """Runs `fn` `repeats` times; returns (median seconds, last result)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def environment():
    """One line describing the machine, for RESULTS.md."""
    import tensorflow as tf

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    return (f"python {platform.python_version()}, tensorflow {tf.__version__}, "
            f"{os.cpu_count()} CPU cores, devices {devices}")


def art_classifier(model, input_shape, *, clip_values=(0.0, 1.0), optimizer=None):
    """ART 1.20.1 `TensorFlowV2Classifier` over a logits model (benchmark extra).

    Raises ImportError when ART is not installed; callers treat that as "skip ART".
    """
    import keras
    from art.estimators.classification import TensorFlowV2Classifier

    return TensorFlowV2Classifier(
        model=model, nb_classes=int(model.output_shape[-1]), input_shape=tuple(input_shape),
        clip_values=clip_values, optimizer=optimizer,
        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def hand_written_pgd_step(model, eps, step_size):
    """The baseline the benchmarks compare against: one L-inf PGD step, written by hand.

    Returns `step(x_adv, x, y)` (sign of the cross-entropy gradient, projection
    onto the eps ball, clip to [0, 1]); callers compile it as they please.
    """
    import tensorflow as tf

    loss_fn = tf.nn.sparse_softmax_cross_entropy_with_logits

    def step(x_adv, x, y):
        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            loss = tf.reduce_sum(loss_fn(labels=y, logits=model(x_adv, training=False)))
        grad = tape.gradient(loss, x_adv)
        x_adv = tf.clip_by_value(x_adv + step_size * tf.sign(grad), x - eps, x + eps)
        return tf.clip_by_value(x_adv, 0.0, 1.0)

    return step
