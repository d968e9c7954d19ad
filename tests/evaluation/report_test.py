import json
import math
import subprocess
import sys

import pytest

from keras_mlsec.evaluation.report import RobustnessReport

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def row(attack, eps, accuracy, clean=0.9, **extra):
    return {"attack": attack, "eps": eps, "adversarial_accuracy": accuracy,
            "robustness_gap": clean - accuracy, "success_rate": (clean - accuracy) / clean,
            "mean_perturbation": eps * 0.9, "max_perturbation": eps, "seconds": 0.5,
            "config": {"eps": eps, "steps": 10}, **extra}


def make_report():
    rows = [row("fgsm", 0.1, 0.6), row("fgsm", 0.2, 0.3), row("pgd", 0.1, 0.5),
            row("pgd", 0.2, 0.1), row("worst_case", 0.1, 0.45), row("worst_case", 0.2, 0.05)]
    return RobustnessReport(clean_accuracy=0.9, results=rows, num_examples=200, norm="linf",
                            config={"model_name": "toy", "eps": (0.1, 0.2), "clip": (0.0, 1.0),
                                    "versions": {"keras": "3.15.1"}})


def test_summary_numbers():
    report = make_report()
    assert report.attacks == ["fgsm", "pgd"]
    assert report.eps_values == [0.1, 0.2]
    assert report.robust_accuracy == 0.05
    assert report.robustness_gap == pytest.approx(0.85)
    assert report.accuracy("pgd", 0.1) == 0.5
    with pytest.raises(KeyError, match="cw"):
        report.row("cw", 0.1)


def test_to_dict_has_the_documented_keys():
    data = make_report().to_dict()
    assert {"clean_accuracy", "results", "robust_accuracy", "robustness_gap", "config",
            "num_examples", "norm"} <= set(data)
    for r in data["results"]:
        assert {"attack", "eps", "adversarial_accuracy", "robustness_gap", "success_rate",
                "mean_perturbation", "max_perturbation", "seconds"} <= set(r)
    assert data["config"]["clip"] == [0.0, 1.0]  # tuples stored as JSON lists


def test_json_round_trip(tmp_path):
    report = make_report()
    path = tmp_path / "report.json"
    text = report.to_json(path)
    assert json.loads(path.read_text()) == json.loads(text)
    assert RobustnessReport.from_json(text).to_dict() == report.to_dict()
    assert RobustnessReport.from_json(str(path)).to_dict() == report.to_dict()
    assert RobustnessReport.from_dict(report.to_dict()).to_dict() == report.to_dict()


def test_non_finite_numbers_become_null():
    nan_row = {**row("pgd", 0.1, 0.5), "success_rate": math.nan, "seconds": math.inf}
    report = RobustnessReport(clean_accuracy=0.5, results=[nan_row])
    data = json.loads(report.to_json())
    assert data["results"][0]["success_rate"] is None and data["results"][0]["seconds"] is None
    assert "-" in report.to_markdown()  # rendered as a dash, not "nan"


def test_markdown_contains_the_numbers():
    text = make_report().to_markdown()
    assert "| pgd | 0.2 | 10.0% | 80.0 |" in text
    assert "| worst_case | 0.2 | 5.0% | 85.0 |" in text
    assert "Clean Accuracy**: 90.0%" in text
    assert "Robustness Gap**: 85.0 pp" in text
    assert "keras 3.15.1" in text


def test_str_summary():
    text = str(make_report())
    assert "Clean Accuracy: 90.0%" in text
    assert "Adversarial Accuracy (worst case, eps=0.2): 5.0%" in text
    assert "Robustness Gap: 85.0 pp" in text
    assert text.count("\nfgsm") == 2 and text.count("\nworst_case") == 2


def test_plot_writes_a_png(tmp_path):
    path = make_report().plot(tmp_path / "curve.png")
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000


def test_save_writes_the_three_files(tmp_path):
    paths = make_report().save(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report.json", "report.md", "robustness.png"]
    assert RobustnessReport.from_json(paths["json"]).robust_accuracy == 0.05
    assert open(paths["plot"], "rb").read(8) == PNG_SIGNATURE


@pytest.mark.parametrize("kwargs, match", [
    ({"clean_accuracy": 1.5, "results": [row("pgd", 0.1, 0.5)]}, "clean_accuracy"),
    ({"clean_accuracy": 0.9, "results": []}, "results"),
    ({"clean_accuracy": 0.9, "results": [{"attack": "pgd", "eps": 0.1}]}, "adversarial_accuracy"),
])
def test_bad_reports_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RobustnessReport(**kwargs)


def test_report_module_does_not_import_tensorflow():
    code = ("import sys, keras_mlsec.evaluation.report; "
            "sys.exit(1 if 'tensorflow' in sys.modules or 'keras' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
