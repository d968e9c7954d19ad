"""Training-time attacks: label flipping, backdoors (BadNets, blend) and clean-label backdoors.

Each attack returns a `PoisonedData` (the poisoned `x`, `y`, the
`poison_indices`, the `trigger` and `apply_trigger(x)` for test inputs);
`attack_success_rate` measures how often a trained model obeys the trigger::

    data = backdoor(x_train, y_train, target=0, rate=0.05, seed=0)
    model.fit(data.x, data.y, epochs=10)
    attack_success_rate(model, data, x_test, y_test)
"""

from keras_mlsec.attacks.poisoning.backdoor import Backdoor, backdoor
from keras_mlsec.attacks.poisoning.clean_label import CleanLabelBackdoor, clean_label_backdoor
from keras_mlsec.attacks.poisoning.label_flip import LabelFlip, label_flip
from keras_mlsec.attacks.poisoning.poisoned_data import PoisonedData
from keras_mlsec.attacks.poisoning.success import attack_success_rate
from keras_mlsec.attacks.poisoning.trigger import Trigger

__all__ = ["Backdoor", "CleanLabelBackdoor", "LabelFlip", "PoisonedData", "Trigger",
           "attack_success_rate", "backdoor", "clean_label_backdoor", "label_flip"]
