"""Audit sections for MLOps security: static scan of the model file and a drift baseline."""

import numpy as np

from keras_mlsec.audit.registry import register_section
from keras_mlsec.integrity.scanning import scan_model
from keras_mlsec.monitoring.drift import detect_drift


@register_section("static_scan", threat="mlops",
                  title="Static scan of the saved model file (keras_mlsec.integrity.scan_model)")
def static_scan(context):
    """Walks the saved config for code-execution and file-access risks; gate: none blocking."""
    findings = scan_model(context.model_path)
    blocking = [f for f in findings if f.blocking]
    ok = not blocking or not context.gates["scan"]
    return context.result(
        "static_scan", status="passed" if ok else "failed",
        summary=(f"{len(findings)} finding(s), {len(blocking)} blocking, in "
                 f"{context.model_path.rsplit('/', 1)[-1]}."),
        evidence={"findings": [f.to_dict() for f in findings]},
        settings={"path": context.model_path},
        recommendation=None if ok else (
            "Remove Lambda / custom-code layers or register them; load only with "
            "keras_mlsec.integrity.load_verified_model after signing with "
            "keras_mlsec.integrity.sign_model (and keras_mlsec.callbacks.SignedModelCheckpoint "
            "during training)."))


@register_section("drift", threat="mlops",
                  title="Drift baseline: test data against training data (KS per feature)")
def drift(context):
    """KS test per feature, train vs test (Bonferroni); the reference for production monitoring."""
    reference = context.x_train.reshape(len(context.x_train), -1)
    current = context.x_test.reshape(len(context.x_test), -1)
    varying = np.ptp(reference, axis=0) > 0  # constant pixels carry no distribution
    names = [f"feature_{i}" for i in np.flatnonzero(varying)]
    report = detect_drift(reference[:, varying], current[:, varying], test="ks",
                          feature_names=names)
    share = len(report.drifted_features) / max(1, int(varying.sum()))
    gate = context.gates["max_drift_share"]
    ok = share <= gate
    path = report.plot(context.path("drift.png"))
    return context.result(
        "drift", status="passed" if ok else "failed",
        summary=(f"{len(report.drifted_features)} of {int(varying.sum())} varying features "
                 f"differ between train and test (KS, Bonferroni, alpha 0.05); gate share <= "
                 f"{gate:g}."),
        evidence={"drifted_features": list(report.drifted_features)[:50],
                  "drift_share": share, "most_drifted": report.most_drifted(5)},
        settings={"test": "ks", "alpha": 0.05, "correction": "bonferroni",
                  "features": int(varying.sum()), "constant_features_skipped":
                      int((~varying).sum())},
        recommendation=None if ok else (
            "The test split does not look like the training data: re-split or re-collect, and "
            "monitor production inputs with keras_mlsec.callbacks.DriftMonitor("
            "x_train, on=\"inputs\")."),
        images={"Most drifted features": context.png(path)})
