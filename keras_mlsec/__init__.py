"""keras_mlsec: AI/ML security for the Keras workflow.

Attack a `keras.Model` the way an adversary would, measure its robustness in
one call, and write a report a reviewer can read::

    import keras_mlsec as km

    x_adv = km.attacks.pgd(model, x, y, eps=0.1)
    report = km.evaluate_robustness(model, x, y, eps=[0.05, 0.1, 0.2])
    print(report)

Submodules are imported lazily, so ``import keras_mlsec`` stays cheap.
"""

from keras_mlsec._core.lazy import lazy_exports

__version__ = "0.1.0"

_SUBMODULES = ("attacks", "callbacks", "cli", "datasets", "defenses", "evaluation", "integrity",
               "federated", "monitoring", "privacy", "training", "responsible")
_EXPORTS = {
    **{name: f"keras_mlsec.{name}" for name in _SUBMODULES},
    "evaluate_robustness": "keras_mlsec.evaluation.robustness",
    "RobustnessReport": "keras_mlsec.evaluation.report",
    "audit": "keras_mlsec.audit",
    "SecurityAudit": "keras_mlsec.audit.security_audit",
}

__all__ = ["__version__", *_EXPORTS]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
