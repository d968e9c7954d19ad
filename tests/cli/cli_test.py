import json
import subprocess
import sys

import numpy as np
import pytest
from test_case import digits, trained_model

from keras_mlsec.cli import main
from keras_mlsec.evaluation import RobustnessReport


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A saved digits MLP and 60 test examples as model.keras and data.npz."""
    root = tmp_path_factory.mktemp("cli")
    model_path, data_path = root / "model.keras", root / "data.npz"
    trained_model().save(model_path)
    _, (x_test, y_test) = digits()
    np.savez(data_path, x=x_test[:60], y=y_test[:60])
    return str(model_path), str(data_path)


def evaluate(files, *extra):
    model, data = files
    return main(["evaluate", model, "--data", data, "--eps", "0.05", "0.1",
                 "--attacks", "fgsm", "pgd", *extra])


def test_evaluate_json_prints_only_the_report(files, capsys):
    assert evaluate(files, "--json") == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # nothing but the JSON on stdout
    assert data["num_examples"] == 60
    attacks = {(r["attack"], r["eps"]) for r in data["results"]}
    assert attacks == {(a, e) for a in ("fgsm", "pgd", "worst_case") for e in (0.05, 0.1)}
    assert RobustnessReport.from_dict(data).robust_accuracy == data["robust_accuracy"]


def test_evaluate_prints_summary_and_writes_output(files, capsys, tmp_path):
    assert evaluate(files, "--limit", "30", "--output", str(tmp_path / "out")) == 0
    out = capsys.readouterr().out
    assert "Clean Accuracy" in out and "Robustness Gap" in out
    report = RobustnessReport.from_json(str(tmp_path / "out" / "report.json"))
    assert report.num_examples == 30
    assert (tmp_path / "out" / "robustness.png").read_bytes()[:4] == b"\x89PNG"


def test_min_robust_accuracy_sets_the_exit_status(files, capsys):
    assert evaluate(files, "--min-robust-accuracy", "0.99") == 1
    assert "below --min-robust-accuracy" in capsys.readouterr().err
    assert evaluate(files, "--min-robust-accuracy", "0.0") == 0


def test_accepts_x_test_y_test_keys(files, tmp_path):
    _, (x_test, y_test) = digits()
    path = tmp_path / "test.npz"
    np.savez(path, x_test=x_test[:20], y_test=y_test[:20])
    assert main(["evaluate", files[0], "--data", str(path), "--eps", "0.1",
                 "--attacks", "fgsm", "--json"]) == 0


def test_usage_errors_exit_2_with_a_message(files, capsys, tmp_path):
    model, data = files
    assert main(["evaluate", str(tmp_path / "missing.keras"), "--data", data]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main(["evaluate", model, "--data", str(tmp_path / "missing.npz")]) == 2
    assert "data file not found" in capsys.readouterr().err

    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, images=np.zeros((2, 8, 8, 1)), labels=np.zeros(2))
    assert main(["evaluate", model, "--data", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert "found keys: ['images', 'labels']" in err and "Traceback" not in err

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip archive")
    assert main(["evaluate", model, "--data", str(garbage)]) == 2
    assert "cannot read" in capsys.readouterr().err

    assert main(["evaluate", model, "--data", data, "--attacks", "nope"]) == 2
    assert main(["evaluate", model, "--data", data, "--attacks", "autoattack",
                 "autoattack-rand"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["evaluate", model, "--data", data, "--min-robust-accuracy", "97"]) == 2


def test_console_script_missing_file_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "keras_mlsec.cli", "evaluate", str(tmp_path / "m.keras"),
         "--data", str(tmp_path / "d.npz")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "not found" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_demo_quick_writes_the_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--output", str(out)]) == 0
    assert {"report.json", "report.md", "robustness.png", "model.keras"} <= {
        p.name for p in out.iterdir()}
    report = RobustnessReport.from_json(str(out / "report.json"))
    assert report.clean_accuracy > 0.5
    # The demo runs the default evaluation: reference rows plus the AutoAttack cascade.
    assert report.attacks == ["fgsm", "pgd", "apgd-ce", "apgd-t", "fab-t", "square"]
    assert report.config["preset"] == "autoattack"
    assert "Clean Accuracy" in capsys.readouterr().out
