"""Embedded default data and small reference models (nothing is downloaded).

The data ship with scikit-learn: the 8x8 handwritten digits (optionally
upsampled to 28x28x1, MNIST-shaped) and the Wisconsin breast cancer table.
"""

import numpy as np

from keras_mlsec._core import validation as v


def _split(x, y, test_size, seed):
    from sklearn.model_selection import train_test_split

    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"Expected `test_size` in (0, 1). Received: test_size={test_size}")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y)
    return (x_train, y_train.astype(np.int32)), (x_test, y_test.astype(np.int32))


def upsample(images, size):
    """Bilinear resize of a `(n, h, w)` batch to `(n, size, size)`, values kept in range."""
    from scipy.ndimage import zoom

    n, height, width = images.shape
    out = zoom(images, (1, size / height, size / width), order=1, grid_mode=True, mode="nearest")
    return np.clip(out, images.min(), images.max()).astype(np.float32)


def load_digits(image_size=8, *, test_size=0.25, seed=0, flatten=False):
    """The scikit-learn handwritten digits, scaled to [0, 1], split train/test.

    Args:
        image_size: 8 (original 8x8) or 28 (bilinear upsampling to 28x28, the
            MNIST shape).
        test_size: fraction held out for the test split.
        seed: seed of the stratified split.
        flatten: return `(n, image_size**2)` vectors instead of `(n, s, s, 1)`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`, float32 images in [0, 1]
        and int32 labels 0-9 (1,347 train and 450 test examples by default).

    Raises:
        ValueError: for an unsupported `image_size` or `test_size`.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_digits(image_size=28)
    """
    from sklearn import datasets

    if image_size not in (8, 28):
        raise ValueError(f"Expected `image_size` 8 or 28. Received: image_size={image_size!r}")
    bunch = datasets.load_digits()
    images = (bunch.images / 16.0).astype(np.float32)
    if image_size == 28:
        images = upsample(images, 28)
    x = images.reshape(len(images), -1) if flatten else images[..., None]
    return _split(x, bunch.target, test_size, seed)


def load_breast_cancer(*, test_size=0.25, seed=0, standardize=True):
    """The Wisconsin breast cancer table (569 x 30), binary labels.

    Args:
        test_size: fraction held out for the test split.
        seed: seed of the stratified split.
        standardize: scale features to zero mean, unit variance using the
            training split's statistics; otherwise min-max scale to [0, 1]
            (also fitted on the training split, test values clipped).

    Returns:
        `((x_train, y_train), (x_test, y_test))` with float32 features and
        int32 labels (0 malignant, 1 benign).
    """
    from sklearn import datasets

    bunch = datasets.load_breast_cancer()
    (x_train, y_train), (x_test, y_test) = _split(
        bunch.data.astype(np.float32), bunch.target, test_size, seed)
    if standardize:
        mean, std = x_train.mean(0), x_train.std(0) + 1e-8
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    else:
        low, high = x_train.min(0), x_train.max(0)
        scale = np.where(high > low, high - low, 1.0)
        x_train = (x_train - low) / scale
        x_test = np.clip((x_test - low) / scale, 0.0, 1.0)
    return (x_train.astype(np.float32), y_train), (x_test.astype(np.float32), y_test)


def reference_model(kind="mlp", input_shape=(8, 8, 1), num_classes=10, *, output="logits",
                    seed=0, compile=True):
    """Small reference classifiers used by the demo, tests, examples and benchmarks.

    Args:
        kind: "mlp" (Flatten-Dense128-Dense64) or "cnn"
            (Conv32-MaxPool-Conv64-MaxPool-Dense128).
        input_shape: per-example input shape; "cnn" needs (h, w, channels).
        num_classes: number of output classes.
        output: "logits" or "softmax" (the last Dense applies a softmax).
        seed: seed of the weight initialisers.
        compile: compile with Adam and sparse cross-entropy plus accuracy.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: for an unknown `kind` or `output`, or a bad shape.

    Example:
        >>> model = reference_model("cnn", (28, 28, 1), 10)
        >>> model.fit(x_train, y_train, epochs=3)
    """
    import keras

    if kind not in ("mlp", "cnn"):
        raise ValueError(f'Expected `kind` "mlp" or "cnn". Received: kind={kind!r}')
    if output not in ("logits", "softmax"):
        raise ValueError(f'Expected `output` "logits" or "softmax". Received: output={output!r}')
    num_classes = v.check_positive_int(num_classes, "num_classes")
    input_shape = tuple(int(d) for d in input_shape)
    if kind == "cnn" and len(input_shape) != 3:
        raise ValueError(
            "Expected `input_shape` (height, width, channels) for kind='cnn'. "
            f"Received: input_shape={input_shape}")
    init = keras.initializers.GlorotUniform
    inputs = keras.Input(input_shape)
    h = inputs
    if kind == "cnn":
        pool = input_shape[0] >= 16
        h = keras.layers.Conv2D(32, 3, padding="same", activation="relu",
                                kernel_initializer=init(seed))(h)
        if pool:
            h = keras.layers.MaxPooling2D()(h)
        h = keras.layers.Conv2D(64, 3, padding="same", activation="relu",
                                kernel_initializer=init(seed + 1))(h)
        h = keras.layers.MaxPooling2D()(h)
        h = keras.layers.Flatten()(h)
        h = keras.layers.Dense(128, activation="relu", kernel_initializer=init(seed + 2))(h)
    else:
        h = keras.layers.Flatten()(h)
        h = keras.layers.Dense(128, activation="relu", kernel_initializer=init(seed))(h)
        h = keras.layers.Dense(64, activation="relu", kernel_initializer=init(seed + 1))(h)
    activation = "softmax" if output == "softmax" else None
    outputs = keras.layers.Dense(num_classes, activation=activation,
                                 kernel_initializer=init(seed + 3))(h)
    model = keras.Model(inputs, outputs, name=f"reference_{kind}")
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=output == "logits"),
            metrics=["accuracy"])
    return model


CREDIT_FEATURES = ("group", "income", "debt_ratio", "credit_history", "employment_years",
                   "savings", "neighbourhood")
"""Column names of `load_credit`'s `x`: column 0 ("group") is the protected attribute."""


def load_credit(bias=0.3, *, num_examples=4000, test_size=0.25, seed=0):
    """A synthetic credit-approval table with a known, adjustable injected bias.

    Five financial features are drawn independently of a binary protected
    attribute (column 0, "group": 1 privileged, 0 unprivileged, half each);
    a sixth, "neighbourhood", is a noisy proxy of the group (correlation about
    0.8), as a postcode would be. A fair approval label comes from a logistic
    model of the financial features only, so both groups share the same base
    rate; then a fraction `bias` of the unprivileged group's approvals is
    flipped to refusals. The labels' disparate impact is therefore about
    `1 - bias` and their statistical parity difference about
    `-bias * base_rate` (base rate about 0.5): the injected, known answer a
    fairness check must find.

    Args:
        bias: fraction in [0, 1] of unprivileged approvals turned into
            refusals (0 is a fair data set).
        num_examples: rows in total, >= 20.
        test_size: fraction held out for the test split.
        seed: seed of the generator and of the stratified split.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: float32 features with the
        columns of `CREDIT_FEATURES` (group is 0.0/1.0; the others are
        standardized) and int32 labels (1 approved).

    Raises:
        ValueError: for `bias` outside [0, 1], too few examples or a bad
            `test_size`.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_credit(bias=0.4, seed=0)
        >>> from keras_mlsec.responsible import dataset_bias
        >>> dataset_bias(x_train, y_train, protected=0)["disparate_impact"]  # about 0.6
    """
    bias = v.check_non_negative(bias, "bias")
    if bias > 1:
        raise ValueError(f"Expected `bias` in [0, 1] (a fraction of approvals removed). "
                         f"Received: bias={bias}")
    num_examples = v.check_positive_int(num_examples, "num_examples")
    if num_examples < 20:
        raise ValueError(f"Expected `num_examples` >= 20. Received: num_examples={num_examples}")
    seed = v.check_seed(seed)
    rng = np.random.default_rng(seed)
    group = (rng.random(num_examples) < 0.5).astype(np.float32)
    finance = rng.standard_normal((num_examples, 5)).astype(np.float32)
    neighbourhood = 1.4 * (group - 0.5) + 0.5 * rng.standard_normal(num_examples)
    weights = np.array([1.5, -1.2, 1.0, 0.6, 0.0], np.float32)
    probability = 1.0 / (1.0 + np.exp(-(finance @ weights)))
    y = (rng.random(num_examples) < probability).astype(np.int32)
    flip = (group == 0) & (y == 1) & (rng.random(num_examples) < bias)
    y[flip] = 0
    x = np.column_stack([group, finance[:, :4], finance[:, 4], neighbourhood])
    return _split(x.astype(np.float32), y, test_size, seed)


def load_csv(path, *, label, features=None, positive=None):
    """Reads a user's table from a CSV file into arrays for the fairness tools.

    Args:
        path: CSV file with a header row.
        label: name of the label column.
        features: column names to keep, in order (default: every other
            column). They must be numeric (encode categories first).
        positive: label value counted as the favourable class 1; when None
            the labels must already be 0/1 (or class indices).

    Returns:
        `(x, y, feature_names)`: float32 features, int32 labels and the list
        of column names of `x` (pass `protected=feature_names.index("sex")`).

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: for a missing column, non-numeric features, or missing
            values.

    Example:
        >>> x, y, names = load_csv("loans.csv", label="approved")
    """
    import os

    import pandas as pd

    if not os.path.isfile(path):
        raise FileNotFoundError(f"Expected `path` to be a CSV file. Received: path={path!r}")
    frame = pd.read_csv(path)
    names = list(frame.columns) if features is None else list(features)
    if features is None:
        names.remove(label) if label in names else None
    missing = [c for c in [label, *names] if c not in frame.columns]
    if missing:
        raise ValueError(f"Expected columns {missing} in {path}. Received: columns "
                         f"{list(frame.columns)} (argument `label`/`features`).")
    table = frame[names]
    bad = [c for c in names if not pd.api.types.is_numeric_dtype(table[c])]
    if bad:
        raise ValueError(f"Expected numeric feature columns. Received: non-numeric columns {bad}; "
                         "encode them (e.g. pandas.get_dummies) or leave them out with `features`.")
    if table.isna().any().any() or frame[label].isna().any():
        raise ValueError(f"Expected no missing values in {path}. Received: missing values in "
                         f"{[c for c in [label, *names] if frame[c].isna().any()]}")
    y = frame[label].to_numpy()
    if positive is not None:
        y = (y == positive).astype(np.int32)
    return table.to_numpy(np.float32), v.check_labels(y, len(y), name="label"), names
