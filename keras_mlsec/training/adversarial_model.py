"""`AdversarialModel`: adversarial training (PGD-AT, TRADES, FGSM-RS) as a `train_step`."""

import keras
import tensorflow as tf

from keras_mlsec._core import keras_internals
from keras_mlsec._core import validation as v
from keras_mlsec._core.perturbation import KerasRandom
from keras_mlsec._core.serialization import deserialize_wrapped, serialize_wrapped
from keras_mlsec.privacy.dp_model import DPModel, track_mean_loss
from keras_mlsec.training import _adversarial as adv


@keras.saving.register_keras_serializable(package="keras_mlsec")
class AdversarialModel(keras.Model):
    """Wraps a classifier so that `fit` trains it on adversarial examples.

    Every training step builds the adversarial batch on the fly from the
    attack's settings (eps, norm, step size, steps, random start, clip), with
    the inner model in inference mode and the attack aimed at its logits
    (a final softmax is bypassed), then takes one optimizer step:

    - "madry" (PGD-AT): `(1 - w) * loss(clean) + w * loss(adversarial)` with
      `w = adversarial_weight` (1.0: pure adversarial training, as in the
      paper; 0.5: the Goodfellow et al. mix). The attack's steps are used.
    - "fgsm_rs": the same loss, the batch made by one FGSM step of
      `step_size` (default 1.25 * eps) from a uniform random start.
    - "trades": `loss(clean) + beta * KL(softmax(clean) || softmax(adv))`,
      the adversarial example maximising that KL (PGD from a start within
      0.001 * eps of x); `adversarial_weight` is not used.

    `loss` is whatever loss was given to `compile` (sparse or one-hot labels;
    the attack reads the class from `y` either way). The reported `loss` is
    the training objective above; `adversarial_loss` is the compiled loss on
    the adversarial batch ("madry"/"fgsm_rs") or the KL term ("trades"). The
    compiled metrics (e.g. `accuracy`) describe the batch the model is
    trained on, the adversarial one (`metrics_on="adversarial"`, free: those
    predictions are made for the loss anyway), or the clean inputs
    (`metrics_on="clean"`: free when the clean loss is part of the objective,
    one extra forward pass outside the gradient tape when
    `adversarial_weight=1.0`). Validation (`validation_data`, `evaluate`) is
    clean, as for any model: add a `keras_mlsec.callbacks.RobustnessMonitor`
    for robust accuracy on held-out data.

    The attack runs as it is defined, in the graph: FGSM, PGD (random start,
    restarts), BIM (from x, step 1.25 * eps / steps), MIM (momentum) and
    APGD (step-size schedule, momentum, restarts). Any other attack (Square,
    Carlini-Wagner, APGD-T, EOT) is refused with a `ValueError`.

    **Under DP-SGD**: wrap a `keras_mlsec.privacy.DPModel`,
    `AdversarialModel(DPModel(model, ...), attack=...)`. Each step then
    builds the adversarial batch from the current network, and the DPModel
    clips each example's gradient of the objective above (all of it: clean
    and adversarial terms together, so the privacy unit stays the example),
    adds the noise and averages; `fit` on `poisson_dataset(...)` and
    `keras_mlsec.callbacks.PrivacyBudget` account it exactly as for the
    DPModel alone (the attack only reads the example being clipped). The
    ghost path handles the clean and adversarial copies in one pass.

    Prediction, evaluation, callbacks, `tf.distribute.MirroredStrategy` and
    `save`/`load_model` work as for any Keras model; the attack travels in
    the saved config.

    Args:
        model: the classifier to train (logits or softmax output).
        attack: an untargeted attack object with a budget, usually
            `keras_mlsec.attacks.PGD(eps=..., steps=...)` or
            `keras_mlsec.attacks.FGSM(eps=..., rand_init=True)`.
        method: "madry", "trades" or "fgsm_rs".
        beta: TRADES trade-off weight, >= 0 (6.0 in the paper).
        adversarial_weight: share of the adversarial loss in [0, 1] for
            "madry" and "fgsm_rs".
        seed: optional int seed of the random starts.
        metrics_on: "adversarial" (default) or "clean": the predictions the
            compiled metrics are computed on during training.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Raises:
        ValueError: for an unknown `method` or `metrics_on`, a bad `beta` or
            `adversarial_weight`, an attack that cannot run in the graph
            (see above), or one whose eps is zero, targeted, or larger than
            its clip range.
        TypeError: when `model` is not a `keras.Model` or `attack` is not an
            attack object.

    Example:
        >>> robust = AdversarialModel(model, attack=PGD(eps=0.1, steps=7))
        >>> robust.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
        ...                metrics=["accuracy"])
        >>> robust.fit(x_train, y_train, epochs=10, validation_data=(x_val, y_val))
        >>> private = AdversarialModel(DPModel(model, l2_norm_clip=1.0, noise_multiplier=1.1),
        ...                            attack=PGD(eps=0.1, steps=5))
        >>> private.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        >>> private.fit(poisson_dataset(x_train, y_train, batch_size=256), epochs=10,
        ...             callbacks=[PrivacyBudget(target_epsilon=3.0, delta=1e-5)])

    Reference:
        Madry et al., "Towards Deep Learning Models Resistant to Adversarial
        Attacks", ICLR 2018. Zhang et al., "Theoretically Principled Trade-off
        between Robustness and Accuracy" (TRADES), ICML 2019. Wong, Rice and
        Kolter, "Fast is better than free: Revisiting adversarial training",
        ICLR 2020.
    """

    wraps_model = "model"  # the wrapper protocol (_core.models.WRAPPER_ATTRIBUTE)

    def __init__(self, model, *, attack, method="madry", beta=6.0, adversarial_weight=1.0,
                 seed=None, metrics_on="adversarial", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.Model):
            raise TypeError("Expected `model` to be a `keras.Model`. "
                            f"Received: model of type {type(model).__name__}")
        v.check_seed(seed)
        self.model = model
        self.method = v.check_choice(method, list(adv.METHODS), "method")
        self.attack = attack
        self._settings = adv.attack_settings(adv.check_attack(attack, method), method)
        self._privacy_metadata = None
        self.beta = adv.check_beta(beta)
        self.adversarial_weight = adv.check_adversarial_weight(adversarial_weight)
        self.seed = seed
        self.metrics_on = v.check_choice(metrics_on, list(adv.METRICS_ON), "metrics_on",
                                         " (the predictions training metrics describe)")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.adversarial_loss_tracker = keras.metrics.Mean(name="adversarial_loss")
        if model.built:
            self.built = True

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    @property
    def metrics(self):
        return [*super().metrics, self.adversarial_loss_tracker]

    @property
    def _network(self):
        """The network the attack is aimed at (inside a DPModel when there is one)."""
        return self.model.model if isinstance(self.model, DPModel) else self.model

    # What PrivacyBudget reads from the model it watches, forwarded to a wrapped DPModel.
    @property
    def noise_multiplier(self):
        if not isinstance(self.model, DPModel):
            raise AttributeError("noise_multiplier: no DPModel inside this AdversarialModel")
        return self.model.noise_multiplier

    @property
    def fit_sampling(self):
        return self.model.fit_sampling if isinstance(self.model, DPModel) else None

    @property
    def privacy_metadata(self):
        if isinstance(self.model, DPModel):
            return self.model.privacy_metadata
        return self._privacy_metadata

    @privacy_metadata.setter
    def privacy_metadata(self, value):
        if isinstance(self.model, DPModel):
            self.model.privacy_metadata = value  # saved in the DPModel's config
        else:
            self._privacy_metadata = value

    def fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        """`keras.Model.fit`; with a DPModel inside, its sampling is noted as `DPModel.fit` does."""
        if isinstance(self.model, DPModel):
            kwargs = self.model.prepare_fit(x, batch_size, kwargs)
        return super().fit(x, y, batch_size, *args, **kwargs)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x_adv = adv.adversarial_batch(self._network, x, y, self._settings, self.method,
                                      KerasRandom(self.seed_generator))
        if isinstance(self.model, DPModel):
            adversarial_loss, y_pred, adv_pred = self._private_step(x, y, x_adv, sample_weight)
        else:
            with tf.GradientTape() as tape:
                loss, adversarial_loss, y_pred, adv_pred = self._objective(x, y, x_adv,
                                                                           sample_weight)
                keras_internals.loss_tracker(self).update_state(
                    keras_internals.unscale_loss_for_distribution(loss),
                    sample_weight=tf.shape(x)[0])
                scaled = self.optimizer.scale_loss(loss)
            variables = self.trainable_variables
            self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.adversarial_loss_tracker.update_state(
            keras_internals.unscale_loss_for_distribution(adversarial_loss),
            sample_weight=tf.shape(x)[0])
        if self.metrics_on == "adversarial":
            return self.compute_metrics(x_adv, y, adv_pred, sample_weight=sample_weight)
        if y_pred is None:
            # The clean term had weight 0: a forward pass kept out of the tape (no
            # backward pass is paid for it).
            y_pred = self._network(x, training=False)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _objective(self, x, y, x_adv, sample_weight):
        """Returns (training loss, adversarial term, clean predictions or None,
        adversarial predictions)."""
        weight = self.adversarial_weight
        adv_pred = self.model(x_adv, training=True)
        if self.method != "trades" and weight == 1.0:
            adversarial = self._compiled_loss(x_adv, y, adv_pred, sample_weight)
            return adversarial, adversarial, None, adv_pred
        y_pred = self.model(x, training=True)
        return (*self._mixed(x, y, x_adv, y_pred, adv_pred, sample_weight), y_pred, adv_pred)

    def _mixed(self, x, y, x_adv, y_pred, adv_pred, sample_weight):
        """(objective, adversarial term) from both predictions (TRADES or a weighted mix)."""
        clean = self._compiled_loss(x, y, y_pred, sample_weight)
        if self.method == "trades":
            kl = adv.trades_regularizer(self._network, y_pred, adv_pred)
            return clean + self.beta * kl, kl
        adversarial = self._compiled_loss(x_adv, y, adv_pred, sample_weight)
        weight = self.adversarial_weight
        return (1.0 - weight) * clean + weight * adversarial, adversarial

    def _private_step(self, x, y, x_adv, sample_weight):
        """One DP-SGD step of the wrapped DPModel on the adversarial objective.

        Each example's objective (its adversarial loss, or its clean and
        adversarial terms together) is what the DPModel clips per example.
        Returns (adversarial term, clean predictions or None, adversarial predictions).
        """
        private = self.model
        if self.method != "trades" and self.adversarial_weight == 1.0:
            def loss_fn(inputs, labels, preds, weights):
                return self._compiled_loss(inputs[0], labels, preds[0], weights)

            grads, losses, preds = private.private_gradients((x_adv,), y, sample_weight,
                                                             loss_fn=loss_fn)
            y_pred, adv_pred = None, preds[0]
            adversarial = tf.math.divide_no_nan(tf.reduce_sum(losses),
                                                tf.cast(tf.shape(losses)[0], losses.dtype))
        else:
            def loss_fn(inputs, labels, preds, weights):
                return self._mixed(inputs[0], labels, inputs[1], preds[0], preds[1], weights)[0]

            grads, losses, (y_pred, adv_pred) = private.private_gradients(
                (x, x_adv), y, sample_weight, loss_fn=loss_fn)
            adversarial = self._mixed(x, y, x_adv, y_pred, adv_pred, sample_weight)[1]
        self.optimizer.apply(grads, private.trainable_variables)
        track_mean_loss(self, losses, x)
        return adversarial, y_pred, adv_pred

    def _compiled_loss(self, x, y, y_pred, sample_weight):
        return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                 training=True)

    def get_config(self):
        config = super().get_config()
        config.update({
            "model": serialize_wrapped(self.model),
            "attack": keras.saving.serialize_keras_object(self.attack),
            "method": self.method,
            "beta": self.beta,
            "adversarial_weight": self.adversarial_weight,
            "seed": self.seed,
            "metrics_on": self.metrics_on,
        })
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = deserialize_wrapped(config["model"], custom_objects)
        config["attack"] = keras.saving.deserialize_keras_object(
            config["attack"], custom_objects=custom_objects)
        return cls(**config)
