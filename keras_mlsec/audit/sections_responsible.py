"""Audit sections for responsible AI: group fairness and explanations."""

from keras_mlsec.audit.registry import register_section
from keras_mlsec.responsible.explanations import explain
from keras_mlsec.responsible.fairness import dataset_bias, fairness_report


@register_section("fairness", threat="responsible_ai",
                  title="Group fairness (aif360: disparate impact, parity, equal opportunity)")
def fairness(context):
    """Label bias of the training data and the model's fairness on the test data."""
    if context.protected is None:
        return context.not_run("fairness", "no protected attribute was given (pass "
                                           "protected=COLUMN or an array of groups)")
    if context.num_classes not in (1, 2):
        return context.not_run("fairness", f"the group metrics need a binary classifier; the "
                                           f"model has {context.num_classes} outputs")
    train_groups, test_groups = context.protected, context.protected
    if not isinstance(context.protected, int):  # arrays: (train groups, test groups)
        train_groups, test_groups = context.protected
    labels = dataset_bias(context.x_train, context.y_train, protected=train_groups,
                          privileged=context.privileged)
    report = fairness_report(context.model, context.x_test, context.y_test,
                             protected=test_groups, privileged=context.privileged)
    ok = report.passed or not context.gates["fairness"]
    image = context.png(report.plot(context.path("fairness.png")))
    return context.result(
        "fairness", status="passed" if ok else "failed",
        summary=(f"Disparate impact {report.disparate_impact:.3f} (labels: "
                 f"{labels['disparate_impact']:.3f}), statistical parity difference "
                 f"{report.statistical_parity_difference:+.3f}, equal opportunity difference "
                 f"{report.equal_opportunity_difference:+.3f}"
                 + ("." if report.passed else f"; outside bounds: {', '.join(report.failures)}.")),
        evidence={"model": report.to_dict(), "labels": labels},
        settings={"protected": report.config["protected"], "privileged": context.privileged,
                  "threshold": 0.5, "bounds": report.to_dict()["bounds"]},
        recommendation=None if ok else (
            "Mitigate with keras_mlsec.responsible.reweighing (sample weights), "
            "AdversarialDebiasingModel (in-training) or FairPostprocessor (equalized odds on "
            "held-out data); watch with keras_mlsec.callbacks.FairnessMonitor."),
        images={"Fairness metrics and per-group rates": image})


@register_section("explanations", threat="responsible_ai",
                  title="Explanations (SHAP expected gradients)")
def explanations(context):
    """SHAP values of a test subset against a training background; informational."""
    budget = context.budget
    x, _ = context.subset(context.x_test, context.y_test, budget["explain_examples"])
    background, _ = context.subset(context.x_train, context.y_train,
                                   budget["explain_background"])
    explanation = explain(context.model, x, background=background,
                          nsamples=budget["explain_samples"], seed=context.seed,
                          feature_names=context.feature_names)
    top = explanation.top_features(5)
    path = explanation.plot(context.path("explanations.png"))
    return context.result(
        "explanations", status="info",
        summary="Most influential features (mean |SHAP|): " + ", ".join(
            f"{name} ({value:.3g})" for name, value in top) + ".",
        evidence={"top_features": [list(row) for row in explanation.top_features(10)],
                  "base_values": explanation.base_values.tolist()},
        settings={"method": "gradient", "examples": len(x), "background": len(background),
                  "nsamples": budget["explain_samples"]},
        images={"SHAP values" + (" (heat maps over inputs)" if explanation.is_image else ""):
                context.png(path)})
