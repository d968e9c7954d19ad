"""The `Attack` base class and the batched runner every evasion attack uses."""

import inspect

import keras
import tensorflow as tf

from keras_mlsec._core import models
from keras_mlsec._core import validation as v
from keras_mlsec._core.models import num_classes_of, predict_labels

FIXED_BUDGET = "fixed_budget"
MINIMUM_NORM = "minimum_norm"
KINDS = (FIXED_BUDGET, MINIMUM_NORM)


def check_common(*, eps=None, norm=None, clip=(0.0, 1.0), batch_size=256, steps=None,
                 step_size=None, restarts=None, seed=None, eot_samples=None):
    """Validates the hyper-parameters shared by the attacks; returns them normalised."""
    out = {}
    if eps is not None:
        out["eps"] = v.check_non_negative(eps, "eps")
    if norm is not None:
        out["norm"] = v.check_norm(norm)
    out["clip"] = v.check_clip(clip)
    out["batch_size"] = v.check_positive_int(batch_size, "batch_size")
    if steps is not None:
        out["steps"] = v.check_positive_int(steps, "steps")
    if step_size is not None:
        out["step_size"] = v.check_positive(step_size, "step_size")
    if restarts is not None:
        out["restarts"] = v.check_positive_int(restarts, "restarts")
    if eot_samples is not None:
        out["eot_samples"] = v.check_positive_int(eot_samples, "eot_samples")
    v.check_seed(seed)
    if out["clip"] is not None and out.get("eps") is not None and out.get("norm") == "linf":
        low, high = out["clip"]
        if out["eps"] > high - low:
            raise ValueError(
                f"Expected `eps` no larger than the width of the clip range ({high - low}). "
                f"Received: eps={out['eps']} with clip={out['clip']}. Is the data scaled "
                "to the clip range?"
            )
    return out


def check_target_classes(targeted, num_target_classes):
    """`(targeted, num_target_classes)` validated for the multi-target mode.

    `num_target_classes` (AutoAttack's APGD-T and FAB-T: one run towards each
    of the most likely other classes) is a positive int, and only for an
    untargeted attack (a targeted one reads its targets from `y`).
    """
    targeted = bool(targeted)
    if num_target_classes is not None:
        num_target_classes = v.check_positive_int(num_target_classes, "num_target_classes")
        if targeted:
            raise ValueError(
                "Expected `num_target_classes=None` with targeted=True (then `y` holds the "
                f"targets). Received: num_target_classes={num_target_classes}")
    return targeted, num_target_classes


def check_target_classes_fit(num_target_classes, num_classes):
    """Raises unless `num_target_classes` (None or an int) <= `num_classes - 1`."""
    if num_target_classes and num_target_classes > num_classes - 1:
        raise ValueError(
            f"Expected `num_target_classes` <= {num_classes - 1} (the classes other than the "
            f"true one). Received: num_target_classes={num_target_classes}")


def run_batched(batch_fn, model, x, y, *, targeted, clip, batch_size, verbose=0, name="attack"):
    """Validates inputs, then applies `batch_fn(logits_fn, x_batch, y_batch)` batch by batch.

    Args:
        batch_fn: callable returning the adversarial batch as a tensor.
        model: the attacked `keras.Model`.
        x: inputs, inside `clip`.
        y: sparse or one-hot labels (targets when `targeted`), or None to
            attack the model's own predictions.
        targeted: whether `y` holds target classes.
        clip: validated `(min, max)` domain or None.
        batch_size: examples per batch.
        verbose: 1 shows a progress bar.
        name: label of the progress bar.

    Returns:
        A float32 tensor of adversarial examples, same shape as `x`.
    """
    model = v.check_model(model)
    x = v.check_inputs(x, model=model, clip=clip)
    logits_fn = models.logits_function(model)
    num_classes = num_classes_of(model, logits_fn, x)
    if y is None:
        if targeted:
            raise ValueError(
                "Expected target labels `y` for a targeted attack. Received: y=None. "
                "Pass the classes to reach, or use targeted=False."
            )
        labels = predict_labels(logits_fn, x, batch_size)
    else:
        labels = v.check_labels(y, len(x), num_classes)
    progress = keras.utils.Progbar(len(x), unit_name="example") if verbose else None
    if progress is not None:
        print(f"{name}: {len(x)} examples")
    parts = []
    for start in range(0, len(x), batch_size):
        xb = tf.constant(x[start:start + batch_size])
        yb = tf.constant(labels[start:start + batch_size])
        parts.append(tf.convert_to_tensor(batch_fn(logits_fn, xb, yb)))
        if progress is not None:
            progress.update(min(start + batch_size, len(x)))
    return tf.concat(parts, 0)


class Attack:
    """Base class of the attack objects: a callable that keeps hyper-parameters.

    Subclasses set `attack_fn` (the module-level function doing the work) and
    store one attribute per constructor argument, so `get_config()` and
    `from_config()` round-trip and the attack can travel inside a saved model.

    Each subclass also declares what it is, as class attributes that
    `evaluate_robustness` and the masking checks read (never the signature):

    - `kind`: `FIXED_BUDGET` ("fixed_budget": searches the ball of radius
      `eps`, which the evaluation sets per budget) or `MINIMUM_NORM`
      ("minimum_norm": no budget, returns the smallest perturbation it finds;
      the evaluation compares its norm with each eps).
    - `norms`: the norms it can attack in, a tuple of "linf" / "l2".
    - `uses_gradients`: False for score-based black-box attacks (Square).
    - `supports_eot`: whether it takes `eot_samples` (averages gradients
      over random forward passes, for models with random layers).
    - `iterative`: False for single-step attacks (FGSM).

    Example:
        >>> attack = PGD(eps=0.1, steps=20)
        >>> x_adv = attack(model, x, y)
    """

    attack_fn = None
    name = "attack"
    kind = FIXED_BUDGET
    norms = ("linf", "l2")
    uses_gradients = True
    supports_eot = False
    iterative = True

    def __call__(self, model, x, y=None, **overrides):
        """Runs the attack; keyword `overrides` replace stored hyper-parameters."""
        config = {**self.get_config(), **overrides}
        return type(self).attack_fn(model, x, y, **config)

    def get_config(self):
        """Returns the constructor arguments as a dict."""
        params = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in params if name != "self"}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={val!r}" for k, val in self.get_config().items())
        return f"{type(self).__name__}({args})"
