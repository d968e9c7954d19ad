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
