"""Pure pieces of adversarial training: checks, attack settings, adversarial batches."""

import numbers

import tensorflow as tf

from keras_mlsec._core import losses, models, perturbation
from keras_mlsec._core import validation as v
from keras_mlsec.attacks import APGD, BIM, FGSM, MIM, PGD
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


# The attacks adversarial training runs in the graph, each as it is defined.
IN_GRAPH_ATTACKS = ("FGSM", "PGD", "BIM", "MIM", "APGD")
# Default step factors (step = factor * eps / steps), as the attack functions use.
_STEP_FACTORS = {"PGD": 2.5, "BIM": 1.25, "MIM": 1.0}


def _attack_kind(attack):
    for cls in (FGSM, PGD, BIM, MIM, APGD):
        if type(attack) is cls:
            return cls.__name__
    return None


def _refuse(attack, why):
    return ValueError(f"Expected an attack adversarial training can run in the graph as it is "
                      f"defined ({', '.join(IN_GRAPH_ATTACKS)}). Received: attack={attack!r}: "
                      f"{why}")


def check_attack(attack, method="madry"):
    """Checks the training attack; returns its config (norm and clip normalised) and kind.

    Raises:
        TypeError: when `attack` is not a keras_mlsec attack object.
        ValueError: for an attack that cannot run in the training graph
            (gradient-free, minimum-norm, targeted, EOT, APGD-T), eps 0, or an
            attack `method` does not use as it is ("fgsm_rs" takes FGSM or PGD).
    """
    if not isinstance(attack, Attack):
        raise TypeError("Expected `attack` to be a keras_mlsec attack object such as "
                        f"keras_mlsec.attacks.PGD(eps=0.1). Received: attack={v._short(attack)} "
                        f"of type {type(attack).__name__}")
    kind = _attack_kind(attack)
    if kind is None:
        raise _refuse(attack, f"{type(attack).__name__} is not one of them (gradient-free and "
                              "minimum-norm attacks have no in-graph training loop here)")
    config = attack.get_config()
    if config.get("targeted", False):
        raise ValueError("Expected an untargeted `attack` for adversarial training. "
                         f"Received: attack={attack!r}")
    if (config.get("eot_samples") or 1) > 1:
        raise _refuse(attack, "eot_samples > 1 (the training attack runs the model in "
                              "inference mode, once per step)")
    if config.get("num_target_classes"):
        raise _refuse(attack, "num_target_classes (APGD-T) is not run in the graph; use "
                              "APGD(loss='ce' or 'dlr') without it")
    if method == "fgsm_rs" and kind not in ("FGSM", "PGD"):
        raise ValueError("Expected an FGSM or PGD `attack` with method='fgsm_rs' (one FGSM "
                         f"step from a random start). Received: attack={attack!r}")
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
    return {**config, "norm": checked["norm"], "clip": checked["clip"], "kind": kind}


def attack_settings(config, method):
    """Settings of the in-graph perturbation for `method`, from `check_attack`'s config.

    - "madry": the attack as defined: FGSM one step of `step_size` (default
      eps, 1.25 * eps with a random start); PGD its steps, random start,
      restarts and step (default 2.5 * eps / steps); BIM from x with step
      1.25 * eps / steps; MIM with momentum, step eps / steps; APGD with its
      step-size schedule, momentum, random start and restarts.
    - "fgsm_rs": one step of `step_size` (default 1.25 * eps) from a uniform
      random start in the eps ball, whatever the attack's own steps.
    - "trades": the attack's loop maximising the KL from a start within
      `TRADES_INIT_SCALE * eps` of x.
    """
    kind = config["kind"]
    eps = float(config["eps"])
    steps = int(config.get("steps") or 1)
    step_size = config.get("step_size")
    rand_init = bool(config.get("rand_init", kind == "APGD"))
    restarts = int(config.get("restarts") or 1)
    init_scale = 1.0
    if method == "fgsm_rs":
        kind, steps, rand_init, restarts = "FGSM", 1, True, 1
        step_size = step_size or 1.25 * eps
    elif method == "trades":
        rand_init, init_scale = True, TRADES_INIT_SCALE
    if step_size is None and kind == "FGSM":
        step_size = eps * (1.25 if rand_init else 1.0)
    elif step_size is None and kind != "APGD":
        step_size = _STEP_FACTORS[kind] * eps / steps
    return dict(kind=kind, eps=eps, norm=config["norm"], steps=steps,
                step_size=None if step_size is None else float(step_size),
                rand_init=rand_init, init_scale=init_scale, restarts=restarts,
                clip=config["clip"], decay_factor=float(config.get("decay_factor", 1.0)),
                rho=float(config.get("rho", 0.75)), loss=config.get("loss", "ce"))


def adversarial_batch(model, x, y, settings, method, random):
    """Builds the adversarial batch in inference mode (no gradient flows through it).

    Cross-entropy on the labels for "madry"/"fgsm_rs" (APGD's "dlr" loss when
    it was asked for); for "trades", the KL between the clean and adversarial
    predictions (labels are not used). With restarts, the worst case per
    example is kept (misclassified first, then the higher loss).
    """
    logits_fn = models.logits_function(model)
    x = tf.convert_to_tensor(x, tf.float32)
    if method == "trades":
        targets = tf.stop_gradient(tf.nn.softmax(logits_fn(x), axis=-1))
        loss_fn = losses.kl_divergence
    else:
        targets = losses.sparse_labels(y)
        loss_fn = losses.dlr_loss if settings["loss"] == "dlr" else losses.cross_entropy
    best = None
    for _ in range(settings["restarts"]):
        x_adv = _one_run(logits_fn, x, targets, settings, random, loss_fn)
        if settings["restarts"] == 1:
            return x_adv
        logits = logits_fn(x_adv)
        value = loss_fn(targets, logits)
        success = (tf.argmax(logits, -1, output_type=tf.int32) != targets
                   if targets.dtype.is_integer else tf.zeros_like(value, tf.bool))
        if best is None:
            best = (x_adv, success, value)
            continue
        worse = perturbation.is_worse_case(success, value, best[1], best[2])
        best = (perturbation.where_examples(worse, x_adv, best[0]), best[1] | success,
                tf.where(worse, value, best[2]))
    return tf.stop_gradient(best[0])


def _one_run(logits_fn, x, targets, s, random, loss_fn):
    common = dict(eps=s["eps"], norm=s["norm"], steps=s["steps"], clip=s["clip"],
                  loss_fn=loss_fn)
    if s["kind"] in ("FGSM", "PGD", "BIM"):
        return perturbation.perturb(
            logits_fn, x, targets, step_size=s["step_size"],
            random=random if s["rand_init"] else None, init_scale=s["init_scale"], **common)
    start = None
    if s["rand_init"]:
        offset = perturbation.random_start(random, tf.shape(x), s["eps"] * s["init_scale"],
                                           s["norm"])
        start = perturbation.clip_to_domain(x + offset, s["clip"])
    if s["kind"] == "MIM":
        return perturbation.perturb_momentum(logits_fn, x, targets, step_size=s["step_size"],
                                             decay_factor=s["decay_factor"], start=start,
                                             **common)
    return perturbation.perturb_apgd(logits_fn, x, targets, rho=s["rho"], start=start, **common)


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
