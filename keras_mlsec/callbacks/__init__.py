"""Keras callbacks that bring security checks into `model.fit`.

Imported lazily: each callback lives in its own module.
"""

import importlib

_CALLBACKS = {
    "SignedModelCheckpoint": "keras_mlsec.callbacks.signed_checkpoint",
    "DriftMonitor": "keras_mlsec.callbacks.drift_monitor",
}

__all__ = sorted(_CALLBACKS)


def __getattr__(name):
    if name in _CALLBACKS:
        value = getattr(importlib.import_module(_CALLBACKS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_mlsec.callbacks' has no attribute {name!r}")
