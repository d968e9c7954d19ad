import json

import numpy as np
import pytest

from keras_mlsec.attacks import MembershipReport
from keras_mlsec.attacks.privacy.membership_report import area_under_curve, roc_curve, tpr_at_fpr


def test_perfectly_separated_scores_give_auc_one():
    report = MembershipReport(member_scores=[0.9, 0.8, 0.7], non_member_scores=[0.1, 0.2])
    assert report.auc == pytest.approx(1.0)
    assert report.advantage == pytest.approx(1.0)
    assert report.tpr_at_fpr == {0.001: 1.0, 0.01: 1.0, 0.1: 1.0}


def test_identical_scores_give_auc_one_half_and_no_advantage():
    report = MembershipReport(member_scores=[0.5] * 4, non_member_scores=[0.5] * 6)
    assert report.auc == pytest.approx(0.5)
    assert report.advantage == pytest.approx(0.0)
    assert report.tpr_at_fpr[0.1] == 0.0
    fpr, tpr = report.roc
    np.testing.assert_allclose(fpr, [0.0, 1.0])
    np.testing.assert_allclose(tpr, [0.0, 1.0])


def test_two_by_two_case_by_hand():
    # Members 0.9, 0.3; non-members 0.6, 0.1. Pairs (m > n): (0.9,0.6) (0.9,0.1) (0.3,0.1)
    # -> 3 of 4 -> AUC 0.75. Thresholds 0.9, 0.6, 0.3, 0.1 give (fpr, tpr):
    # (0, .5), (.5, .5), (.5, 1), (1, 1); advantage = max(tpr - fpr) = 0.5.
    report = MembershipReport(member_scores=[0.9, 0.3], non_member_scores=[0.6, 0.1])
    fpr, tpr = report.roc
    np.testing.assert_allclose(fpr, [0.0, 0.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0.0, 0.5, 0.5, 1.0, 1.0])
    assert report.auc == pytest.approx(0.75)
    assert report.advantage == pytest.approx(0.5)
    assert report.tpr_at_fpr[0.001] == pytest.approx(0.5)
    assert report.num_members == 2 and report.num_non_members == 2


def test_ties_between_member_and_non_member_count_one_half():
    # One tie among 2x2 pairs: (0.5 vs 0.5) counts 1/2, (0.5 vs 0.1) 1, (0.2 vs 0.1) 1,
    # (0.2 vs 0.5) 0 -> 2.5 / 4.
    fpr, tpr = roc_curve([0.5, 0.2], [0.5, 0.1])
    assert area_under_curve(fpr, tpr) == pytest.approx(0.625)


def test_tpr_at_fpr_takes_the_largest_tpr_within_the_budget():
    # 10 non-members, 10 members. FPR 0.1 allows exactly one false positive.
    members = np.arange(10) + 0.5          # 0.5 .. 9.5
    non_members = np.array([9.0] + [-1.0] * 9)
    report = MembershipReport(member_scores=members, non_member_scores=non_members)
    # At FPR 0: only 9.5 is above 9.0 -> TPR 0.1. At FPR 0.1: all members >= -1 beat
    # the 9 low ones -> TPR 1.0.
    assert report.tpr_at_fpr[0.001] == pytest.approx(0.1)
    assert report.tpr_at_fpr[0.01] == pytest.approx(0.1)
    assert report.tpr_at_fpr[0.1] == pytest.approx(1.0)
    assert tpr_at_fpr(*report.roc, 0.05) == pytest.approx(0.1)


def test_to_dict_and_json_round_trip(tmp_path):
    report = MembershipReport(member_scores=[0.9, 0.3], non_member_scores=[0.6, 0.1],
                              method="loss", config={"batch_size": 64})
    data = report.to_dict()
    assert data["auc"] == pytest.approx(0.75)
    assert data["method"] == "loss"
    assert set(data["tpr_at_fpr"]) == {"0.001", "0.01", "0.1"}
    assert data["roc"]["fpr"] == [0.0, 0.0, 0.5, 0.5, 1.0]
    path = tmp_path / "report.json"
    text = report.to_json(path)
    assert json.loads(path.read_text()) == json.loads(text)
    again = MembershipReport.from_json(str(path))
    assert again.auc == report.auc and again.method == "loss"
    assert again.config == {"batch_size": 64}


def test_str_names_the_metrics():
    text = str(MembershipReport(member_scores=[1.0, 2.0], non_member_scores=[0.0],
                                method="entropy"))
    assert "entropy" in text and "AUC: 1.0000" in text and "TPR at 0.1% FPR" in text


def test_plot_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    report = MembershipReport(member_scores=rng.normal(1, 1, 300),
                              non_member_scores=rng.normal(0, 1, 300), method="loss")
    path = report.plot(str(tmp_path / "roc.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_scores_raise():
    with pytest.raises(ValueError, match="member_scores"):
        MembershipReport(member_scores=[], non_member_scores=[0.1])
    with pytest.raises(ValueError, match="non_member_scores"):
        MembershipReport(member_scores=[0.1], non_member_scores=[np.nan])
    with pytest.raises(ValueError, match="member_scores"):
        MembershipReport.from_dict({"auc": 0.5})
