"""Governance end to end: data provenance, a signed ML-BOM, and a tamper-evident audit log.

    python examples/governance.py

Trains a small classifier on the embedded digits with SignedModelCheckpoint
(provenance=True), so each checkpoint carries a CycloneDX 1.6 ML-BOM naming its
training data, signed in the same OpenSSF bundle as the model. Measures its
robustness, writes an ML-BOM with that report in the model card, loads the
checkpoint only when it was trained on the expected data, and records every
security event in a signed, hash-chained audit log, then shows a one-byte edit
of that log detected. About a minute on CPU.
"""

import json
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mlsec as km  # noqa: E402
from keras_mlsec.callbacks import DriftMonitor, SignedModelCheckpoint  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402
from keras_mlsec.integrity import (AuditLog, IntegrityError, dataset_digest,  # noqa: E402
                                   generate_keypair, load_verified_model, ml_bom,
                                   verify_audit_log)


def main():
    with tempfile.TemporaryDirectory(prefix="governance_") as folder:
        run(pathlib.Path(folder))  # the private key is removed with the folder


def run(work):
    private_key, public_key = generate_keypair(work / "keys")
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=8, seed=0)
    print(f"training data digest: {dataset_digest(x_train, y_train)[:23]}...")

    log = AuditLog(work / "audit.jsonl", private_key=private_key, checkpoint_every=100)
    checkpoint = work / "model.keras"
    model = reference_model("mlp", (8, 8, 1), 10)
    model.fit(x_train, y_train, epochs=3, verbose=0, callbacks=[
        SignedModelCheckpoint(checkpoint, private_key=private_key, monitor="loss",
                              provenance=True, datasets={"digits-train": (x_train, y_train)},
                              audit_log=log)])
    bom = json.loads(checkpoint.with_name("model.keras.cdx.json").read_text())
    data = [c["name"] for c in bom["components"] if c["type"] == "data"]
    print(f"signed checkpoint with ML-BOM: {len(bom['components'])} components, data {data}")

    # Only a model trained on the expected data loads.
    loaded = load_verified_model(checkpoint, public_key=public_key, audit_log=log,
                                 expected_datasets={"train": (x_train, y_train)})
    accuracy = np.mean(np.argmax(loaded.predict(x_test, verbose=0), -1) == y_test)
    print(f"loaded: trained on the expected data, test accuracy {accuracy:.3f}")
    try:
        load_verified_model(checkpoint, public_key=public_key, audit_log=log,
                            expected_datasets={"train": (x_train[:-1], y_train[:-1])})
    except IntegrityError as error:
        print(f"refused with other training data ({error.reason})")

    # Measured security properties go into the model card.
    report = km.evaluate_robustness(loaded, x_test[:200], y_test[:200], attacks=("fgsm",),
                                    eps=[0.05, 0.1], verbose=0, checks=False)
    document = json.loads(ml_bom(checkpoint, datasets={"digits-train": (x_train, y_train)},
                                 reports=[report]))
    metrics = document["components"][0]["modelCard"]["quantitativeAnalysis"]
    for metric in metrics["performanceMetrics"][:3]:
        print(f"  model card: {metric['type']} = {float(metric['value']):.3f} "
              f"({metric.get('slice', '')})")

    # Production drift alerts are audited too.
    monitor = DriftMonitor(x_train, model=loaded, on="inputs", window_size=200,
                           audit_log=log)
    monitor.update(np.clip(x_test[:200] + 0.3, 0.0, 1.0))  # a miscalibrated camera
    log.close()

    records = verify_audit_log(log.path, public_key=public_key)
    events = [json.loads(line)["event"] for line in log.path.read_text().splitlines()]
    print(f"audit log verified: {records} records, events {sorted(set(events))}")
    lines = log.path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b'"result":"accepted"', b'"result":"acceptee"')
    log.path.write_bytes(b"\n".join(lines))
    try:
        verify_audit_log(log.path, public_key=public_key)
    except IntegrityError as error:
        print(f"edited audit log detected at line {error.line} ({error.reason})")


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    main()
