"""Clean-label backdoors (Turner et al. 2019): the poison keeps its correct label."""

import numpy as np

from keras_mlsec._core import models
from keras_mlsec._core import validation as v
from keras_mlsec.attacks.evasion.pgd import pgd
from keras_mlsec.attacks.poisoning import _common
from keras_mlsec.attacks.poisoning.poisoned_data import PoisonedData


def clean_label_backdoor(model, x, y, *, target, rate, eps, trigger="patch", norm="linf",
                         steps=20, alpha=0.2, batch_size=256, seed=None):
    """Backdoors a training set without changing any label (Turner et al. 2019).

    `round(rate * n_target)` examples of the `target` class (at least one)
    are first made hard to classify with an untargeted PGD perturbation of
    budget `eps` against `model` (a model trained on clean data, standing in
    for the victim: `keras_mlsec.attacks.pgd`), then stamped with the
    trigger. Their labels stay correct, so a human reviewing the labels sees
    nothing wrong; the model, unable to learn them from their content, learns
    the trigger as evidence of the target class instead.

    Args:
        model: a `keras.Model` trained on clean data, used to craft the perturbations.
        x: training images in [0, 1] (or rows, with a tabular trigger).
        y: sparse or one-hot labels (left unchanged in the result).
        target: the class whose examples are poisoned and that triggered
            inputs should be classified as.
        rate: share of the target-class examples to poison, in (0, 1].
        eps: PGD budget (L-inf or L2 radius, in input units); 0 skips PGD.
        trigger: "patch", "blend", a `Trigger` or a `(pattern, mask)` pair
            (see `backdoor`).
        norm: "linf" or "l2" (of the PGD perturbation).
        steps: PGD steps.
        alpha: blend weight of the "blend" trigger.
        batch_size: PGD batch size.
        seed: seed of the choice of examples, PGD's random start and the blend pattern.

    Returns:
        A `PoisonedData` with unchanged labels.

    Raises:
        ValueError: for `rate` outside (0, 1], a `target` that is not a class
            of the model, a trigger that does not fit `x`, or images outside [0, 1].
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> data = clean_label_backdoor(clean_model, x_train, y_train, target=0,
        ...                             rate=0.5, eps=0.1, seed=0)

    Reference:
        Turner, Tsipras and Madry, "Label-Consistent Backdoor Attacks", 2019.
    """
    model = v.check_model(model)
    rate = _common.check_rate(rate)
    eps = v.check_non_negative(eps, "eps")
    x, y = _common.check_data(x, y)
    v.check_inputs(x[:1], model=model)
    classes = models.num_classes_of(model, models.logits_function(model), x)
    y = v.check_labels(y, len(x), classes)
    target = _common.check_class(target, y, "target", classes)
    if target is None:
        raise ValueError("Expected `target` to be a class index. Received: target=None")
    trigger = _common.make_trigger(trigger, x, alpha=alpha, seed=seed)
    rng = np.random.default_rng(v.check_seed(seed))
    indices = _common.choose(np.flatnonzero(y == target), rate, rng,
                             f"examples of the target class {target}")
    chosen = x[indices]
    if eps > 0:
        clip = (0.0, 1.0) if chosen.min() >= 0 and chosen.max() <= 1 else None
        chosen = np.asarray(pgd(model, chosen, y[indices], eps=eps, norm=norm, steps=steps,
                                clip=clip, batch_size=batch_size, seed=seed))
    x[indices] = trigger.apply(chosen)
    return PoisonedData(x, y, indices, trigger=trigger, target=target,
                        method="clean_label_backdoor")


class CleanLabelBackdoor:
    """`clean_label_backdoor` as an object keeping its hyper-parameters.

    Example:
        >>> data = CleanLabelBackdoor(target=0, rate=0.5, eps=0.1)(clean_model, x, y)
    """

    def __init__(self, *, target, rate, eps, trigger="patch", norm="linf", steps=20,
                 alpha=0.2, batch_size=256, seed=None):
        _common.check_rate(rate)
        self.target, self.rate, self.eps, self.trigger = target, rate, eps, trigger
        self.norm, self.steps, self.alpha = norm, steps, alpha
        self.batch_size, self.seed = batch_size, seed

    def __call__(self, model, x, y):
        return clean_label_backdoor(model, x, y, **self.get_config())

    def get_config(self):
        return {"target": self.target, "rate": self.rate, "eps": self.eps,
                "trigger": self.trigger, "norm": self.norm, "steps": self.steps,
                "alpha": self.alpha, "batch_size": self.batch_size, "seed": self.seed}
