"""Momentum Iterative Method (Dong et al. 2018), on CleverHans."""

import keras
import tensorflow as tf
from cleverhans.tf2.attacks.momentum_iterative_method import momentum_iterative_method

from keras_mlsec._core import perturbation
from keras_mlsec.attacks.evasion._iterative import default_step_size
from keras_mlsec.attacks.base import Attack, check_common, run_batched
from keras_mlsec._core.models import compiled


def mim(model, x, y=None, *, eps, norm="linf", step_size=None, steps=10, decay_factor=1.0,
        targeted=False, clip=(0.0, 1.0), batch_size=256, seed=None, verbose=0):
    """MI-FGSM: iterative gradient steps with an L1-normalised momentum term.

    Runs CleverHans' `momentum_iterative_method` as one `tf.function` per
    (model, steps, norm, targeted, clip, decay_factor); eps and step size are
    tensor arguments, so a new budget does not retrace.

    Args:
        model: a single-output `keras.Model`.
        x: inputs inside `clip`.
        y: labels, targets when `targeted`, or None for the model's predictions.
        eps: perturbation budget, >= 0.
        norm: "linf" or "l2".
        step_size: step length; default `eps / steps`.
        steps: iterations.
        decay_factor: momentum decay (mu in the paper).
        targeted: move towards the classes in `y`.
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: unused (MIM is deterministic); accepted for a uniform signature.
        verbose: 1 shows a progress bar.

    Returns:
        A float32 tensor of adversarial examples shaped like `x`.

    Example:
        >>> x_adv = mim(model, x, y, eps=0.1)

    Reference:
        Dong et al., "Boosting Adversarial Attacks with Momentum", CVPR 2018.
    """
    p = check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     step_size=step_size, seed=seed)
    decay = float(decay_factor)
    if not decay >= 0:
        raise ValueError(f"Expected `decay_factor` >= 0. Received: decay_factor={decay_factor}")
    step = p.get("step_size") or default_step_size(p["eps"], p["steps"], 1.0)
    clip_min, clip_max = p["clip"] if p["clip"] is not None else (None, None)
    order = perturbation.norm_order(p["norm"])
    eps_t, step_t = tf.constant(p["eps"]), tf.constant(step)

    def attack_batch(logits_fn, xb, yb):
        def builder():
            def run(xb, yb, eps_value, step_value):
                return momentum_iterative_method(
                    logits_fn, xb, eps=eps_value, eps_iter=step_value, nb_iter=p["steps"],
                    norm=order, clip_min=clip_min, clip_max=clip_max, y=yb,
                    targeted=bool(targeted), decay_factor=decay, sanity_checks=False)
            return run

        key = ("mim", p["steps"], p["norm"], bool(targeted), p["clip"], decay)
        return compiled(logits_fn, key, builder)(xb, yb, eps_t, step_t)

    return run_batched(attack_batch, model, x, y, targeted=bool(targeted), clip=p["clip"],
                       batch_size=p["batch_size"], verbose=verbose, name="MIM")


@keras.saving.register_keras_serializable(package="keras_mlsec")
class MIM(Attack):
    """Momentum Iterative Method as an object; see `mim` for the arguments."""

    attack_fn = mim
    name = "mim"
    supports_eot = False

    def __init__(self, *, eps, norm="linf", step_size=None, steps=10, decay_factor=1.0,
                 targeted=False, clip=(0.0, 1.0), batch_size=256, seed=None):
        check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     step_size=step_size, seed=seed)
        self.eps = eps
        self.norm = norm
        self.step_size = step_size
        self.steps = steps
        self.decay_factor = decay_factor
        self.targeted = targeted
        self.clip = clip
        self.batch_size = batch_size
        self.seed = seed
