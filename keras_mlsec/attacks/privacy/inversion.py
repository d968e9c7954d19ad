"""Model inversion (Fredrikson et al. 2015): a class representative from the model alone.

Gradient descent on the input minimizes the cross-entropy of the target class
(on the logits, see `models.logits_function`) plus optional total
variation and L2 penalties, inside the input domain. All steps run in one
compiled `tf.while_loop` (Adam updates), for a batch of target classes at
once.
"""

import numbers

import numpy as np
import tensorflow as tf

from keras_mlsec._core import validation as v
from keras_mlsec._core import losses, models, perturbation
from keras_mlsec._core.adam import adam_update
from keras_mlsec.attacks.privacy.inversion_result import InversionResult


def _total_variation(x):
    """Mean absolute difference of neighbouring pixels, per example (images or vectors)."""
    if x.shape.rank == 4:
        dh = tf.abs(x[:, 1:, :, :] - x[:, :-1, :, :])
        dw = tf.abs(x[:, :, 1:, :] - x[:, :, :-1, :])
        return tf.reduce_mean(dh, axis=[1, 2, 3]) + tf.reduce_mean(dw, axis=[1, 2, 3])
    flat = tf.reshape(x, [tf.shape(x)[0], -1])
    return tf.reduce_mean(tf.abs(flat[:, 1:] - flat[:, :-1]), axis=1)


def _descend(logits_fn, start, targets, *, steps, learning_rate, clip, tv_weight, l2_weight):
    """Adam descent of the inversion objective from `start`; returns (x, per-example loss)."""
    def objective(x):
        logits = logits_fn(x)
        loss = losses.cross_entropy(targets, logits)
        if tv_weight:
            loss += tv_weight * _total_variation(x)
        if l2_weight:
            loss += l2_weight * tf.reduce_mean(tf.square(tf.reshape(x, [tf.shape(x)[0], -1])), 1)
        return loss

    def body(i, x, m, s):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(objective(x))
        grad = tape.gradient(total, x)
        delta, m, s = adam_update(grad, m, s, i, learning_rate)
        x = perturbation.clip_to_domain(x - delta, clip)
        return i + 1, x, m, s

    @tf.function(reduce_retracing=True)
    def run(x):
        zeros = tf.zeros_like(x)
        _, x, _, _ = tf.while_loop(lambda i, *_: i < steps, body,
                                   (tf.constant(0), x, zeros, zeros))
        return x, objective(x)

    return run(tf.convert_to_tensor(start))


def _correlations(images, means):
    """Pearson correlation of every image with every mean: `(len(images), len(means))`."""
    a = images.reshape(len(images), -1).astype(np.float64)
    b = means.reshape(len(means), -1).astype(np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(a, axis=1)[:, None] * np.linalg.norm(b, axis=1)[None, :]
    return (a @ b.T) / np.maximum(norms, 1e-12)


def _reference_means(reference, shape, num_classes):
    """Class means from `(x, y)` (all classes) or only the target's from `x`."""
    if reference is None:
        return None, None
    pair = isinstance(reference, tuple) and len(reference) == 2
    name = "reference[0]" if pair else "reference"
    x = v.check_inputs(reference[0] if pair else reference, name=name)
    if x.shape[1:] != shape:
        raise ValueError(f"Expected `reference` inputs of per-example shape {shape}. "
                         f"Received: {name} with shape {x.shape}")
    if pair:
        y = v.check_labels(reference[1], len(x), num_classes, name="reference[1]")
        means = np.zeros((num_classes,) + shape, np.float64)
        present = np.zeros(num_classes, bool)
        for label in np.unique(y):
            means[label], present[label] = x[y == label].mean(axis=0), True
        return means, present
    return x.mean(axis=0, keepdims=True), None


def invert_classes(model, target_classes, *, steps=500, learning_rate=0.1, clip=(0.0, 1.0),
                   reference=None, tv_weight=0.0, l2_weight=1.0, seed=None):
    """`model_inversion` for several classes at once (one batched descent).

    Returns:
        A list of `InversionResult`, one per entry of `target_classes`.
    """
    model = v.check_model(model)
    clip = v.check_clip(clip)
    steps = v.check_positive_int(steps, "steps")
    learning_rate = v.check_positive(learning_rate, "learning_rate")
    tv_weight = v.check_non_negative(tv_weight, "tv_weight")
    l2_weight = v.check_non_negative(l2_weight, "l2_weight")
    v.check_seed(seed)
    shape = v._model_input_shape(model)
    if shape is None or any(d is None for d in shape):
        raise ValueError("Expected a model with a single, fully defined input shape. "
                         f"Received: model input shape {shape}")
    num_classes = int(model.output_shape[-1])
    targets = np.asarray(target_classes)
    if targets.ndim != 1 or targets.size == 0 or not all(
            isinstance(t, numbers.Integral) and 0 <= t < num_classes for t in targets.tolist()):
        raise ValueError(f"Expected target class(es) as integers in [0, {num_classes}). "
                         f"Received: target_class={target_classes!r}")
    means, present = _reference_means(reference, tuple(shape), num_classes)
    rng = np.random.default_rng(seed)
    low, high = clip if clip is not None else (0.0, 1.0)
    middle, spread = 0.5 * (low + high), 0.05 * (high - low)
    start = (middle + spread * rng.standard_normal((len(targets),) + tuple(shape)))
    start = np.clip(start, low, high).astype(np.float32) if clip else start.astype(np.float32)
    logits_fn = models.logits_function(model)
    images, losses = _descend(logits_fn, start, tf.constant(targets, tf.int32), steps=steps,
                              learning_rate=learning_rate, clip=clip, tv_weight=tv_weight,
                              l2_weight=l2_weight)
    images, losses = images.numpy(), losses.numpy()
    probabilities = tf.nn.softmax(logits_fn(tf.constant(images)), axis=-1).numpy()
    results = []
    correlations = None if means is None else _correlations(images, means)
    for i, target in enumerate(targets.tolist()):
        similarity, per_class = None, None
        if correlations is not None and present is None:
            similarity = correlations[i, 0]
        elif correlations is not None:
            per_class = np.where(present, correlations[i], -np.inf)
            similarity = per_class[target] if present[target] else None
            if not present[target]:
                per_class = None
        results.append(InversionResult(
            image=images[i], target_class=target, confidence=probabilities[i, target],
            predicted_class=int(np.argmax(probabilities[i])), loss=losses[i],
            similarity=similarity, class_similarities=per_class))
    return results


def model_inversion(model, target_class, *, steps=500, learning_rate=0.1, clip=(0.0, 1.0),
                    reference=None, tv_weight=0.0, l2_weight=1.0, seed=None):
    """Reconstructs a representative input of `target_class` from the model alone.

    Starting from a grey input with a little seeded noise, gradient descent
    (Adam, `steps` steps of size `learning_rate`, projected onto `clip`)
    minimizes the target class's cross-entropy on the model's logits plus
    `tv_weight` times the total variation (smoothness) and `l2_weight` times
    the mean squared pixel value. A recognisable reconstruction means the
    model leaks what its training examples of that class look like.

    Args:
        model: a classifier `keras.Model` (logits or softmax output) with one
            fully defined input shape.
        target_class: the class to invert, an int.
        steps: descent steps, >= 1.
        learning_rate: Adam step size, > 0.
        clip: `(min, max)` input domain, or None.
        reference: optional real examples to score the reconstruction:
            `x` of the target class (gives `similarity`), or `(x, y)` of all
            classes (also gives `class_similarities` and `rank`).
        tv_weight: weight of the total-variation penalty, >= 0.
        l2_weight: weight of the L2 penalty, >= 0 (the default 1.0 keeps
            pixels that do not matter dark instead of adversarial noise).
        seed: int seed of the starting noise.

    Returns:
        An `InversionResult` (`image`, `confidence`, `predicted_class`,
        `similarity`, `class_similarities`, `rank`).

    Raises:
        ValueError: for a target class outside the model's classes, bad
            `steps`, `learning_rate`, weights or `clip`, or `reference` of the
            wrong shape.
        TypeError: for a non-model or a non-int `seed`.

    Example:
        >>> result = model_inversion(model, 3, steps=300, reference=(x_train, y_train))
        >>> result.similarity, result.rank

    Reference:
        Fredrikson, Jha, Ristenpart 2015, "Model Inversion Attacks that Exploit
        Confidence Information and Basic Countermeasures".
    """
    if isinstance(target_class, bool) or not isinstance(target_class, numbers.Integral):
        raise ValueError("Expected `target_class` to be an int class index. "
                         f"Received: target_class={target_class!r}")
    return invert_classes(model, [int(target_class)], steps=steps, learning_rate=learning_rate,
                          clip=clip, reference=reference, tv_weight=tv_weight,
                          l2_weight=l2_weight, seed=seed)[0]


def plot_inversions(results, path, *, reference=None, title="Model inversion"):
    """Draws reconstructions (and optional class means) into a PNG; returns `path`.

    Args:
        results: `InversionResult`s, e.g. from `invert_classes`.
        path: output PNG path.
        reference: optional `(x, y)` real examples: their class means are
            drawn in a second row for comparison.
        title: the figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 2 if reference is not None else 1
    fig, axes = plt.subplots(rows, len(results), figsize=(1.4 * len(results), 1.6 * rows),
                             squeeze=False)
    for j, result in enumerate(results):
        axes[0, j].imshow(np.squeeze(result.image), cmap="gray_r")
        label = f"{result.target_class}: p={result.confidence:.2f}"
        if result.similarity is not None:
            label += f"\nr={result.similarity:.2f}"
        axes[0, j].set_title(label, fontsize=7)
        if reference is not None:
            x, y = np.asarray(reference[0]), np.asarray(reference[1])
            axes[1, j].imshow(np.squeeze(x[y == result.target_class].mean(axis=0)), cmap="gray_r")
            axes[1, j].set_title("class mean", fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
