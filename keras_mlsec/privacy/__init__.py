"""Differentially private training: DP-SGD as a Keras `train_step`, plus accounting.

    import keras_mlsec as km

    private = km.privacy.make_private(model, l2_norm_clip=1.0, target_epsilon=3.0,
                                      delta=1e-5, epochs=10, batch_size=256,
                                      num_examples=len(x))
    private.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    private.fit(x, y, epochs=10, batch_size=256)

Imported lazily: TensorFlow and dp_accounting load on first use.
"""

from keras_mlsec._core.lazy import lazy_exports

_EXPORTS = {
    "DPModel": "keras_mlsec.privacy.dp_model",
    "make_private": "keras_mlsec.privacy.calibration",
    "compute_epsilon": "keras_mlsec.privacy.accounting",
    "noise_multiplier_for": "keras_mlsec.privacy.accounting",
    "poisson_dataset": "keras_mlsec.privacy.sampling",
    "privacy_statement": "keras_mlsec.privacy.statement",
    "AuditReport": "keras_mlsec.privacy.audit_report",
    "audit_epsilon": "keras_mlsec.privacy.audit",
    "craft_canaries": "keras_mlsec.privacy.audit",
    "epsilon_lower_bound": "keras_mlsec.privacy.audit",
    "one_run_epsilon_lower_bound": "keras_mlsec.privacy.audit",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
