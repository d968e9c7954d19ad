"""Audit sections for privacy: membership inference and model inversion."""

import numpy as np

from keras_mlsec.attacks.privacy.inversion import invert_classes, plot_inversions
from keras_mlsec.attacks.privacy.membership import membership_inference
from keras_mlsec.audit.registry import register_section

_DP_ADVICE = ("Train with differential privacy: keras_mlsec.privacy.DPModel (DP-SGD) with "
              "keras_mlsec.callbacks.PrivacyBudget; watch leakage during training with "
              "keras_mlsec.callbacks.MembershipMonitor; regularize to close the train/test gap.")


@register_section("membership", threat="privacy",
                  title="Membership inference (loss threshold and LiRA offline)")
def membership(context):
    """Loss attack and offline LiRA on balanced member / non-member subsets; gate: max AUC."""
    if context.num_classes < 2:
        return context.not_run("membership", "the attacks score one output per class (>= 2 "
                                             "outputs); the model has a single output unit")
    count = min(len(context.x_train), len(context.x_test), context.budget["max_examples"])
    members = context.subset(context.x_train, context.y_train, count)
    non_members = context.subset(context.x_test, context.y_test, count)
    reports = {"loss": membership_inference(context.model, members, non_members, method="loss")}
    shadows, epochs = context.budget["shadow_models"], context.budget["shadow_epochs"]
    try:
        reports["lira-offline"] = membership_inference(
            context.model, members, non_members, method="lira", online=False,
            num_shadow_models=shadows, epochs=epochs, seed=context.seed)
        lira_note = None
    except (ValueError, TypeError, RuntimeError) as error:
        lira_note = f"LiRA could not run: {type(error).__name__}: {error}"
    strongest = max(reports.values(), key=lambda r: r.auc)
    gate = context.gates["max_membership_auc"]
    ok = strongest.auc <= gate
    image = context.png(strongest.plot(context.path("membership_roc.png")))
    evidence = {name: {"auc": r.auc, "advantage": r.advantage,
                       "tpr_at_1pct_fpr": r.tpr_at_fpr.get(0.01)} for name, r in reports.items()}
    if lira_note:
        evidence["lira_note"] = lira_note
    return context.result(
        "membership", status="passed" if ok else "failed",
        summary=(f"Strongest attack {strongest.method}: AUC {strongest.auc:.3f}, advantage "
                 f"{strongest.advantage:.3f}; gate AUC <= {gate:g}."
                 + (f" {lira_note}" if lira_note else "")),
        evidence=evidence,
        settings={"members": count, "non_members": count, "lira_shadow_models": shadows,
                  "lira_shadow_epochs": epochs, "lira_online": False},
        recommendation=None if ok else _DP_ADVICE,
        images={f"ROC of the {strongest.method} attack (log-log)": image})


@register_section("inversion", threat="privacy",
                  title="Model inversion (Fredrikson et al. 2015, image classifiers)")
def inversion(context):
    """Inverts every class (up to 10); gate: share of reconstructions closest to their class."""
    if not context.is_image:
        return context.not_run("inversion", "model inversion is assessed for image inputs only "
                                            "(the data are tabular)")
    if context.clip is None:
        return context.not_run("inversion", "images must lie in [0, 1] for the inversion's "
                                            "projected descent")
    classes = list(range(min(context.num_classes, 10)))
    reference = (context.x_train, context.y_train)
    results = invert_classes(context.model, classes, steps=context.budget["inversion_steps"],
                             reference=reference, tv_weight=0.05, seed=context.seed)
    closest = float(np.mean([r.rank == 1 for r in results]))
    confident = float(np.mean([r.succeeded for r in results]))
    gate = context.gates["max_inversion_recognised"]
    ok = closest <= gate
    path = plot_inversions(results, context.path("inversions.png"), reference=reference,
                           title="Model inversion: reconstructions (top), class means (bottom)")
    return context.result(
        "inversion", status="passed" if ok else "failed",
        summary=(f"{closest:.0%} of the {len(classes)} reconstructions lie closest to their own "
                 f"class mean ({confident:.0%} are classified as their class); gate <= "
                 f"{gate:.0%}."),
        evidence={"closest_to_own_class": closest, "classified_as_target": confident,
                  "per_class": [r.to_dict() for r in results]},
        settings={"classes": classes, "steps": context.budget["inversion_steps"],
                  "tv_weight": 0.05},
        recommendation=None if ok else _DP_ADVICE.replace(
            "; regularize", "; serve labels or rounded scores rather than full "
            "confidences; regularize"),
        images={"Class reconstructions": context.png(path)})
