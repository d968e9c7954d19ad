import json
import re

import keras
import numpy as np
import pytest

from keras_mlsec.cli import main
from keras_mlsec.datasets import load_credit, reference_model


@pytest.fixture(scope="module")
def credit_files(tmp_path_factory):
    """A small credit MLP (2 logits) saved as model.keras and its data as data.npz."""
    root = tmp_path_factory.mktemp("audit-cli")
    (x, y), (x_test, y_test) = load_credit(bias=0.5, num_examples=600, seed=0)
    keras.utils.set_random_seed(0)
    model = reference_model("mlp", (7,), 2, seed=0)
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    model.save(root / "model.keras")
    np.savez(root / "data.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    return str(root / "model.keras"), str(root / "data.npz")


def test_passing_gates_exit_0_and_write_the_page(credit_files, tmp_path, capsys):
    model, data = credit_files
    out = tmp_path / "report"
    status = main(["audit", model, "--data", data, "--protected", "0", "--output", str(out),
                   "--sections", "static_scan", "fairness", "--no-fairness-gate"])
    assert status == 0
    report = json.loads((out / "audit.json").read_text())
    assert [s["name"] for s in report["sections"]] == ["static_scan", "fairness"]
    assert report["sections"][1]["status"] == "passed"  # gate switched off, still measured
    assert report["sections"][1]["evidence"]["model"]["metrics"]["disparate_impact"] < 0.8
    assert (out / "audit.html").read_text().startswith("<!DOCTYPE html>")
    assert "Security audit" in capsys.readouterr().out


def test_a_failed_gate_exits_1(credit_files, tmp_path, capsys):
    model, data = credit_files
    status = main(["audit", model, "--data", data, "--protected", "0", "--output",
                   str(tmp_path / "r"), "--sections", "fairness"])
    assert status == 1  # the injected bias fails the four-fifths rule
    assert "failed gates: fairness" in capsys.readouterr().err


@pytest.mark.parametrize("extra,message", [
    (["--data", "missing.npz"], "data file not found"),
    (["--min-robust-accuracy", "2"], r"--min-robust-accuracy in \[0, 1\]"),
    (["--sections", "horoscope"], "Expected section names"),
    (["--protected", "3"], "binary protected attribute"),
])
def test_usage_errors_exit_2(credit_files, tmp_path, capsys, extra, message):
    model, data = credit_files
    args = ["audit", model, "--data", data, "--output", str(tmp_path / "r"), *extra]
    if "--sections" not in extra:
        args += ["--sections", "fairness"]
    if extra[0] == "--data":
        args = ["audit", model, *extra, "--output", str(tmp_path / "r")]
    assert main(args) == 2
    assert re.search(message, capsys.readouterr().err)


def test_model_or_demo_is_required(capsys):
    assert main(["audit"]) == 2
    assert "expected MODEL.keras and --data" in capsys.readouterr().err
