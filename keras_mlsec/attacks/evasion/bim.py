"""Basic Iterative Method (Kurakin et al. 2017)."""

import keras

from keras_mlsec.attacks.evasion._iterative import default_step_size, iterative_attack
from keras_mlsec.attacks.base import Attack, check_common


def bim(model, x, y=None, *, eps, norm="linf", step_size=None, steps=10, targeted=False,
        clip=(0.0, 1.0), batch_size=256, seed=None,
        eot_samples=None, verbose=0):
    """Iterative FGSM from the clean input (PGD without random start).

    CleverHans' `basic_iterative_method` is exactly its PGD with
    `rand_init=False`; this runs the same CleverHans step in the shared
    compiled loop (CleverHans' own sanity check fails on Keras 3).

    Args:
        model: a single-output `keras.Model`.
        x: inputs inside `clip`.
        y: labels, targets when `targeted`, or None for the model's predictions.
        eps: perturbation budget, >= 0.
        norm: "linf" or "l2".
        step_size: step length; default `1.25 * eps / steps`, so that the
            budget is reached before the last step.
        steps: iterations.
        targeted: move towards the classes in `y`.
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: unused (BIM is deterministic); accepted for a uniform signature.
        eot_samples: average each step's input gradient over this many
            forward/backward passes (Expectation over Transformation, for
            models with random layers); None means 1, and lets
            `evaluate_robustness` choose EOT for models with random layers.
        verbose: 1 shows a progress bar.

    Returns:
        A float32 tensor of adversarial examples shaped like `x`.

    Example:
        >>> x_adv = bim(model, x, y, eps=0.1, steps=10)

    Reference:
        Kurakin, Goodfellow and Bengio, "Adversarial Examples in the Physical
        World", ICLR workshop 2017.
    """
    p = check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     step_size=step_size, seed=seed, eot_samples=eot_samples)
    step = p.get("step_size") or default_step_size(p["eps"], p["steps"], 1.25)
    return iterative_attack(model, x, y, eps=p["eps"], norm=p["norm"], step_size=step,
                            steps=p["steps"], rand_init=False, restarts=1,
                            targeted=bool(targeted), clip=p["clip"],
                            batch_size=p["batch_size"], seed=seed,
                            eot_samples=p.get("eot_samples"), verbose=verbose, name="BIM")


@keras.saving.register_keras_serializable(package="keras_mlsec")
class BIM(Attack):
    """Basic Iterative Method as an object; see `bim` for the arguments."""

    attack_fn = bim
    name = "bim"
    supports_eot = True

    def __init__(self, *, eps, norm="linf", step_size=None, steps=10, targeted=False,
                 clip=(0.0, 1.0), batch_size=256, seed=None,
                 eot_samples=None):
        check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     step_size=step_size, seed=seed,
                     eot_samples=eot_samples)
        self.eps = eps
        self.norm = norm
        self.step_size = step_size
        self.steps = steps
        self.targeted = targeted
        self.clip = clip
        self.batch_size = batch_size
        self.seed = seed
        self.eot_samples = eot_samples
