"""Audit section for model extraction: how much a thief steals at a fixed query budget."""

from keras_mlsec.attacks.extraction.extract_model import extract_model
from keras_mlsec.audit.registry import register_section

_HARDENING_ADVICE = ("A copy trained on the model's answers agrees with it on most inputs. "
                     "Serve it behind keras_mlsec.defenses.GuardedModel (per-client query "
                     "budgets, keras_mlsec.defenses.QueryMonitor alerts) and return less "
                     "information with keras_mlsec.defenses.OutputHardening (e.g. top1).")


@register_section("extraction", threat="extraction",
                  title="Model extraction (random-query substitute, CopycatCNN-style)")
def extraction(context):
    """A substitute trained on the model's answers to training-set queries; gate: agreement."""
    if context.num_classes < 2:
        return context.not_run("extraction", "the thief copies a classifier with >= 2 outputs")
    budget = min(context.budget["extraction_queries"], len(context.x_train))
    result = extract_model(context.model, query_budget=budget, x_pool=context.x_train,
                           strategy="random", clip=context.clip, seed=context.seed)
    count = min(len(context.x_test), context.budget["max_examples"])
    x_test, y_test = context.subset(context.x_test, context.y_test, count)
    report = result.report(x_test, y_test)
    gate = context.gates["max_extraction_agreement"]
    ok = report.agreement <= gate
    image = context.png(report.plot(context.path("extraction_agreement.png")))
    return context.result(
        "extraction", status="passed" if ok else "failed",
        summary=(f"A substitute trained on {result.queries_used} answers agrees with the model "
                 f"on {report.agreement:.1%} of {count} test inputs; gate <= {gate:.0%}."),
        evidence=report.to_dict(),
        settings={"query_budget": budget, "strategy": "random", "pool": "training inputs",
                  "test_examples": count},
        recommendation=None if ok else _HARDENING_ADVICE,
        images={"Agreement versus queries": image})
