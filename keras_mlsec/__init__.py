"""keras_mlsec: AI/ML security for the Keras workflow.

Attack a `keras.Model` the way an adversary would, measure its robustness in
one call, and write a report a reviewer can read::

    import keras_mlsec as km

    x_adv = km.attacks.pgd(model, x, y, eps=0.1)
    report = km.evaluate_robustness(model, x, y, eps=[0.05, 0.1, 0.2])
    print(report)

Submodules are imported lazily, so ``import keras_mlsec`` stays cheap.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("attacks", "callbacks", "cli", "datasets", "defenses", "evaluation", "integrity",
               "monitoring", "privacy")
_LAZY_ATTRIBUTES = {
    "evaluate_robustness": ("keras_mlsec.evaluation.robustness", "evaluate_robustness"),
    "RobustnessReport": ("keras_mlsec.evaluation.report", "RobustnessReport"),
}

__all__ = ["__version__", *_SUBMODULES, *_LAZY_ATTRIBUTES]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"keras_mlsec.{name}")
        globals()[name] = module
        return module
    if name in _LAZY_ATTRIBUTES:
        module_name, attribute = _LAZY_ATTRIBUTES[name]
        value = getattr(importlib.import_module(module_name), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_mlsec' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
