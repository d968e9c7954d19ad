"""`PoisonedData`: what a poisoning attack returns (training set, poison indices, trigger)."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.poisoning.trigger import is_image


class PoisonedData:
    """A poisoned training set and what is needed to exploit it.

    Args:
        x: poisoned training inputs (a new array; the caller's is untouched).
        y: training labels after poisoning (sparse int32).
        poison_indices: sorted indices of the poisoned examples in `x`.
        trigger: the `Trigger` stamped on the poison (None for label flipping).
        target: the class the attack aims at (None for untargeted label flipping).
        source: the only class poisoned inputs come from, or None for any class.
        method: name of the attack that produced it.

    Attributes:
        poison_fraction: `len(poison_indices) / len(x)`.
        is_poisoned: bool mask over `x`.

    Raises:
        ValueError: when `poison_indices` leave `[0, len(x))` or repeat.

    Example:
        >>> data = backdoor(x_train, y_train, target=0, rate=0.05)
        >>> model.fit(data.x, data.y, epochs=10)
        >>> attack_success_rate(model, data, x_test, y_test)
    """

    def __init__(self, x, y, poison_indices, *, trigger=None, target=None, source=None,
                 method="poisoning"):
        self.x = np.asarray(x, dtype=np.float32)
        self.y = np.asarray(y, dtype=np.int32)
        self.poison_indices = v.check_indices(poison_indices, len(self.x))
        self.trigger, self.target, self.source, self.method = trigger, target, source, method

    @property
    def poison_fraction(self):
        return len(self.poison_indices) / len(self.x)

    @property
    def is_poisoned(self):
        mask = np.zeros(len(self.x), bool)
        mask[self.poison_indices] = True
        return mask

    def apply_trigger(self, x):
        """Returns a triggered copy of `x`, the inputs an attacker sends at test time.

        Raises:
            ValueError: without a trigger (label flipping), for inputs of another
                shape, or image inputs outside [0, 1].
        """
        if self.trigger is None:
            raise ValueError(f"Expected poisoned data with a trigger. Received: {self.method} "
                             "data, which has none (label flipping needs no trigger).")
        x = v.check_inputs(x)
        if is_image(x.shape[1:]) and (x.min() < -1e-6 or x.max() > 1 + 1e-6):
            raise ValueError("Expected image inputs `x` in [0, 1] for an image trigger. "
                             f"Received: x with values in [{x.min():.4g}, {x.max():.4g}]")
        return self.trigger.apply(x)

    def to_dict(self):
        """JSON-ready summary (no arrays but the indices)."""
        return {"method": self.method, "num_examples": len(self.x),
                "num_poisoned": len(self.poison_indices),
                "poison_fraction": self.poison_fraction, "target": self.target,
                "source": self.source, "poison_indices": self.poison_indices.tolist(),
                "trigger": None if self.trigger is None else self.trigger.to_dict()}

    def __repr__(self):
        return (f"PoisonedData(method={self.method!r}, examples={len(self.x)}, "
                f"poisoned={len(self.poison_indices)}, target={self.target!r})")

