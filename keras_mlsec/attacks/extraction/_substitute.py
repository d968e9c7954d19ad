"""The attacker's copy: a Keras model (reference architecture or the user's) or a random forest."""

import numpy as np

from keras_mlsec._core.models import compiled, logits_function
from keras_mlsec.datasets import reference_model


def default_epochs(num_examples):
    """Epochs over `num_examples` answers: about 20,000 examples seen, 10 to 50 epochs."""
    return int(np.clip(round(20_000 / max(num_examples, 1)), 10, 50))


def check_substitute(substitute):
    """Checks the `substitute` argument: None, "random_forest", a keras.Model or a builder."""
    if substitute is None or substitute == "random_forest" or callable(substitute):
        return substitute
    raise ValueError(
        'Expected `substitute` to be None (the reference architecture), "random_forest", '
        "a keras.Model or a function (input_shape, num_classes) -> keras.Model. "
        f"Received: substitute={substitute!r}")


class Substitute:
    """Trains and queries the substitute; keeps snapshots for the agreement curve."""

    def __init__(self, spec, input_shape, num_classes, *, seed=None, batch_size=64):
        self.input_shape = tuple(input_shape)
        self.num_classes = int(num_classes)
        self.seed = seed
        self.batch_size = batch_size
        self.is_forest = isinstance(spec, str)
        self.model = None if self.is_forest else self._build(spec)
        self.forest = None

    def _build(self, spec):
        import keras

        seed = 0 if self.seed is None else self.seed
        if spec is None:
            kind = "cnn" if len(self.input_shape) == 3 and self.input_shape[0] >= 8 else "mlp"
            model = reference_model(kind, self.input_shape, self.num_classes, seed=seed,
                                    compile=False)
        elif isinstance(spec, keras.Model):
            model = keras.models.clone_model(spec)
        else:
            model = spec(self.input_shape, self.num_classes)
        if not isinstance(model, keras.Model):
            raise TypeError(
                "Expected `substitute` to build a keras.Model. Received: a builder returning "
                f"{type(model).__name__}.")
        width = model.output_shape[-1]
        if width != self.num_classes:
            raise ValueError(
                f"Expected the `substitute` model to output {self.num_classes} class scores "
                f"(the victim's classes). Received: output shape {model.output_shape}.")
        from_logits = not logits_function(model).from_softmax
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.CategoricalCrossentropy(from_logits=from_logits))
        return model

    def fit(self, x, answers, epochs):
        """Trains on the answers so far (probability rows or labels), warm-starting."""
        targets = answers
        if answers.ndim == 1:
            targets = np.eye(self.num_classes, dtype=np.float32)[answers]
        if self.is_forest:
            from sklearn.ensemble import RandomForestClassifier

            self.forest = RandomForestClassifier(n_estimators=100, random_state=self.seed,
                                                 n_jobs=1)
            self.forest.fit(x.reshape(len(x), -1), np.argmax(targets, 1))
            return
        import tensorflow as tf

        data = tf.data.Dataset.from_tensor_slices((x.astype(np.float32),
                                                   targets.astype(np.float32)))
        data = data.shuffle(len(x), seed=self.seed).batch(self.batch_size)
        self.model.fit(data, epochs=epochs, verbose=0, shuffle=False)

    def predict_proba(self, x):
        """Class probabilities of the substitute (a forest's columns aligned to the classes)."""
        x = np.asarray(x, np.float32)
        if self.is_forest:
            out = np.zeros((len(x), self.num_classes), np.float32)
            out[:, self.forest.classes_] = self.forest.predict_proba(x.reshape(len(x), -1))
            return out
        import tensorflow as tf

        logits_fn = logits_function(self.model)
        proba = compiled(logits_fn, ("softmax",),
                         lambda: lambda xb: tf.nn.softmax(logits_fn(xb)))
        parts = [proba(tf.constant(x[i:i + 512])).numpy() for i in range(0, len(x), 512)]
        return np.concatenate(parts, 0)

    def predict_labels(self, x):
        return np.argmax(self.predict_proba(x), 1).astype(np.int32)

    def class_gradient_sign(self, x, labels):
        """Sign of d logit[label] / dx, the Jacobian column Papernot et al. augment along."""
        import tensorflow as tf

        logits_fn = logits_function(self.model)
        x = tf.constant(x, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            picked = tf.gather(logits_fn(x), labels, batch_dims=1)
        return np.sign(tape.gradient(picked, x).numpy())

    def snapshot(self):
        return self.forest if self.is_forest else [w.copy() for w in self.model.get_weights()]

    def restore(self, snapshot):
        if self.is_forest:
            self.forest = snapshot
        else:
            self.model.set_weights(snapshot)

    @property
    def result(self):
        """What the user gets: the Keras model or the fitted forest."""
        return self.forest if self.is_forest else self.model
