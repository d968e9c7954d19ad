"""Audit section for training-time attacks: a backdoor scan with Neural Cleanse."""

from keras_mlsec.audit.registry import register_section
from keras_mlsec.defenses.detection.neural_cleanse import neural_cleanse

_REPAIR_ADVICE = ("A class needs a far smaller trigger than the others: the model may carry a "
                  "backdoor. Inspect the recovered trigger, screen the training data with "
                  "keras_mlsec.defenses.detect_poison, filter inputs at inference with "
                  "keras_mlsec.defenses.STRIP, and repair with "
                  "keras_mlsec.defenses.repair_backdoor (unlearning).")


@register_section("backdoor", threat="training_time",
                  title="Backdoor scan (Neural Cleanse, image classifiers)")
def backdoor(context):
    """Neural Cleanse on held-out test images; gate: at most `max_backdoor_classes` flagged."""
    if not context.is_image:
        return context.not_run("backdoor", "Neural Cleanse reverse-engineers image-patch "
                                           "triggers; the data are tabular")
    if context.clip is None:
        return context.not_run("backdoor", "images must lie in [0, 1] for the trigger search")
    if context.num_classes < 3:
        return context.not_run("backdoor", "the anomaly index needs at least 3 classes")
    count = min(len(context.x_test), context.budget["max_examples"])
    x_clean, y_clean = context.subset(context.x_test, context.y_test, count)
    steps = context.budget["backdoor_steps"]
    scan = neural_cleanse(context.model, x_clean, y_clean, steps=steps, seed=context.seed)
    flagged = scan.flagged_classes
    gate = context.gates["max_backdoor_classes"]
    ok = len(flagged) <= gate
    image = context.png(scan.plot(context.path("backdoor_triggers.png")))
    return context.result(
        "backdoor", status="passed" if ok else "failed",
        summary=(f"Classes flagged (anomaly index > {scan.threshold:g}): {flagged or 'none'}; "
                 f"largest anomaly index {float(scan.anomaly_index.max()):.2f}; gate: at most "
                 f"{gate} flagged. A scan that flags nothing is not a proof of absence."),
        evidence=scan.to_dict(),
        settings={"clean_examples": count, "steps": steps},
        recommendation=None if ok else _REPAIR_ADVICE,
        images={"Recovered trigger masks per class": image})
