"""Attack ensembles by name: `evaluate_robustness(attacks="autoattack")`.

A preset is a list of stages run as a cascade (each stage attacks only the
examples every stage before it left robust), as in AutoAttack (Croce and
Hein 2020). Each stage is `(label, attack class, hyper-parameters)`; the
evaluation adds `eps`, `norm`, `clip`, `batch_size` and `seed`.
"""

from keras_mlsec.attacks.evasion.apgd import APGD
from keras_mlsec.attacks.evasion.fab import FAB
from keras_mlsec.attacks.evasion.square import SquareAttack

AUTOATTACK = "autoattack"
AUTOATTACK_RAND = "autoattack-rand"
PRESETS = (AUTOATTACK, AUTOATTACK_RAND)
RAND_EOT_SAMPLES = 20
TARGET_CLASSES = 9  # AutoAttack's APGD-T and FAB-T on 10 classes


def stages(preset, *, norm, num_classes):
    """The stages of `preset` for `norm` and a model with `num_classes` classes.

    Args:
        preset: "autoattack" (APGD-CE, APGD-T, FAB-T, Square with 5,000
            queries: AutoAttack's standard version) or "autoattack-rand"
            (APGD-CE and APGD-DLR, each averaging gradients over 20 random
            passes: AutoAttack's version for randomized defenses).
        norm: "linf" or "l2".
        num_classes: classes of the model; targeted stages try
            `min(9, num_classes - 1)` target classes.

    Returns:
        `(stages, notes)`: a list of `(label, attack class, hyper-parameters)`
        and a list of sentences about stages left out (and why).

    Raises:
        ValueError: for an unknown preset name.
    """
    if preset not in PRESETS:
        raise ValueError(f"Expected a preset name in {list(PRESETS)}. Received: attacks="
                         f"{preset!r}")
    targets = min(TARGET_CLASSES, num_classes - 1)
    notes = []
    if preset == AUTOATTACK_RAND:
        out = [("apgd-ce", APGD, {"loss": "ce", "steps": 100, "eot_samples": RAND_EOT_SAMPLES})]
        if num_classes >= 3:
            out.append(("apgd-dlr", APGD, {"loss": "dlr", "steps": 100,
                                           "eot_samples": RAND_EOT_SAMPLES}))
        else:
            notes.append(f"{preset}: APGD-DLR left out (the DLR loss needs at least 3 classes; "
                         f"the model has {num_classes}).")
        return out, notes
    out = [("apgd-ce", APGD, {"loss": "ce", "steps": 100})]
    if num_classes >= 4:
        out.append(("apgd-t", APGD, {"loss": "dlr", "steps": 100,
                                     "num_target_classes": targets}))
    else:
        notes.append(f"{preset}: APGD-T left out (targeted DLR needs at least 4 classes; the "
                     f"model has {num_classes}).")
    out.append(("fab-t", FAB, {"steps": 100, "num_target_classes": targets}))
    if norm in SquareAttack.norms:
        out.append(("square", SquareAttack, {"steps": 5000}))
    else:
        notes.append(f"{preset}: Square left out (this package's Square attack is L-inf only; "
                     f"the evaluation norm is {norm}).")
    return out, notes
