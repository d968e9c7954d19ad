"""`DPModel`: DP-SGD as a Keras `train_step` (`make_private` builds one, calibrated)."""

import math

import keras
import tensorflow as tf

from keras_mlsec._core import keras_internals
from keras_mlsec._core import validation as v
from keras_mlsec._core.serialization import deserialize_wrapped, serialize_wrapped
from keras_mlsec.privacy import clipping, ghost_clipping, sampling

CLIPPING_MODES = ("auto", "ghost", "per_example")


def _find_batch_normalization(model):
    layers = keras_internals.flatten_layers(model)
    return [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]


def _check_private_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Expected `model` to be a `keras.Model`. "
            f"Received: model={v._short(model)} of type {type(model).__name__}")
    if type(model).train_step is not keras.Model.train_step:
        raise ValueError(
            "Expected a model that trains with Keras' own `train_step`: DPModel replaces "
            "it, so a custom one would be silently skipped. For adversarial training under "
            "DP-SGD wrap the other way round: "
            "AdversarialModel(DPModel(model, ...), attack=...). "
            f"Received: model of type {type(model).__name__} with its own train_step")
    found = _find_batch_normalization(model)
    if found:
        raise ValueError(
            "Expected `model` without BatchNormalization: it mixes the examples of a batch, "
            "so per-example gradients (and their privacy) are broken. Replace it with "
            "keras.layers.GroupNormalization or keras.layers.LayerNormalization. "
            f"Received: model with BatchNormalization layer(s) {[l.name for l in found]}")
    return model


@keras.saving.register_keras_serializable(package="keras_mlsec")
class DPModel(keras.Model):
    """Wraps a model so that `fit` trains it with DP-SGD.

    Each training step computes per-example gradients (vectorized), clips
    each to `l2_norm_clip` in global L2 norm, sums them, adds Gaussian noise
    of std `l2_norm_clip * noise_multiplier` and divides by the batch size;
    any Keras optimizer given to `compile` applies the result. Predictions,
    evaluation, callbacks and saving work as for any Keras model. Reported
    training loss and metrics come from the same (noise-free) forward pass.
    Random layers such as Dropout draw one mask for the whole batch inside
    the vectorized per-example pass (TensorFlow backend only).

    Account the privacy spent with `compute_epsilon(num_examples=...,
    batch_size=..., epochs=..., noise_multiplier=..., delta=...)`, or live
    with the `keras_mlsec.callbacks.PrivacyBudget` callback, which also
    stores the final guarantee in `privacy_metadata` (saved in the model's
    config). The accounting assumes Poisson sampling: pass
    `keras_mlsec.privacy.poisson_dataset(...)` to `fit` for it. Batches then
    vary in size (even empty ones) and the noisy gradient sum is divided by
    the expected batch size; with plain arrays Keras' shuffled fixed-size
    batches are used and divided by their actual size.

    The loss is evaluated on each example (or microbatch) on its own, so any
    Keras loss works whatever its `reduction`: reduced over a batch of one,
    it is that example's loss.

    Args:
        model: the `keras.Model` to train; it must not contain
            BatchNormalization (use GroupNormalization or LayerNormalization).
        l2_norm_clip: clipping norm `C` of each per-example gradient, > 0.
        noise_multiplier: `sigma` >= 0; the noise std on the summed gradient
            is `C * sigma`. 0 disables the noise (and the privacy).
        num_microbatches: `None` to clip each example, or a number of
            microbatches each batch is split into (faster, coarser): the
            averaged gradient of each microbatch is clipped, and the privacy
            guarantee is then per microbatch. A batch whose size is not a
            multiple of it is clipped per example.
        seed: optional int seed of the noise.
        clipping: how per-example norms are computed (without microbatches).
            "ghost": from each layer's inputs and output gradients, about one
            extra backward pass (Dense, Conv2D, Embedding, LayerNormalization
            and weightless layers in a Sequential or functional model; see
            `ghost_clipping`); Dropout then draws a mask per example.
            "per_example": the vectorized per-example gradients. "auto"
            (default): "ghost" where the model is supported, else "per_example".
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Raises:
        ValueError: for `l2_norm_clip <= 0`, `noise_multiplier < 0`, a bad
            `num_microbatches`, a model with BatchNormalization, a bad
            `clipping`, or `clipping="ghost"` on an unsupported model.
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> private = DPModel(model, l2_norm_clip=1.0, noise_multiplier=1.1)
        >>> private.compile(optimizer=keras.optimizers.SGD(0.1),
        ...                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> private.fit(x, y, batch_size=256, epochs=10)

    Reference:
        Abadi et al. 2016, "Deep Learning with Differential Privacy";
        Goodfellow 2015, Lee & Kifer 2021, Li et al. 2022 (ghost clipping).
    """

    wraps_model = "model"  # the wrapper protocol (_core.models.WRAPPER_ATTRIBUTE)

    def __init__(self, model, *, l2_norm_clip, noise_multiplier, num_microbatches=None,
                 seed=None, clipping="auto", **kwargs):
        super().__init__(**kwargs)
        self.model = _check_private_model(model)
        self.l2_norm_clip = v.check_positive(l2_norm_clip, "l2_norm_clip")
        self.noise_multiplier = v.check_non_negative(noise_multiplier, "noise_multiplier")
        self.num_microbatches = (None if num_microbatches is None
                                 else v.check_positive_int(num_microbatches, "num_microbatches"))
        v.check_seed(seed)
        self.clipping = v.check_choice(clipping, CLIPPING_MODES, "clipping")
        if clipping == "ghost" and model.built:
            self.clipping_path()
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.privacy_metadata = None  # set by PrivacyBudget; saved in get_config
        self.fit_sampling = None  # how the last `fit` batched its data (see `fit`)
        # What the noisy sum is divided by: the expected batch size under Poisson sampling,
        # 0 for "the actual batch size". A variable read by the compiled step, so that
        # switching between inputs never retraces it. A raw tf.Variable: not a Keras
        # weight, so it is not saved (each `fit` sets it).
        self._denominator = tf.Variable(0.0, trainable=False, dtype="float32",
                                        name="dp_denominator")
        self._sampler = sampling.InStepSampler()  # Poisson batches drawn in the step (`fit`)
        if model.built:
            self.built = True

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    def clipping_path(self):
        """"ghost" or "per_example": how `train_step` computes per-example norms.

        Raises:
            ValueError: for `clipping="ghost"` on a model the ghost path
                does not support (naming the layer).
        """
        if self.clipping == "per_example" or self.num_microbatches is not None:
            return "per_example"
        unsupported = ghost_clipping.find_unsupported(self.model)
        if unsupported is None:
            return "ghost"
        if self.clipping == "ghost":
            raise ValueError(
                "Expected a model whose weighted layers all support ghost clipping (Dense, "
                "Conv2D, Embedding, LayerNormalization in Sequential/functional models), "
                f"or clipping='auto'. Received: unsupported layer={unsupported}")
        return "per_example"

    @property
    def _expected_batch_size(self):
        value = int(self._denominator.numpy())
        return value or None

    def private_gradients(self, inputs, y=None, sample_weight=None, *, loss_fn=None):
        """The DP-SGD gradient of one batch, for composing training steps.

        Every example's gradient of `loss_fn` is clipped to `l2_norm_clip`
        (by the ghost or the per-example path, see `clipping`), the clipped
        gradients are summed, Gaussian noise of std
        `l2_norm_clip * noise_multiplier` is added and the sum is divided by
        the batch size (the expected one under Poisson sampling).

        Args:
            inputs: a tuple of `G` input batches of the same examples (each
                what the wrapped model takes); `(x,)` for plain DP-SGD, or
                e.g. `(x, x_adv)` when the loss of an example depends on a
                clean and an adversarial copy. The privacy unit stays the
                example: all its copies together are clipped to the norm.
            y: the labels, or None.
            sample_weight: per-example weights, or None.
            loss_fn: `loss_fn(inputs, y, y_preds, sample_weight) -> scalar`,
                called on one example (a batch of one) or one microbatch at a
                time, with `inputs` and `y_preds` tuples of `G`; default: this
                model's compiled loss on `inputs[0]`.

        Returns:
            `(gradients, losses, y_preds)`: one noisy gradient per variable of
            `trainable_variables`, the per-example (or per-microbatch)
            losses and the tuple of the `G` predictions on the batch.
        """
        inputs = tuple(inputs)
        if loss_fn is None:
            loss_fn = self._compiled_example_loss
        variables = self.trainable_variables
        noise = dict(l2_norm_clip=self.l2_norm_clip, noise_multiplier=self.noise_multiplier,
                     seed=self.seed_generator, denominator=self._denominator)
        if self.clipping_path() == "ghost":
            groups = len(inputs)
            stacked = inputs[0] if groups == 1 else tf.nest.map_structure(
                lambda *parts: tf.concat(parts, 0), *inputs)
            size = tf.shape(tf.nest.flatten(inputs[0])[0])[0]

            def example_losses(y_pred):
                preds = tuple(tf.nest.map_structure(lambda t, i=i: t[i * size:(i + 1) * size],
                                                    y_pred) for i in range(groups))
                return _per_example(loss_fn, inputs, y, preds, sample_weight)

            summed, losses, y_pred, _ = ghost_clipping.ghost_gradients(
                self.model, example_losses, variables, stacked,
                l2_norm_clip=self.l2_norm_clip, groups=groups)
            y_preds = tuple(tf.nest.map_structure(lambda t, i=i: t[i * size:(i + 1) * size],
                                                  y_pred) for i in range(groups))
            grads = clipping.noisy_mean(summed, tf.shape(losses)[0], **noise)
            return grads, losses, y_preds

        def microbatch_loss(microbatch):
            preds = tuple(self.model(x, training=True) for x in microbatch["x"])
            return loss_fn(microbatch["x"], microbatch.get("y"), preds,
                           microbatch.get("sample_weight")), preds

        batch = {"x": inputs, "y": y, "sample_weight": sample_weight}
        batch = {key: value for key, value in batch.items() if value is not None}
        return clipping.private_gradients(microbatch_loss, variables, batch,
                                          num_microbatches=self.num_microbatches, **noise)

    def _compiled_example_loss(self, inputs, y, y_preds, sample_weight):
        return self.compute_loss(x=inputs[0], y=y, y_pred=y_preds[0],
                                 sample_weight=sample_weight, training=True)

    def train_step(self, data):
        data = self._sampler.batch_of(data)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        grads, losses, y_preds = self.private_gradients((x,), y, sample_weight)
        self.optimizer.apply(grads, self.trainable_variables)
        track_mean_loss(self, losses, x)
        return self.compute_metrics(x, y, y_preds[0], sample_weight=sample_weight)

    def fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        """`keras.Model.fit`, noting how the data are sampled for accounting.

        A dataset from `poisson_dataset` switches the gradient denominator to
        its expected batch size (without retracing the compiled step).
        `fit_sampling` records the sampling ("poisson" or "shuffle"),
        `num_examples` and `batch_size` (None where unknown, e.g. a plain
        `tf.data.Dataset`) for `PrivacyBudget`.

        The batches of a `poisson_dataset` are drawn inside the compiled
        training step rather than by its `tf.data` pipeline (the same batches,
        see `sampling.InStepSampler`); this holds a copy of the dataset's
        arrays for the duration of `fit` (not with `class_weight`, which
        Keras applies to the dataset's batches, nor under a distribution
        strategy with several replicas, where each would draw a whole batch).
        """
        kwargs = self.prepare_fit(x, batch_size, kwargs)
        if (not sampling.has_source(x) or kwargs.get("class_weight") is not None
                or tf.distribute.get_strategy().num_replicas_in_sync > 1):
            return super().fit(x, y, batch_size, *args, **kwargs)
        if self._sampler.load(x):
            self.train_function = None  # a step traced before read other variables
        try:
            return super().fit(self._sampler.seeds_of(x), y, batch_size, *args, **kwargs)
        finally:
            self._sampler.release()

    def prepare_fit(self, x, batch_size, fit_kwargs):
        """What `fit` does before Keras' own `fit`; returns the `fit` keyword arguments.

        A wrapper that trains this model inside its own `fit` (e.g.
        `AdversarialModel(DPModel(...))`) calls it with its `fit`'s data.
        """
        fit_kwargs = dict(fit_kwargs)
        described = sampling.sampling_of(x)
        if described is None:
            described = {"sampling": "shuffle", "num_examples": _num_examples(x, fit_kwargs),
                         "batch_size": None}
            if described["num_examples"] is not None:
                described["batch_size"] = min(batch_size or 32, described["num_examples"])
            expected = None
        else:
            expected = described["batch_size"] if self.num_microbatches is None else None
            fit_kwargs.setdefault("shuffle", False)  # the batches are already random
        self.fit_sampling = dict(described)
        self._denominator.assign(float(expected or 0))
        return fit_kwargs

    def get_config(self):
        config = super().get_config()
        config.update({
            "model": serialize_wrapped(self.model),
            "l2_norm_clip": self.l2_norm_clip,
            "noise_multiplier": self.noise_multiplier,
            "num_microbatches": self.num_microbatches,
            "seed": self.seed,
            "clipping": self.clipping,
        })
        if self.privacy_metadata is not None:
            config["privacy_metadata"] = dict(self.privacy_metadata)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        metadata = config.pop("privacy_metadata", None)
        config["model"] = deserialize_wrapped(config["model"], custom_objects)
        model = cls(**config)
        model.privacy_metadata = metadata
        return model


def _per_example(loss_fn, inputs, y, y_preds, sample_weight):
    """`(B,)` losses: `loss_fn` on each example alone (a batch of one), vectorized."""
    items = {"x": inputs, "y": y, "y_pred": y_preds, "sample_weight": sample_weight}
    items = {key: value for key, value in items.items() if value is not None}

    def one(item):
        item = tf.nest.map_structure(lambda t: tf.expand_dims(t, 0), item)
        return loss_fn(item["x"], item.get("y"), item["y_pred"], item.get("sample_weight"))

    return tf.vectorized_map(one, items, fallback_to_while_loop=True)


def track_mean_loss(model, losses, x):
    """Records the mean of the per-example `losses` (0 for an empty batch) as `loss`."""
    size = tf.shape(tf.nest.flatten(x)[0])[0]
    count = tf.cast(tf.shape(losses)[0], losses.dtype)
    mean_loss = tf.math.divide_no_nan(tf.reduce_sum(losses), count)
    keras_internals.loss_tracker(model).update_state(mean_loss, sample_weight=size)


def _num_examples(x, fit_kwargs):
    """Training examples `fit` will batch from array data; None for datasets/generators."""
    import numpy as np
    if x is None or isinstance(x, tf.data.Dataset) or hasattr(x, "__next__"):
        return None
    leaves = tf.nest.flatten(x)
    shape = np.shape(leaves[0]) if leaves else ()
    if not shape or isinstance(x, keras.utils.PyDataset):
        return None
    split = float(fit_kwargs.get("validation_split") or 0.0)
    return int(math.floor(int(shape[0]) * (1.0 - split)))
