"""Label flipping: the simplest training-time attack."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.poisoning import _common
from keras_mlsec.attacks.poisoning.poisoned_data import PoisonedData


def label_flip(x, y, *, rate, source=None, target=None, num_classes=None, seed=None):
    """Flips the labels of a share of the training examples.

    The eligible examples are those of class `source` (every class when
    None), minus those already labelled `target`; `round(rate * eligible)`
    of them (at least one) get the label `target`, or, when `target` is None,
    a different class drawn uniformly. Inputs are not changed.

    Args:
        x: training inputs (copied into the result, never modified).
        y: sparse or one-hot labels.
        rate: share of the eligible examples to flip, in (0, 1].
        source: only flip examples of this class (None: any class).
        target: the new label (None: a random other class per example).
        num_classes: number of classes (default: `max(y) + 1`).
        seed: seed of the choice of examples and random labels.

    Returns:
        A `PoisonedData` (no trigger) whose `poison_indices` are the flipped examples.

    Raises:
        ValueError: for `rate` outside (0, 1], a `source`/`target` that is
            not a class, or no eligible example.

    Example:
        >>> data = label_flip(x_train, y_train, rate=0.1, source=3, target=8, seed=0)
        >>> model.fit(data.x, data.y)

    Reference:
        Biggio, Nelson and Laskov, "Poisoning Attacks against Support Vector
        Machines", ICML 2012.
    """
    rate = _common.check_rate(rate)
    x, y = _common.check_data(x, y, image_domain=False)
    if num_classes is not None:
        num_classes = v.check_positive_int(num_classes, "num_classes")
    classes = max(num_classes or 0, int(y.max()) + 1)
    if classes < 2:
        raise ValueError("Expected at least 2 classes to flip labels between. Received: "
                         f"num_classes={classes}")
    source = _common.check_class(source, y, "source", classes)
    target = _common.check_class(target, y, "target", classes)
    if source is not None and source == target:
        raise ValueError(f"Expected `source` and `target` to differ. Received: source={source}, "
                         f"target={target}")
    rng = np.random.default_rng(v.check_seed(seed))
    eligible = np.ones(len(y), bool) if source is None else y == source
    if target is not None:
        eligible &= y != target
    indices = _common.choose(np.flatnonzero(eligible), rate, rng, "the eligible labels")
    if target is not None:
        y[indices] = target
    else:
        shift = rng.integers(1, classes, size=len(indices))
        y[indices] = (y[indices] + shift) % classes
    return PoisonedData(x, y, indices, target=target, source=source, method="label_flip")


class LabelFlip:
    """`label_flip` as an object keeping its hyper-parameters.

    Example:
        >>> data = LabelFlip(rate=0.1, target=0, seed=0)(x_train, y_train)
    """

    def __init__(self, *, rate, source=None, target=None, num_classes=None, seed=None):
        _common.check_rate(rate)
        self.rate, self.source, self.target = rate, source, target
        self.num_classes, self.seed = num_classes, seed

    def __call__(self, x, y):
        return label_flip(x, y, **self.get_config())

    def get_config(self):
        return {"rate": self.rate, "source": self.source, "target": self.target,
                "num_classes": self.num_classes, "seed": self.seed}
