"""`AdversarialDebiasingModel`: in-processing bias mitigation (Zhang et al. 2018), a `train_step`."""

import numbers

import keras

from keras_mlsec._core import validation as v
from keras_mlsec._core.serialization import deserialize_wrapped, serialize_wrapped

FAIRNESS = ("demographic_parity", "equalized_odds")


def favourable_logit(y_pred, from_sigmoid):
    """The logit of the favourable class from a binary model's output (1 or 2 units)."""
    from keras import ops

    if y_pred.shape[-1] == 2:
        if from_sigmoid:  # two softmax probabilities
            y_pred = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        return y_pred[:, 1] - y_pred[:, 0]
    z = ops.reshape(y_pred, (-1,))
    if from_sigmoid:
        z = ops.clip(z, 1e-7, 1 - 1e-7)
        z = ops.log(z) - ops.log(1.0 - z)
    return z


def project_out(gradient, direction):
    """`gradient` minus its projection on `direction` (Zhang et al.'s projection term).

    >>> project_out(np.array([1., 1.]), np.array([2., 0.]))  # -> [0., 1.]
    """
    from keras import ops

    unit = direction / (ops.norm(ops.reshape(direction, (-1,))) + 1e-12)
    return gradient - ops.sum(gradient * unit) * unit


@keras.saving.register_keras_serializable(package="keras_mlsec")
class AdversarialDebiasingModel(keras.Model):
    """Trains a binary classifier against an adversary that guesses the protected group.

    At each step the adversary (logistic regression on the predictor's
    favourable-class probability `s = sigmoid((1 + |c|) z)`, and for
    "equalized_odds" also on `s * y` and `s * (1 - y)`) learns to predict
    the protected attribute; the predictor's weights move along
    `grad L_P - proj_{grad L_A} grad L_P - adversary_weight * grad L_A`,
    which lowers the task loss `L_P` without helping the adversary and
    pushes its loss `L_A` up. At equilibrium the decisions carry no
    information about the group (demographic parity) or none beyond the
    label (equalized odds).

    The wrapped model keeps its own inputs: the protected attribute is read
    from column `protected` of `x` (a model that should not see it directly
    can ignore that column, e.g. through a first layer that drops it).
    Compile with the task loss (`binary_crossentropy` for one output unit,
    `sparse_categorical_crossentropy` for two); `adversary_loss` joins the
    logs.

    Args:
        model: a binary classifier `keras.Model`: one output unit (logit, or
            sigmoid probability) or two (logits or softmax).
        protected: column index of `x` holding the protected attribute.
        privileged: the value of that column marking the privileged group.
        adversary_weight: `alpha`, the strength of the adversarial term, >= 0
            (0 trains the plain model plus the projection term).
        fairness: "demographic_parity" or "equalized_odds".
        adversary_learning_rate: Adam learning rate of the adversary.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Raises:
        TypeError: when `model` is not a `keras.Model`.
        ValueError: for a bad `protected` index, `adversary_weight`,
            `fairness` or `adversary_learning_rate`, or a model with other
            than one or two outputs.

    Example:
        >>> fair = AdversarialDebiasingModel(model, protected=0, adversary_weight=1.0)
        >>> fair.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        >>> fair.fit(x_train, y_train, epochs=20)

    Reference:
        Zhang, Lemoine and Mitchell, "Mitigating Unwanted Biases with
        Adversarial Learning", AIES 2018.
    """

    def __init__(self, model, *, protected, privileged=1, adversary_weight=1.0,
                 fairness="demographic_parity", adversary_learning_rate=1e-3, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.Model):
            raise TypeError("Expected `model` to be a `keras.Model`. "
                            f"Received: model of type {type(model).__name__}")
        units = model.output_shape[-1] if getattr(model, "outputs", None) else None
        if units not in (1, 2):
            shape = getattr(model, "output_shape", None)
            raise ValueError("Expected a binary classifier with 1 or 2 output units. "
                             f"Received: model with output shape {shape}")
        if isinstance(protected, bool) or not isinstance(protected, numbers.Integral):
            raise ValueError("Expected `protected` to be the column index (int) of the protected "
                             f"attribute in x. Received: protected={protected!r}")
        self.model = model
        self.protected = int(protected)
        self.privileged = privileged
        self.adversary_weight = v.check_non_negative(adversary_weight, "adversary_weight")
        self.fairness = v.check_choice(fairness, FAIRNESS, "fairness")
        self.adversary_learning_rate = v.check_positive(adversary_learning_rate,
                                                        "adversary_learning_rate")
        last = model.layers[-1] if model.layers else None
        name = getattr(getattr(last, "activation", None), "__name__", "")
        self._from_probabilities = name in ("sigmoid", "softmax")
        inputs = 3 if self.fairness == "equalized_odds" else 1
        self.adversary = keras.layers.Dense(1, name="adversary")
        self.adversary.build((None, inputs))
        self.adversary_scale = self.add_weight(shape=(), initializer="ones", name="adversary_c")
        self.adversary_optimizer = keras.optimizers.Adam(self.adversary_learning_rate)
        self.adversary_optimizer.build(self._adversary_variables)
        self.adversary_loss_tracker = keras.metrics.Mean(name="adversary_loss")
        if model.built:
            self.built = True

    @property
    def _adversary_variables(self):
        return [*self.adversary.trainable_variables, self.adversary_scale]

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    @property
    def metrics(self):
        return [*super().metrics, self.adversary_loss_tracker]

    def _adversary_loss(self, y_pred, y, groups):
        from keras import ops

        z = favourable_logit(y_pred, self._from_probabilities)
        s = ops.sigmoid((1.0 + ops.abs(self.adversary_scale)) * z)[:, None]
        if self.fairness == "equalized_odds":
            label = ops.cast(ops.reshape(y, (-1, 1)), s.dtype)
            if y_pred.shape[-1] == 2 and len(y.shape) == 2 and y.shape[-1] == 2:
                label = ops.cast(y[:, 1:2], s.dtype)
            s = ops.concatenate([s, s * label, s * (1.0 - label)], axis=1)
        logits = ops.reshape(self.adversary(s), (-1,))
        return ops.mean(ops.binary_crossentropy(groups, logits, from_logits=True))

    def train_step(self, data):
        import tensorflow as tf
        from keras import ops

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        groups = ops.cast(ops.equal(x[:, self.protected], self.privileged), "float32")
        predictor = self.model.trainable_variables
        if not self.optimizer.built:  # on every trainable variable, as load_model rebuilds it
            self.optimizer.build(self.trainable_variables)
        with tf.GradientTape(persistent=True) as tape:
            y_pred = self.model(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            adversary_loss = self._adversary_loss(y_pred, y, groups)
        task_gradients = tape.gradient(loss, predictor)
        adversary_gradients = tape.gradient(adversary_loss, predictor)
        gradients = [
            task if adv is None or task is None else
            project_out(task, adv) - self.adversary_weight * adv
            for task, adv in zip(task_gradients, adversary_gradients)]
        self.optimizer.apply(gradients, predictor)
        own = self._adversary_variables
        self.adversary_optimizer.apply(tape.gradient(adversary_loss, own), own)
        del tape
        self._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
        self.adversary_loss_tracker.update_state(adversary_loss, sample_weight=tf.shape(x)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update({"model": serialize_wrapped(self.model), "protected": self.protected,
                       "privileged": self.privileged, "adversary_weight": self.adversary_weight,
                       "fairness": self.fairness,
                       "adversary_learning_rate": self.adversary_learning_rate})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = deserialize_wrapped(config["model"], custom_objects)
        return cls(**config)
