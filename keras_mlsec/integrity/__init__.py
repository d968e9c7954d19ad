"""Model integrity: sign, verify, scan and safely load Keras models.

    from keras_mlsec import integrity

    private_key, public_key = integrity.generate_keypair("keys")
    integrity.sign_model("model.keras", private_key=private_key,
                         metadata={"epsilon": 3.0})
    integrity.verify_model("model.keras", public_key=public_key)
    model = integrity.load_verified_model("model.keras", public_key=public_key)

Signatures use the OpenSSF model signing format (`model-signing`, Sigstore
bundle, local elliptic-curve key), so `model_signing verify key` checks them too.

Governance: `dataset_digest` fingerprints training data, `ml_bom` writes a
CycloneDX 1.6 ML-BOM (model, data, environment, measured security
properties) that `SignedModelCheckpoint(..., provenance=True)` signs with the
model, and `AuditLog` / `verify_audit_log` keep a tamper-evident record of
security events.
"""

from keras_mlsec._core.lazy import lazy_exports

_EXPORTS = {
    "generate_keypair": "keras_mlsec.integrity.signing",
    "sign_model": "keras_mlsec.integrity.signing",
    "verify_model": "keras_mlsec.integrity.signing",
    "load_verified_model": "keras_mlsec.integrity.loading",
    "scan_model": "keras_mlsec.integrity.scanning",
    "IntegrityError": "keras_mlsec.integrity.errors",
    "Finding": "keras_mlsec.integrity.finding",
    "dataset_digest": "keras_mlsec.integrity.digests",
    "ml_bom": "keras_mlsec.integrity.bom",
    "AuditLog": "keras_mlsec.integrity.audit_log",
    "verify_audit_log": "keras_mlsec.integrity.audit_log",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
