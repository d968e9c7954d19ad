"""Tests of `keras-mlsec bom` and `keras-mlsec log verify`."""

import json

import numpy as np
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from keras_mlsec.cli import main
from keras_mlsec.datasets import reference_model
from keras_mlsec.evaluation.report import RobustnessReport
from keras_mlsec.integrity import AuditLog, dataset_digest


def test_bom_writes_a_valid_ml_bom_with_data_and_reports(tmp_path, capsys):
    model = tmp_path / "model.keras"
    reference_model("mlp").save(model)
    np.savez(tmp_path / "train.npz", x=np.zeros((4, 8, 8, 1)), y=np.arange(4))
    report = tmp_path / "robustness.json"
    RobustnessReport(clean_accuracy=0.9, results=[
        {"attack": "pgd", "eps": 0.1, "adversarial_accuracy": 0.3}]).to_json(report)
    output = tmp_path / "bom.json"
    assert main(["bom", str(model), "--data", str(tmp_path / "train.npz"),
                 "--data", f"extra={report}", "--report", f"robustness={report}",
                 "--metadata", '{"owner": "ci"}', "--output", str(output)]) == 0
    assert "CycloneDX 1.6 ML-BOM" in capsys.readouterr().out
    text = output.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    document = json.loads(text)
    data = {c["name"]: c["hashes"][0]["content"] for c in document["components"]
            if c["type"] == "data"}
    assert data == {"train.npz": dataset_digest(path=tmp_path / "train.npz")[7:],
                    "extra": dataset_digest(path=report)[7:]}
    metrics = document["components"][0]["modelCard"]["quantitativeAnalysis"]
    assert {"type": "robust_accuracy", "value": "0.3",
            "slice": "weakest attack result; linf eps=0.1"} in metrics["performanceMetrics"]


def test_bom_usage_errors_exit_2(tmp_path, capsys):
    model = tmp_path / "model.keras"
    model.write_bytes(b"not a zip")
    assert main(["bom", str(model)]) == 2
    assert main(["bom", str(tmp_path / "missing.keras")]) == 2
    assert main(["bom", str(model), "--report", "fairness=x.json"]) == 2
    assert main(["bom", str(model), "--data", "a=" + str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err
    assert "Received: model=" in err and "KIND in" in err and "--data" in err
    assert "Traceback" not in err


def test_log_verify_exit_codes(tmp_path, capsys):
    assert main(["keygen", str(tmp_path / "k")]) == 0
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, private_key=tmp_path / "k" / "private_key.pem") as log:
        log.append("deployed", {"model": "m.keras"})
    public = str(tmp_path / "k" / "public_key.pem")
    assert main(["log", "verify", str(path), "--public-key", public]) == 0
    assert "3 records verified (hash chain and signatures)" in capsys.readouterr().out
    path.write_text(path.read_text().replace("m.keras", "n.keras"))
    assert main(["log", "verify", str(path), "--public-key", public]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "line 2" in err and "Traceback" not in err
    assert main(["log", "verify", str(tmp_path / "none.jsonl")]) == 2
    assert main(["log", "verify", str(path), "--public-key",
                 str(tmp_path / "k" / "private_key.pem")]) == 2
    err = capsys.readouterr().err
    assert "path=" in err and "public_key=" in err
