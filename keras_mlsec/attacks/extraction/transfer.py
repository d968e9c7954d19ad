"""Black-box evasion through a stolen substitute: craft on the copy, measure on the victim."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.base import Attack
from keras_mlsec.attacks.evasion.apgd import APGD
from keras_mlsec.attacks.evasion.bim import BIM
from keras_mlsec.attacks.evasion.cw import CarliniWagnerL2
from keras_mlsec.attacks.evasion.fgsm import FGSM
from keras_mlsec.attacks.evasion.mim import MIM
from keras_mlsec.attacks.evasion.pgd import PGD
from keras_mlsec.attacks.extraction._oracle import check_victim, victim_predictor
from keras_mlsec.attacks.extraction._predict import substitute_labels, victim_labels
from keras_mlsec.attacks.extraction.transfer_result import TransferResult

# The white-box attacks that need only the substitute's gradients (keras_mlsec.attacks.ATTACKS
# cannot be imported here: keras_mlsec.attacks imports this module).
_GRADIENT_ATTACKS = {"fgsm": FGSM, "pgd": PGD, "bim": BIM, "mim": MIM, "apgd": APGD,
                     "cw": CarliniWagnerL2}


def transfer_attack(substitute, victim, x, y, *, attack="pgd", **attack_params):
    """Adversarial examples crafted on a substitute, success measured on the victim.

    The black-box route of Papernot et al. 2017: the attacker has white-box
    access only to its stolen copy (see `extract_model`), runs an evasion
    attack from this package on it, and sends the result to the victim.

    Args:
        substitute: the attacker's `keras.Model` (e.g. `result.substitute`).
        victim: the attacked `keras.Model` or callable `x -> scores or labels`.
        x: clean inputs.
        y: their true labels (sparse or one-hot).
        attack: an attack name ("fgsm", "pgd", "bim", "mim", "apgd", "cw")
            or an `Attack` object (e.g. `PGD(eps=0.1)`).
        **attack_params: the attack's hyper-parameters (`eps`, `steps`...)
            when `attack` is a name.

    Returns:
        A `TransferResult`: the adversarial examples, the success rate on
        the victim (share of the inputs it classified correctly that it now
        misclassifies) and on the substitute.

    Raises:
        TypeError: when `substitute` is not a `keras.Model` or `victim` is not
            callable.
        ValueError: for an unknown attack name or bad attack parameters,
            inputs or labels.

    Example:
        >>> stolen = extract_model(victim, query_budget=1000, x_pool=x_pool)
        >>> result = transfer_attack(stolen.substitute, victim, x_test, y_test, eps=0.1)
        >>> result.success_rate

    Reference:
        Papernot et al., "Practical Black-Box Attacks against Machine
        Learning", AsiaCCS 2017.
    """
    substitute = v.check_model(substitute, "substitute")
    check_victim(victim)
    if isinstance(attack, Attack):
        if attack_params:
            raise ValueError(
                "Expected attack parameters inside the `attack` object, not as keywords. "
                f"Received: attack={attack!r} and {sorted(attack_params)}.")
        attack_object = attack
    else:
        key = str(attack).lower()
        if key not in _GRADIENT_ATTACKS:
            raise ValueError(
                f"Expected `attack` to be an Attack object or one of "
                f"{sorted(_GRADIENT_ATTACKS)}. Received: attack={attack!r}")
        attack_object = _GRADIENT_ATTACKS[key](**attack_params)
    x = v.check_inputs(x, model=substitute)
    y = v.check_labels(y, len(x), name="y")
    x_adv = np.asarray(attack_object(substitute, x, y))
    predict = victim_predictor(victim)
    clean = victim_labels(predict, x)
    adversarial = victim_labels(predict, x_adv)
    substitute_clean = substitute_labels(substitute, x)
    substitute_adv = substitute_labels(substitute, x_adv)
    return TransferResult(
        x_adv=x_adv, victim_clean_correct=clean == y, victim_adversarial_correct=adversarial == y,
        substitute_clean_correct=substitute_clean == y,
        substitute_adversarial_correct=substitute_adv == y, attack=repr(attack_object))
