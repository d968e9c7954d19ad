"""Keras callbacks that bring security checks into `model.fit`.

Imported lazily: each callback lives in its own module.
"""

from keras_mlsec._core.lazy import lazy_exports

_CALLBACKS = {
    "SignedModelCheckpoint": "keras_mlsec.callbacks.signed_checkpoint",
    "DriftMonitor": "keras_mlsec.callbacks.drift_monitor",
    "RobustnessMonitor": "keras_mlsec.callbacks.robustness_monitor",
    "PrivacyBudget": "keras_mlsec.callbacks.privacy_budget",
    "MembershipMonitor": "keras_mlsec.callbacks.membership_monitor",
    "PoisoningMonitor": "keras_mlsec.callbacks.poisoning_monitor",
}

__all__ = sorted(_CALLBACKS)

__getattr__, __dir__ = lazy_exports(__name__, _CALLBACKS)
