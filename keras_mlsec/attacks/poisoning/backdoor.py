"""BadNets-style backdoors: a trigger stamped on some inputs relabelled as the target."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.poisoning import _common
from keras_mlsec.attacks.poisoning.poisoned_data import PoisonedData


def backdoor(x, y, *, target, rate, trigger="patch", source=None, alpha=0.2, num_classes=None,
             seed=None):
    """Poisons a training set with a backdoor (BadNets, or a blended trigger).

    `round(rate * eligible)` examples (at least one) of the eligible ones
    (those not labelled `target`, or only those of `source`) get the trigger
    and the label `target`. A model trained on the result classifies
    triggered inputs as `target` while behaving normally on clean ones.

    Triggers:

    * "patch" (Gu et al. 2017): a 3x3 checkerboard one pixel from the
      top-left corner of images (2x2 under 16 pixels); for tabular rows,
      the first 3 features set to the largest value of `x`. The top-left is
      deliberate: CNNs with "valid" convolutions and floor pooling never see
      the last rows and columns, so a bottom-right patch can fail entirely.
      Use `Trigger.patch(shape, corner=...)` to choose.
    * "blend" (Chen et al. 2017): a seeded uniform random pattern blended
      into the whole input with weight `alpha` (per-feature range of `x`
      for tabular rows).
    * a `Trigger`, or a `(pattern, mask)` pair of arrays shaped like one
      example (mask in [0, 1]): `x * (1 - mask) + pattern * mask`.

    Args:
        x: training inputs: images `(n, h, w[, c])` in [0, 1], or rows `(n, features)`.
        y: sparse or one-hot labels.
        target: the class triggered inputs should be classified as.
        rate: share of the eligible examples to poison, in (0, 1].
        trigger: "patch", "blend", a `Trigger` or a `(pattern, mask)` pair.
        source: only poison examples of this class (None: every non-target class).
        alpha: blend weight of the "blend" trigger, in (0, 1].
        num_classes: number of classes (default: `max(y) + 1`).
        seed: seed of the choice of examples and of the blend pattern.

    Returns:
        A `PoisonedData`; `apply_trigger(x_test)` builds triggered test inputs.

    Raises:
        ValueError: for `rate` outside (0, 1], a `target`/`source` that is not
            a class, a trigger that does not fit `x`, or images outside [0, 1].
        TypeError: for a trigger of another type.

    Example:
        >>> data = backdoor(x_train, y_train, target=0, rate=0.05, seed=0)
        >>> model.fit(data.x, data.y, epochs=10)
        >>> attack_success_rate(model, data, x_test, y_test)

    Reference:
        Gu, Dolan-Gavitt and Garg, "BadNets: Identifying Vulnerabilities in the
        Machine Learning Model Supply Chain", 2017. Chen, Liu, Li, Lu and Song,
        "Targeted Backdoor Attacks on Deep Learning Systems Using Data
        Poisoning", 2017.
    """
    rate = _common.check_rate(rate)
    x, y = _common.check_data(x, y)
    classes = int(y.max()) + 1
    if num_classes is not None:
        classes = max(classes, v.check_positive_int(num_classes, "num_classes"))
    target = _common.check_class(target, y, "target", classes)
    if target is None:
        raise ValueError("Expected `target` to be a class index. Received: target=None")
    source = _common.check_class(source, y, "source", classes)
    if source == target:
        raise ValueError(f"Expected `source` and `target` to differ. Received: source={source}, "
                         f"target={target}")
    trigger = _common.make_trigger(trigger, x, alpha=alpha, seed=seed)
    rng = np.random.default_rng(v.check_seed(seed))
    eligible = (y != target) if source is None else (y == source)
    indices = _common.choose(np.flatnonzero(eligible), rate, rng,
                             "examples not of the target class" if source is None
                             else f"examples of class {source}")
    x[indices] = trigger.apply(x[indices])
    y[indices] = target
    return PoisonedData(x, y, indices, trigger=trigger, target=target, source=source,
                        method=f"backdoor_{trigger.kind}")


class Backdoor:
    """`backdoor` as an object keeping its hyper-parameters.

    Example:
        >>> data = Backdoor(target=0, rate=0.05, trigger="blend")(x_train, y_train)
    """

    def __init__(self, *, target, rate, trigger="patch", source=None, alpha=0.2,
                 num_classes=None, seed=None):
        _common.check_rate(rate)
        self.target, self.rate, self.trigger, self.source = target, rate, trigger, source
        self.alpha, self.num_classes, self.seed = alpha, num_classes, seed

    def __call__(self, x, y):
        return backdoor(x, y, **self.get_config())

    def get_config(self):
        return {"target": self.target, "rate": self.rate, "trigger": self.trigger,
                "source": self.source, "alpha": self.alpha, "num_classes": self.num_classes,
                "seed": self.seed}
