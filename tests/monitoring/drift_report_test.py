"""Tests of keras_mlsec.monitoring.DriftReport: verdict, export, text and plot."""

import json

import numpy as np
import pytest

from keras_mlsec.monitoring import DriftReport
from keras_mlsec.monitoring import detect_drift

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _report():
    return DriftReport(
        test="ks", alpha=0.05, correction="bonferroni", n_reference=100, n_current=50,
        features=[
            {"feature": "age", "statistic": 0.1, "p_value": 0.2, "adjusted_p_value": 0.4,
             "drifted": False},
            {"feature": "income", "statistic": 0.4, "p_value": 0.001, "adjusted_p_value": 0.002,
             "drifted": True},
        ])


def test_verdict_and_summary_properties():
    report = _report()
    assert report.drift_detected
    assert report.drifted_features == ["income"]
    assert report.p_value == 0.002
    assert report.statistic == 0.4
    assert [f["feature"] for f in report.most_drifted(2)] == ["income", "age"]
    assert report.test == "ks" and report.alpha == 0.05 and report.correction == "bonferroni"


def test_no_drift_when_no_feature_drifted():
    report = DriftReport(test="ks", alpha=0.05, correction="none", n_reference=5, n_current=5,
                         features=[{"feature": "a", "statistic": 0.1, "p_value": 0.9,
                                    "adjusted_p_value": 0.9, "drifted": False}])
    assert not report.drift_detected and report.drifted_features == []
    assert "no drift in 0 of 1" in str(report)


def test_to_dict_and_to_json_round_trip():
    report = _report()
    data = report.to_dict()
    assert data["drift_detected"] is True and data["num_drifted"] == 1
    assert data["features"][1]["feature"] == "income"
    parsed = json.loads(report.to_json())
    assert parsed == json.loads(json.dumps(data))
    assert parsed["n_reference"] == 100 and parsed["n_current"] == 50


def test_psi_report_exports_null_p_values():
    report = detect_drift([0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0], test="psi", bins=2)
    parsed = json.loads(report.to_json())
    assert parsed["p_value"] is None and parsed["features"][0]["p_value"] is None
    assert parsed["details"]["thresholds"] == {"moderate": 0.1, "significant": 0.25}
    assert "PSI >= 0.25" in str(report)


def test_str_lists_the_most_drifted_first():
    text = str(_report())
    assert text.startswith("DriftReport: DRIFT DETECTED in 1 of 2 feature(s) (test=ks")
    assert text.index("income") < text.index("age")
    assert "drift_detected=True" in repr(_report())


def test_str_truncates_many_features():
    rng = np.random.default_rng(0)
    report = detect_drift(rng.normal(size=(50, 15)), rng.normal(size=(50, 15)))
    assert "... 5 more feature(s)" in str(report)


@pytest.mark.parametrize("test", ["ks", "psi", "chi2", "mmd"])
def test_plot_writes_a_png(tmp_path, test):
    rng = np.random.default_rng(1)
    if test == "chi2":
        reference, current = rng.integers(0, 3, (200, 3)), rng.integers(0, 3, (200, 3))
    else:
        reference, current = rng.normal(size=(200, 3)), rng.normal(0.5, 1.0, (200, 3))
    options = {"num_permutations": 20} if test == "mmd" else {}
    report = detect_drift(reference, current, test=test, **options)
    path = report.plot(str(tmp_path / f"{test}.png"), top_k=2)
    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_SIGNATURE


def test_plot_without_samples(tmp_path):
    path = _report().plot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 1000 and path.endswith("report.png")
