"""Responsible AI: group fairness (aif360) and explanations (shap) for Keras models.

    from keras_mlsec import responsible

    responsible.dataset_bias(x, y, protected=0)            # bias in the labels
    report = responsible.fairness_report(model, x, y, protected=0)
    weights = responsible.reweighing(x, y, protected=0)    # pre-processing
    fair = responsible.AdversarialDebiasingModel(model, protected=0)  # in-processing
    post = responsible.FairPostprocessor(model).fit(x_val, y_val, protected=0)  # post
    explanation = responsible.explain(model, x[:20], background=x[:100])

Imported lazily: aif360 and shap load only when a function that needs them runs.
"""

from keras_mlsec._core.lazy import lazy_exports
# Imported eagerly (NumPy only): the submodule `fairness_report` shares its name with the
# function, and this import binds the function over the submodule on the package.
from keras_mlsec.responsible.fairness import (dataset_bias, fairness_report,  # noqa: F401
                                              protected_groups, reweighing)
from keras_mlsec.responsible.fairness_report import DEFAULT_BOUNDS, FairnessReport  # noqa: F401

_EXPORTS = {
    "FairPostprocessor": "keras_mlsec.responsible.fair_postprocessor",
    "AdversarialDebiasingModel": "keras_mlsec.responsible.adversarial_debiasing_model",
    "explain": "keras_mlsec.responsible.explanations",
    "Explanation": "keras_mlsec.responsible.explanation",
}

__all__ = sorted([*_EXPORTS, "DEFAULT_BOUNDS", "FairnessReport", "dataset_bias",
                   "fairness_report", "protected_groups", "reweighing"])

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
