"""Backdoor repair: unlearning with the recovered trigger (Neural Cleanse), or fine-pruning."""

import keras
import numpy as np

from keras_mlsec._core import activations as acts
from keras_mlsec._core import models
from keras_mlsec._core import validation as v
from keras_mlsec.defenses.detection.backdoor_scan import BackdoorScan

METHODS = ("unlearning", "fine_pruning")


def _copy(model, learning_rate):
    """A compiled copy of `model` (the caller's model is never trained)."""
    inner = models.inner_model(model)
    try:
        clone = keras.models.clone_model(inner)
    except Exception as error:  # clone_model raises several types for unsupported models
        raise TypeError(f"Expected a model that keras.models.clone_model can copy "
                        f"(Sequential, functional, or subclassed with get_config). Received: "
                        f"model {inner.name!r}: {error}") from None
    clone.set_weights(inner.get_weights())
    from_softmax = models.logits_function(inner).from_softmax
    clone.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not from_softmax),
                  metrics=["accuracy"])
    return clone


def _accuracy(model, x, y, batch_size):
    predicted = models.predict_labels(models.logits_function(model), x, batch_size)
    return float(np.mean(predicted == y))


class _KeepPruned(keras.callbacks.Callback):
    """Re-zeroes the pruned units of a layer after every training batch."""

    def __init__(self, layer, keep):
        super().__init__()
        self.layer, self.keep = layer, keep

    def apply(self):
        for weight in self.layer.weights:
            if weight.shape and weight.shape[-1] == len(self.keep):
                weight.assign(np.asarray(weight) * self.keep.astype(np.float32))

    def on_train_batch_end(self, batch, logs=None):
        self.apply()


def _prune(model, layer, x, y, *, max_accuracy_drop, step, batch_size):
    """Prunes the units of `layer` least active on clean `x` while accuracy holds up."""
    target = acts.find_layer(model, layer, "prune_layer")
    activity = acts.layer_activations(model, x, target.name, batch_size=batch_size,
                                      flatten=False)
    units = activity.shape[-1]
    order = np.argsort(activity.reshape(-1, units).mean(0))
    floor = _accuracy(model, x, y, batch_size) - max_accuracy_drop
    chunk = max(1, int(round(step * units)))
    keep = np.ones(units, bool)
    keeper = _KeepPruned(target, keep)
    saved = [np.asarray(w) for w in target.weights]
    for end in range(chunk, units, chunk):
        keep[:] = True
        keep[order[:end]] = False
        for weight, value in zip(target.weights, saved):
            weight.assign(value)
        keeper.apply()
        if _accuracy(model, x, y, batch_size) < floor:
            keep[order[end - chunk:end]] = True
            break
    for weight, value in zip(target.weights, saved):
        weight.assign(value)
    keeper.apply()
    return keeper


def _default_prune_layer(model):
    """The last convolution (Liu et al. prune the last convolutional layer), else the
    layer with weights just before the classifier head."""
    weighted = acts.weighted_layers(model)
    convolutions = [layer for layer in weighted
                    if len(getattr(getattr(layer, "kernel", None), "shape", ())) >= 3]
    if convolutions:
        return convolutions[-1].name
    if len(weighted) < 2:
        raise ValueError("Expected a model with a hidden layer to prune. Received: "
                         f"model with {len(weighted)} layer(s) with weights.")
    return weighted[-2].name


def repair_backdoor(model, scan, x_clean, y_clean, *, method="unlearning", epochs=10,
                    learning_rate=1e-3, batch_size=32, unlearning_fraction=0.2,
                    prune_layer=None, max_accuracy_drop=0.05, prune_step=0.05, seed=0):
    """Returns a copy of `model` with its backdoor removed as far as clean data allow.

    * "unlearning" (Wang et al. 2019): fine-tunes on `x_clean` where
      `unlearning_fraction` of the inputs carry the trigger recovered by
      Neural Cleanse for a flagged class (`scan.trigger(c)`) but keep their
      true label, so the model learns to ignore it. A scan without a flagged
      class leaves nothing to unlearn: the copy is returned untrained.
    * "fine_pruning" (Liu et al. 2018): zeroes the units of `prune_layer`
      (default: the last convolution, else the layer feeding the
      classifier head) least active on
      clean data, in steps of `prune_step` of the units, while the clean
      accuracy stays within `max_accuracy_drop` of the original (backdoor
      neurons are dormant on clean inputs), then fine-tunes on `x_clean`
      with the pruned units held at zero. `scan` may be None.

    Args:
        model: the backdoored `keras.Model` (not modified).
        scan: the `BackdoorScan` of `neural_cleanse` (None allowed for fine-pruning).
        x_clean: clean inputs held by the defender.
        y_clean: their true labels (sparse or one-hot).
        method: "unlearning" or "fine_pruning".
        epochs: fine-tuning epochs.
        learning_rate: Adam learning rate of the fine-tuning.
        batch_size: fine-tuning batch size.
        unlearning_fraction: share of clean inputs stamped with the recovered trigger.
        prune_layer: name of the layer to prune (fine-pruning).
        max_accuracy_drop: largest clean-accuracy drop pruning may cause (before fine-tuning).
        prune_step: share of the layer's units pruned per step.
        seed: seed of the choice of stamped inputs and of the fine-tuning.

    Returns:
        A new compiled `keras.Model` with the repaired weights.

    Raises:
        ValueError: for an unknown `method`, a missing scan for unlearning, a
            `prune_layer` the model lacks, bad fractions, inputs or labels.
        TypeError: for a model `keras.models.clone_model` cannot copy, or a
            `scan` that is not a `BackdoorScan`.

    Example:
        >>> scan = neural_cleanse(model, x_val, y_val)
        >>> repaired = repair_backdoor(model, scan, x_val, y_val, method="unlearning")

    Reference:
        Wang et al., "Neural Cleanse: Identifying and Mitigating Backdoor
        Attacks in Neural Networks", IEEE S&P 2019. Liu, Dolan-Gavitt and Garg,
        "Fine-Pruning: Defending Against Backdooring Attacks on Deep Neural
        Networks", RAID 2018.
    """
    model = v.check_model(model)
    v.check_choice(method, METHODS, "method")
    if scan is not None and not isinstance(scan, BackdoorScan):
        raise TypeError("Expected `scan` to be the BackdoorScan of neural_cleanse (or None for "
                        f"fine-pruning). Received: scan of type {type(scan).__name__}")
    if scan is None and method == "unlearning":
        raise ValueError("Expected a BackdoorScan for method='unlearning' (it stamps the "
                         "recovered trigger). Received: scan=None")
    epochs = v.check_positive_int(epochs, "epochs")
    learning_rate = v.check_positive(learning_rate, "learning_rate")
    batch_size = v.check_positive_int(batch_size, "batch_size")
    for name, value in (("unlearning_fraction", unlearning_fraction),
                        ("max_accuracy_drop", max_accuracy_drop), ("prune_step", prune_step)):
        if v.check_positive(value, name) > 1:
            raise ValueError(f"Expected `{name}` in (0, 1]. Received: {name}={value}")
    x = v.check_inputs(x_clean, model=model, name="x_clean")
    logits_fn = models.logits_function(model)
    y = v.check_labels(y_clean, len(x), models.num_classes_of(model, logits_fn, x), "y_clean")
    rng = np.random.default_rng(v.check_seed(seed))
    keras.utils.set_random_seed(int(rng.integers(2 ** 31)))
    repaired = _copy(model, learning_rate)
    callbacks = []
    if method == "unlearning":
        if not scan.flagged_classes:
            return repaired
        x = x.copy()
        stamped = rng.choice(len(x), size=max(1, int(round(unlearning_fraction * len(x)))),
                             replace=False)
        for index in stamped:
            mask, pattern = scan.trigger(rng.choice(scan.flagged_classes))
            x[index] = x[index] * (1.0 - mask) + mask * pattern
    else:
        if prune_layer is None:
            prune_layer = _default_prune_layer(repaired)
        callbacks.append(_prune(repaired, prune_layer, x, y, max_accuracy_drop=max_accuracy_drop,
                                step=prune_step, batch_size=256))
    repaired.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True,
                 callbacks=callbacks)
    return repaired
