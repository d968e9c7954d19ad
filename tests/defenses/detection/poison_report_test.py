"""PoisonReport.evaluate by hand, JSON round trip, Markdown, plot, errors."""

import numpy as np
import pytest

from keras_mlsec.defenses import PoisonReport


def _report():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    details = {0: {"size": 4, "cluster_size": 2, "cluster_fraction": 0.5,
                   "relabel_fraction": 1.0, "flagged": True},
               1: {"size": 4, "cluster_size": 1, "cluster_fraction": 0.25,
                   "relabel_fraction": 0.0, "flagged": False}}
    return PoisonReport([0, 1, 5], np.arange(8.0), labels, method="spectral",
                        class_details=details)


def test_evaluate_by_hand():
    report = _report()
    # Truth {0, 2}: flagged {0, 1, 5} -> tp 1, fp 2, fn 1, negatives 6.
    result = report.evaluate([0, 2])
    assert result["true_positives"] == 1 and result["false_positives"] == 2
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == 0.5
    assert result["f1"] == pytest.approx(0.4)
    assert result["false_positive_rate"] == pytest.approx(2 / 6)
    # Within class 0 only: flagged {0, 1}, truth {0, 2}, negatives {1, 3}.
    within = report.evaluate(np.isin(np.arange(8), [0, 2]), classes=[0])
    assert within["precision"] == 0.5 and within["recall"] == 0.5
    assert within["false_positive_rate"] == 0.5
    assert report.flagged_classes == [0] and report.suspected_fraction == 3 / 8


def test_round_trip_markdown_plot(tmp_path):
    report = _report()
    again = PoisonReport.from_json(report.to_json())
    np.testing.assert_array_equal(again.suspected_indices, [0, 1, 5])
    assert again.class_details[1]["cluster_size"] == 1 and again.flagged_classes == [0]
    text = report.to_markdown()
    assert "3 of 8 examples suspected" in text and "| 0 | 4 | 2 | 0.50 | 1.00 | yes |" in text
    report.plot(str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_bad_indices():
    with pytest.raises(ValueError, match=r"poison_indices.*\[0, 7\]"):
        _report().evaluate([8])
    with pytest.raises(ValueError, match="suspected_indices"):
        PoisonReport([9], np.zeros(3), np.zeros(3), method="spectral")
