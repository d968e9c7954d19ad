"""Evasion attacks on Keras classifiers.

Every attack is a function doing the work and a class keeping the
hyper-parameters, with one signature shape::

    x_adv = pgd(model, x, y, eps=0.1)          # function
    x_adv = PGD(eps=0.1)(model, x, y)          # object

Shared argument names: `eps`, `norm` ("linf" or "l2"), `step_size`, `steps`,
`rand_init`, `restarts`, `targeted`, `clip`, `batch_size`, `seed`.
"""

from keras_mlsec.attacks.base import Attack
from keras_mlsec.attacks.evasion.apgd import APGD, apgd
from keras_mlsec.attacks.evasion.bim import BIM, bim
from keras_mlsec.attacks.evasion.cw import CarliniWagnerL2, carlini_wagner_l2
from keras_mlsec.attacks.evasion.fab import FAB, fab
from keras_mlsec.attacks.evasion.fgsm import FGSM, fgsm
from keras_mlsec.attacks.evasion.mim import MIM, mim
from keras_mlsec.attacks.evasion.pgd import PGD, pgd
from keras_mlsec.attacks.evasion.square import SquareAttack, square_attack
from keras_mlsec.attacks.extraction import (ExtractionReport, ExtractionResult, ModelExtraction,
                                            TransferResult, extract_linear, extract_model,
                                            transfer_attack)
from keras_mlsec.attacks.poisoning import (Backdoor, CleanLabelBackdoor, LabelFlip, PoisonedData,
                                           Trigger, attack_success_rate, backdoor,
                                           clean_label_backdoor, label_flip)
from keras_mlsec.attacks.privacy.inversion import model_inversion
from keras_mlsec.attacks.privacy.inversion_result import InversionResult
from keras_mlsec.attacks.privacy.membership import membership_inference
from keras_mlsec.attacks.privacy.membership_report import MembershipReport

ATTACKS = {"fgsm": FGSM, "pgd": PGD, "bim": BIM, "mim": MIM}
ATTACKS.update({"cw": CarliniWagnerL2, "apgd": APGD, "square": SquareAttack})
ATTACKS["fab"] = FAB


def get(name, **config):
    """Returns the attack object registered under `name`, built with `config`.

    Raises:
        ValueError: when `name` is unknown (the message lists the known names).
    """
    if isinstance(name, Attack):
        return name
    key = str(name).lower()
    if key not in ATTACKS:
        raise ValueError(
            f"Expected an attack name in {sorted(ATTACKS)}. Received: attack={name!r}")
    return ATTACKS[key](**config)


__all__ = ["ATTACKS", "Attack", "BIM", "FGSM", "MIM", "PGD", "bim", "fgsm", "get", "mim", "pgd"]
__all__ += ["APGD", "CarliniWagnerL2", "SquareAttack", "apgd", "carlini_wagner_l2",
            "square_attack"]
__all__ += ["FAB", "fab"]
__all__ += ["MembershipReport", "membership_inference"]  # not evasion: not in ATTACKS
__all__ += ["InversionResult", "model_inversion"]  # not evasion: not in ATTACKS
__all__ += ["ExtractionReport", "ExtractionResult", "ModelExtraction", "TransferResult",
            "extract_linear", "extract_model", "transfer_attack"]  # extraction: not in ATTACKS
__all__ += ["Backdoor", "CleanLabelBackdoor", "LabelFlip", "PoisonedData", "Trigger",
            "attack_success_rate", "backdoor", "clean_label_backdoor",
            "label_flip"]  # training-time: not in ATTACKS
