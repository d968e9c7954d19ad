"""Pure pieces of adversarial training: checks, attack settings, adversarial batches."""

import numbers

import tensorflow as tf

from keras_mlsec._core import losses, models, perturbation
from keras_mlsec._core import validation as v
from keras_mlsec.attacks.base import Attack, check_common

METHODS = ("madry", "trades", "fgsm_rs")
METRICS_ON = ("adversarial", "clean")
# TRADES starts its KL maximisation this close to x (the paper's 0.001 * N(0, 1)).
TRADES_INIT_SCALE = 1e-3


def check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0 \
            or beta == float("inf"):
        raise ValueError("Expected `beta` (the TRADES robustness weight) to be a finite "
                         f"number >= 0. Received: beta={beta!r}")
    return float(beta)


def check_adversarial_weight(weight):
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0 <= weight <= 1:
        raise ValueError("Expected `adversarial_weight` to be a number in [0, 1] (the share "
                         f"of the adversarial loss). Received: adversarial_weight={weight!r}")
    return float(weight)


def check_attack(attack):
    """Checks the training attack and returns its config, norm and clip normalised."""
    if not isinstance(attack, Attack):
        raise TypeError("Expected `attack` to be a keras_mlsec attack object such as "
                        f"keras_mlsec.attacks.PGD(eps=0.1). Received: attack={v._short(attack)} "
                        f"of type {type(attack).__name__}")
    config = attack.get_config()
    if "eps" not in config or "norm" not in config:
        raise ValueError("Expected an `attack` with a perturbation budget (`eps` and `norm`: "
                         f"PGD, FGSM, BIM). Received: attack={attack!r}")
    if config.get("targeted", False):
        raise ValueError("Expected an untargeted `attack` for adversarial training. "
                         f"Received: attack={attack!r}")
    try:
        checked = check_common(eps=config["eps"], norm=config["norm"],
                               clip=config.get("clip", (0.0, 1.0)),
                               step_size=config.get("step_size"), steps=config.get("steps"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"Expected an `attack` with a valid budget. Received: attack={attack!r}: "
                         f"{error}") from None
    if checked["eps"] <= 0:
        raise ValueError("Expected an `attack` with eps > 0 (eps=0 trains on clean inputs "
                         f"only). Received: attack={attack!r}")
    return {**config, "norm": checked["norm"], "clip": checked["clip"]}


def attack_settings(config, method):
    """Settings of the in-graph perturbation for `method`, from `check_attack`'s config.

    - "madry": the attack's steps (1 for FGSM), random start and step size
      (default 2.5 * eps / steps, as PGD).
    - "fgsm_rs": one step of `step_size` (default 1.25 * eps) from a uniform
      random start in the eps ball, whatever the attack's own steps.
    - "trades": the attack's steps and step size, maximising the KL from a
      start within `TRADES_INIT_SCALE * eps` of x.
    """
    eps = float(config["eps"])
    steps = int(config.get("steps") or 1)
    step_size = config.get("step_size")
    rand_init = bool(config.get("rand_init", False))
    init_scale = 1.0
    if method == "fgsm_rs":
        steps, rand_init = 1, True
        step_size = step_size or 1.25 * eps
    elif method == "trades":
        rand_init, init_scale = True, TRADES_INIT_SCALE
    if step_size is None:
        step_size = 2.5 * eps / steps if steps > 1 else eps * (1.25 if rand_init else 1.0)
    return dict(eps=eps, norm=config["norm"], step_size=float(step_size), steps=steps,
                rand_init=rand_init, init_scale=init_scale, clip=config["clip"])


def adversarial_batch(model, x, y, settings, method, random):
    """Builds the adversarial batch in inference mode (no gradient flows through it).

    Cross-entropy on the labels for "madry"/"fgsm_rs"; for "trades", the KL
    between the clean and adversarial predictions (labels are not used).
    """
    logits_fn = models.logits_function(model)
    if method == "trades":
        targets = tf.stop_gradient(tf.nn.softmax(logits_fn(x), axis=-1))
        loss_fn = losses.kl_divergence
    else:
        targets, loss_fn = losses.sparse_labels(y), losses.cross_entropy
    return perturbation.perturb(
        logits_fn, x, targets, eps=settings["eps"], norm=settings["norm"],
        step_size=settings["step_size"], steps=settings["steps"], clip=settings["clip"],
        random=random if settings["rand_init"] else None, init_scale=settings["init_scale"],
        loss_fn=loss_fn)


def trades_regularizer(model, clean_pred, adv_pred):
    """Mean KL(softmax(clean) || softmax(adv)), differentiable through both predictions.

    Args:
        model: the inner model (tells whether its outputs are probabilities).
        clean_pred: the model's outputs on the clean batch.
        adv_pred: the model's outputs on the adversarial batch.
    """
    p_clean = tf.nn.softmax(_as_logits(model, clean_pred), axis=-1)
    return tf.reduce_mean(losses.kl_divergence(p_clean, _as_logits(model, adv_pred)))


def _as_logits(model, y_pred):
    """Logits (up to a per-example constant) of outputs `y_pred` of `model`."""
    if getattr(models.logits_function(model), "from_softmax", False):
        # Softmax output: log-probabilities are logits up to a per-example constant.
        return tf.math.log(tf.clip_by_value(y_pred, 1e-12, 1.0))
    return y_pred
