"""`make_private`: a `DPModel` whose noise is calibrated to a target epsilon."""

from keras_mlsec._core import validation as v
from keras_mlsec.privacy import accounting
from keras_mlsec.privacy.dp_model import DPModel, _check_private_model


def make_private(model, *, l2_norm_clip, noise_multiplier=None, target_epsilon=None, delta,
                 epochs, batch_size, num_examples, num_microbatches=None, accountant="rdp",
                 seed=None, clipping="auto"):
    """Wraps `model` in a `DPModel`, calibrating the noise to `target_epsilon` if asked.

    Give exactly one of `noise_multiplier` and `target_epsilon`. With
    `target_epsilon`, the smallest noise multiplier whose DP-SGD run
    (`epochs` passes, `batch_size`, `num_examples`) stays within
    `(target_epsilon, delta)` is used. A compiled `model` passes its
    optimizer (a fresh copy), loss and metrics on; otherwise compile the
    result before `fit`. Train with the same `epochs` and `batch_size`.

    Args:
        model: the `keras.Model` to train privately.
        l2_norm_clip: per-example clipping norm, > 0.
        noise_multiplier: noise std / `l2_norm_clip`, >= 0.
        target_epsilon: epsilon to reach after `epochs` epochs, > 0.
        delta: target delta, < 1 / num_examples.
        epochs: planned number of epochs.
        batch_size: planned batch size (<= num_examples).
        num_examples: size of the training set.
        num_microbatches: see `DPModel`.
        accountant: "rdp" or "pld", used to calibrate the noise.
        seed: optional int seed of the noise.
        clipping: "auto", "ghost" or "per_example"; see `DPModel`.

    Returns:
        A `DPModel`; its `noise_multiplier` attribute holds the noise used.

    Raises:
        ValueError: when both or neither of `noise_multiplier` and
            `target_epsilon` are given, or for any bad value (see
            `compute_epsilon` and `DPModel`).

    Example:
        >>> private = make_private(model, l2_norm_clip=1.0, target_epsilon=3.0, delta=1e-5,
        ...                        epochs=10, batch_size=256, num_examples=len(x_train))
        >>> private.fit(x_train, y_train, epochs=10, batch_size=256)
    """
    if (noise_multiplier is None) == (target_epsilon is None):
        raise ValueError(
            "Expected exactly one of `noise_multiplier` and `target_epsilon`. Received: "
            f"noise_multiplier={noise_multiplier}, target_epsilon={target_epsilon}")
    _check_private_model(model)
    v.check_positive(l2_norm_clip, "l2_norm_clip")
    setup = dict(num_examples=num_examples, batch_size=batch_size, epochs=epochs, delta=delta)
    accounting.check_training_setup(**setup)
    if target_epsilon is not None:
        noise_multiplier = accounting.noise_multiplier_for(
            target_epsilon, accountant=accountant, **setup)
    private = DPModel(model, l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier,
                      num_microbatches=num_microbatches, seed=seed, clipping=clipping)
    if getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None:
        compile_config = model.get_compile_config()
        if compile_config:
            private.compile_from_config(compile_config)
    return private
