"""Fast Gradient Sign Method (L-inf) and Fast Gradient Method (L2)."""

import keras

from keras_mlsec.attacks.evasion._iterative import iterative_attack
from keras_mlsec.attacks.base import Attack, check_common


def fgsm(model, x, y=None, *, eps, norm="linf", step_size=None, rand_init=False,
         targeted=False, clip=(0.0, 1.0), batch_size=256, seed=None,
        eot_samples=None, verbose=0):
    """One-step gradient attack (Goodfellow et al. 2015), on CleverHans.

    With `rand_init=True` it is FGSM with a random start ("Fast is better than
    free", Wong et al. 2020): a uniform start in the eps ball, then one step
    of `step_size` (default 1.25 * eps), projected back onto the ball.

    Args:
        model: a single-output `keras.Model` (logits or softmax output).
        x: inputs inside `clip`, shape `(n, ...)`.
        y: true labels (sparse or one-hot); target labels when `targeted`;
            None attacks the model's own predictions.
        eps: perturbation budget (L-inf or L2 radius), >= 0.
        norm: "linf" (sign of the gradient) or "l2" (normalised gradient).
        step_size: step length; defaults to eps (1.25 * eps with `rand_init`).
        rand_init: start from a uniform random point of the eps ball.
        targeted: move towards the classes in `y` instead of away from them.
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed of the random start.
        eot_samples: average each step's input gradient over this many
            forward/backward passes (Expectation over Transformation, for
            models with random layers); None means 1, and lets
            `evaluate_robustness` choose EOT for models with random layers.
        verbose: 1 shows a progress bar.

    Returns:
        A float32 tensor of adversarial examples shaped like `x`.

    Raises:
        ValueError: for a bad budget, domain, input or labels.
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> x_adv = fgsm(model, x_test, y_test, eps=0.1)

    Reference:
        Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial
        Examples", ICLR 2015.
    """
    p = check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size,
                     step_size=step_size, seed=seed, eot_samples=eot_samples)
    if step_size is None:
        p["step_size"] = p["eps"] * (1.25 if rand_init else 1.0)
    return iterative_attack(model, x, y, eps=p["eps"], norm=p["norm"], step_size=p["step_size"],
                            steps=1, rand_init=bool(rand_init), restarts=1,
                            targeted=bool(targeted), clip=p["clip"],
                            batch_size=p["batch_size"], seed=seed,
                            eot_samples=p.get("eot_samples"), verbose=verbose, name="FGSM")


@keras.saving.register_keras_serializable(package="keras_mlsec")
class FGSM(Attack):
    """Fast Gradient Sign Method as an object; see `fgsm` for the arguments.

    Example:
        >>> x_adv = FGSM(eps=0.1)(model, x, y)
    """

    attack_fn = fgsm
    name = "fgsm"
    supports_eot = True
    iterative = False

    def __init__(self, *, eps, norm="linf", step_size=None, rand_init=False, targeted=False,
                 clip=(0.0, 1.0), batch_size=256, seed=None,
                 eot_samples=None):
        check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size,
                     step_size=step_size, seed=seed,
                     eot_samples=eot_samples)
        self.eps = eps
        self.norm = norm
        self.step_size = step_size
        self.rand_init = rand_init
        self.targeted = targeted
        self.clip = clip
        self.batch_size = batch_size
        self.seed = seed
        self.eot_samples = eot_samples
