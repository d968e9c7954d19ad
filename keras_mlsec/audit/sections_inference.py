"""Audit section for inference-time attacks: robustness to evasion."""

from keras_mlsec.audit.registry import register_section
from keras_mlsec.evaluation.robustness import evaluate_robustness


@register_section("robustness", threat="inference_time",
                  title="Robustness to evasion (FGSM and PGD, keras_mlsec.evaluate_robustness)")
def robustness(context):
    """FGSM and PGD at each eps on a test subset; gate: worst-case accuracy at the top eps."""
    if context.num_classes < 2:
        return context.not_run("robustness", "the attacks need one score per class (>= 2 "
                                             "outputs); the model has a single output unit")
    x, y = context.subset(context.x_test, context.y_test, context.budget["max_examples"])
    options = {} if context.eps is None else {"eps": context.eps}
    report = evaluate_robustness(
        context.model, x, y, clip=context.clip, seed=context.seed, verbose=0, checks=context.budget["masking_checks"],
        attack_params={"pgd": {"steps": context.budget["pgd_steps"]}}, **options)
    gate = context.gates["min_robust_accuracy"]
    ok = report.robust_accuracy >= gate
    image = context.png(report.plot(context.path("robustness.png")))
    return context.result(
        "robustness", status="passed" if ok else "failed",
        summary=(f"Worst-case accuracy {report.robust_accuracy:.1%} at eps={report.max_eps:g} "
                 f"(clean {report.clean_accuracy:.1%}); gate >= {gate:.0%}."),
        evidence={"clean_accuracy": report.clean_accuracy,
                  "robust_accuracy": report.robust_accuracy, "max_eps": report.max_eps,
                  "rows": report.to_dict()["results"]},
        settings={"attacks": report.attacks, "eps": report.eps_values, "norm": "linf",
                  "clip": context.clip, "examples": len(x),
                  "pgd_steps": context.budget["pgd_steps"]},
        recommendation=None if ok else (
            "Adversarial training: keras_mlsec.training.AdversarialModel(model, "
            "attack=keras_mlsec.attacks.PGD(eps=...)), watched with "
            "keras_mlsec.callbacks.RobustnessMonitor; certify with "
            "keras_mlsec.defenses randomized smoothing."),
        images={"Accuracy under attack per eps": image})
