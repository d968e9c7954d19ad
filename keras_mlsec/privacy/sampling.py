"""Poisson sampling of training batches, the sampling DP-SGD accounting assumes.

The accountant (`keras_mlsec.privacy.accounting`) analyses every optimizer
step as a Poisson subsample: each of the `n` examples joins the batch
independently with probability `q = batch_size / n`, so batch sizes vary
(Binomial(n, q), possibly 0). Keras' shuffled fixed-size batches are a common
stand-in whose guarantee is not the one computed; `poisson_dataset` gives the
exact sampling as a `tf.data.Dataset` that `DPModel.fit` and
`keras_mlsec.callbacks.PrivacyBudget` recognise.
"""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.privacy import accounting

# Attribute set on the datasets built here; DPModel.fit and PrivacyBudget read it.
MARKER = "_keras_mlsec_sampling"
# Attribute holding what `InStepSampler` needs: the arrays, the rate and the step seeds.
SOURCE = "_keras_mlsec_poisson_source"


def sampling_of(data):
    """The sampling description attached by `poisson_dataset`, or None."""
    return getattr(data, MARKER, None)


def has_source(data):
    """Whether `data` is a `poisson_dataset` that `InStepSampler` can draw from."""
    return getattr(data, SOURCE, None) is not None


def _check_arrays(x, y, sample_weight):
    import tensorflow as tf

    arrays = {"x": x, "y": y, "sample_weight": sample_weight}
    arrays = {name: value for name, value in arrays.items() if value is not None}
    sizes = {}
    for name, value in arrays.items():
        for leaf in tf.nest.flatten(value):
            shape = np.shape(leaf)
            if not shape:
                raise ValueError(
                    f"Expected `{name}` to be array(s) with a leading example axis. "
                    f"Received: {name} of shape {shape}")
            sizes.setdefault(name, set()).add(int(shape[0]))
    counts = {size for group in sizes.values() for size in group}
    if len(counts) != 1:
        raise ValueError(
            "Expected `x`, `y` and `sample_weight` to hold the same number of examples. "
            f"Received: sizes {dict((k, sorted(s)) for k, s in sizes.items())}")
    return counts.pop()


def poisson_dataset(x, y=None, *, batch_size, sample_weight=None, seed=None):
    """A `tf.data.Dataset` of Poisson-sampled batches for DP-SGD.

    Every batch includes each example independently with probability
    `q = batch_size / num_examples`, so `batch_size` is the *expected* size
    and actual sizes vary (Binomial(num_examples, q); empty batches are
    possible and `DPModel` handles them). One pass over the dataset is one
    epoch of `ceil(num_examples / batch_size)` batches, the step count
    `compute_epsilon` and `PrivacyBudget` assume; each new pass (each epoch of
    `fit`) draws new batches, reproducibly for an int `seed` under the same
    TensorFlow global seed (`tf.data` combines the two, so set it too, e.g.
    with `keras.utils.set_random_seed`, for the same batches in every run).

    Pass the dataset itself to `fit` (no `batch_size`): wrapping it in further
    `tf.data` transformations drops the mark `DPModel` and `PrivacyBudget`
    read. `DPModel` then divides the noisy gradient sum by the expected batch
    size, as in the DP-SGD analysis (dividing by the actual size would reveal
    it).

    Args:
        x: input array (or nest of arrays) with a leading example axis.
        y: optional label array(s) with the same number of examples.
        batch_size: expected batch size, an int in [1, num_examples].
        sample_weight: optional per-example weights.
        seed: optional int seed (combined with TensorFlow's global seed);
            None draws a fresh one.

    Returns:
        A `tf.data.Dataset` yielding `x`, `(x, y)` or `(x, y, sample_weight)`
        batches; `ds._keras_mlsec_sampling` describes the sampling (dict with
        "sampling", "num_examples", "batch_size", "steps_per_epoch").

    Raises:
        ValueError: for `batch_size` larger than the data or < 1, mismatched
            array sizes, or no examples.
        TypeError: for a non-int `seed`.

    Example:
        >>> ds = poisson_dataset(x_train, y_train, batch_size=256, seed=0)
        >>> private.fit(ds, epochs=10, callbacks=[PrivacyBudget(3.0, 1e-5)])

    Reference:
        Abadi et al. 2016, "Deep Learning with Differential Privacy";
        Mironov, Talwar, Zhang 2019, "Renyi Differential Privacy of the
        Sampled Gaussian Mechanism".
    """
    import tensorflow as tf

    num_examples = _check_arrays(x, y, sample_weight)
    if num_examples < 1:
        raise ValueError("Expected at least one example. Received: x with 0 examples")
    batch_size = v.check_positive_int(batch_size, "batch_size")
    if batch_size > num_examples:
        raise ValueError(
            f"Expected `batch_size` <= the number of examples ({num_examples}): the "
            f"sampling rate batch_size / num_examples must be <= 1. Received: "
            f"batch_size={batch_size}")
    v.check_seed(seed)
    q, steps = accounting.sampling_rate_and_steps(num_examples=num_examples,
                                                  batch_size=batch_size, epochs=1)
    data = tuple(value for value in (x, y, sample_weight) if value is not None)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, data)

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(steps)
    dataset = seeds.map(lambda step_seed: draw_batch(step_seed, tensors, q)).prefetch(2)
    setattr(dataset, MARKER, {"sampling": "poisson", "num_examples": num_examples,
                              "batch_size": batch_size, "steps_per_epoch": steps})
    setattr(dataset, SOURCE, {"tensors": tensors, "rate": q, "seeds": seeds.prefetch(2)})
    return dataset


def draw_batch(step_seed, tensors, rate):
    """One step's Poisson batch: each row of `tensors` kept with probability `rate`.

    The draw is stateless (a function of the int64 `step_seed` alone), so the
    `poisson_dataset` pipeline and `InStepSampler` give the same batch for the
    same seed.

    Args:
        step_seed: scalar int64 tensor.
        tensors: tuple of 1 to 3 nests (`x`, `y`, `sample_weight`) of tensors
            with the same number of rows.
        rate: the sampling rate `q`, a float or a float32 scalar tensor.

    Returns:
        The batch: `tensors[0]` alone when there is one, else the tuple.
    """
    import tensorflow as tf

    rows = tf.shape(tf.nest.flatten(tensors)[0])[0]
    keys = tf.stack([step_seed, tf.constant(0, tf.int64)])
    chosen = tf.random.stateless_uniform([rows], seed=keys) < rate
    indices = tf.reshape(tf.where(chosen), [-1])
    batch = tf.nest.map_structure(lambda t: tf.gather(t, indices), tensors)
    return batch if len(batch) > 1 else batch[0]


class InStepSampler:
    """Draws `poisson_dataset` batches inside a compiled training step.

    On a CPU, the per-batch function of the `tf.data` pipeline adds a large
    share to a small model's `fit` step (see the input-pipeline lines of
    `benchmarks/bench_privacy.py`). So `DPModel.fit` feeds Keras
    only the dataset's step seeds (`seeds_of`) and its `train_step` calls
    `batch_of`, which draws the batch with `draw_batch` from a copy of the
    arrays held in variables for the duration of `fit`: the batches are the
    ones the dataset yields for the same seeds. A later dataset with the same
    structure, dtypes and row shapes reuses the variables (any number of
    examples), so the compiled step is not traced again.

    The object is not a TensorFlow trackable: the copy of the training data
    is never saved or exported with the model, and `release` empties it.
    """

    def __init__(self):
        self._variables = None  # the tuple of nests of tf.Variables, once loaded
        self._rate = None
        self._loaded = False

    def load(self, dataset):
        """Copies the arrays of a `poisson_dataset` into the variables.

        Returns:
            True when new variables replaced earlier ones (a compiled step that
            read those must be traced again), else False.
        """
        import tensorflow as tf

        source = getattr(dataset, SOURCE)
        tensors = source["tensors"]
        replaced = self._variables is not None and not self._fits(tensors)
        if self._variables is None or replaced:
            self._variables = tf.nest.map_structure(
                lambda t: tf.Variable(t, trainable=False,
                                      shape=tf.TensorShape([None]).concatenate(t.shape[1:])),
                tensors)
            self._rate = tf.Variable(float(source["rate"]), trainable=False, dtype="float32")
        else:
            tf.nest.map_structure(lambda var, t: var.assign(t), self._variables, tensors)
            self._rate.assign(float(source["rate"]))
        self._loaded = True
        return replaced

    def _fits(self, tensors):
        import tensorflow as tf

        try:
            tf.nest.assert_same_structure(self._variables, tensors)
        except (ValueError, TypeError):
            return False
        return all(var.dtype == t.dtype and var.shape[1:] == t.shape[1:]
                   for var, t in zip(tf.nest.flatten(self._variables), tf.nest.flatten(tensors)))

    @staticmethod
    def seeds_of(dataset):
        """The dataset of step seeds behind a `poisson_dataset` (what `fit` is given)."""
        return getattr(dataset, SOURCE)["seeds"]

    def batch_of(self, data):
        """The batch of a training step: drawn when `data` is a step seed, else `data`."""
        import tensorflow as tf

        flat = tf.nest.flatten(data)
        if (self._loaded and len(flat) == 1 and flat[0].dtype == tf.int64
                and flat[0].shape.rank == 0):
            return draw_batch(flat[0], self._variables, self._rate)
        return data

    def release(self):
        """Empties the variables (keeping them, so the step is not traced again)."""
        import tensorflow as tf

        if self._variables is not None:
            tf.nest.map_structure(
                lambda var: var.assign(tf.zeros([0, *var.shape[1:]], var.dtype)),
                self._variables)
        self._loaded = False
