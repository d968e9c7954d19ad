"""Projected Gradient Descent (Madry et al. 2018), L-inf and L2."""

import keras

from keras_mlsec.attacks.evasion._iterative import default_step_size, iterative_attack
from keras_mlsec.attacks.base import Attack, check_common


def pgd(model, x, y=None, *, eps, norm="linf", step_size=None, steps=40, rand_init=True,
        restarts=1, targeted=False, clip=(0.0, 1.0), batch_size=256, seed=None,
        eot_samples=None, verbose=0):
    """Projected gradient descent on the cross-entropy, on CleverHans' step.

    Each step is CleverHans' `fast_gradient_method` followed by its `clip_eta`
    projection; with `restarts > 1` every restart draws a new random start and
    the worst case per example is kept (a misclassified example beats a
    correctly classified one, then the higher loss wins).

    Args:
        model: a single-output `keras.Model` (logits or softmax output).
        x: inputs inside `clip`.
        y: true labels (sparse or one-hot); target labels when `targeted`;
            None attacks the model's own predictions.
        eps: perturbation budget, >= 0.
        norm: "linf" or "l2".
        step_size: step length; default `2.5 * eps / steps`.
        steps: iterations per restart.
        rand_init: start from a uniform random point of the eps ball.
        restarts: independent random restarts; the worst case is kept.
        targeted: move towards the classes in `y`.
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed of the random starts.
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
        >>> x_adv = pgd(model, x_test, y_test, eps=0.1, steps=40, restarts=2)

    Reference:
        Madry et al., "Towards Deep Learning Models Resistant to Adversarial
        Attacks", ICLR 2018.
    """
    p = check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     step_size=step_size, restarts=restarts, seed=seed,
                     eot_samples=eot_samples)
    # 2.5 * eps / steps: enough to cross the ball from a random start.
    step = p.get("step_size") or default_step_size(p["eps"], p["steps"], 2.5)
    return iterative_attack(model, x, y, eps=p["eps"], norm=p["norm"], step_size=step,
                            steps=p["steps"], rand_init=bool(rand_init),
                            restarts=p["restarts"], targeted=bool(targeted), clip=p["clip"],
                            batch_size=p["batch_size"], seed=seed,
                            eot_samples=p.get("eot_samples"), verbose=verbose, name="PGD")


@keras.saving.register_keras_serializable(package="keras_mlsec")
class PGD(Attack):
    """Projected Gradient Descent as an object; see `pgd` for the arguments.

    Example:
        >>> x_adv = PGD(eps=0.1, steps=20)(model, x, y)
    """

    attack_fn = pgd
    name = "pgd"
    supports_eot = True

    def __init__(self, *, eps, norm="linf", step_size=None, steps=40, rand_init=True,
                 restarts=1, targeted=False, clip=(0.0, 1.0), batch_size=256, seed=None,
                 eot_samples=None):
        check_common(eps=eps, norm=norm, clip=clip, batch_size=batch_size, steps=steps,
                     step_size=step_size, restarts=restarts, seed=seed,
                     eot_samples=eot_samples)
        self.eps = eps
        self.norm = norm
        self.step_size = step_size
        self.steps = steps
        self.rand_init = rand_init
        self.restarts = restarts
        self.targeted = targeted
        self.clip = clip
        self.batch_size = batch_size
        self.seed = seed
        self.eot_samples = eot_samples
