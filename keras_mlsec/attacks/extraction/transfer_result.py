"""`TransferResult`: adversarial examples from a substitute and how often they fool the victim."""

import numpy as np


class TransferResult:
    """The outcome of `transfer_attack`.

    Success rates count only the inputs the model classified correctly
    before the attack: success is the share of those it misclassifies after.

    Attributes:
        x_adv: the adversarial examples (crafted on the substitute).
        success_rate: success on the victim (the black-box attack's result).
        substitute_success_rate: success on the substitute (white-box on the copy).
        victim_clean_accuracy, victim_adversarial_accuracy: the victim's
            accuracy on clean and adversarial inputs.
        attack: the attack used, as text.
    """

    def __init__(self, *, x_adv, victim_clean_correct, victim_adversarial_correct,
                 substitute_clean_correct, substitute_adversarial_correct, attack):
        self.x_adv = x_adv
        self.attack = attack
        self.victim_clean_accuracy = float(np.mean(victim_clean_correct))
        self.victim_adversarial_accuracy = float(np.mean(victim_adversarial_correct))
        self.success_rate = _success(victim_clean_correct, victim_adversarial_correct)
        self.substitute_success_rate = _success(substitute_clean_correct,
                                                substitute_adversarial_correct)

    def to_dict(self):
        """The rates as a JSON-ready dict (without the examples)."""
        return {"attack": self.attack, "success_rate": self.success_rate,
                "substitute_success_rate": self.substitute_success_rate,
                "victim_clean_accuracy": self.victim_clean_accuracy,
                "victim_adversarial_accuracy": self.victim_adversarial_accuracy}

    def __repr__(self):
        return (f"TransferResult(success_rate={self.success_rate:.3f}, "
                f"substitute_success_rate={self.substitute_success_rate:.3f})")


def _success(clean_correct, adversarial_correct):
    clean_correct = np.asarray(clean_correct, bool)
    if not clean_correct.any():
        return 0.0
    return float(np.mean(~np.asarray(adversarial_correct, bool)[clean_correct]))
