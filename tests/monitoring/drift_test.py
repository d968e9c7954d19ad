"""Tests of keras_mlsec.monitoring.drift: detect_drift on hand-worked samples."""

import numpy as np
import pytest
from scipy import stats

from keras_mlsec.monitoring import DriftReport
from keras_mlsec.monitoring import detect_drift


def _normal(n, d=3, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, size=(n, d))


def test_ks_statistic_of_two_small_samples_by_hand():
    # ECDF gaps at 1, 2, 3, 4: 0.25, 0.5, 0.75 - 0.2, 1 - 0.4 -> D = 0.6.
    report = detect_drift([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0, 7.0], test="ks")
    assert isinstance(report, DriftReport)
    (feature,) = report.features
    assert feature["statistic"] == pytest.approx(0.6)
    assert 0.0 < feature["p_value"] < 1.0
    assert feature["adjusted_p_value"] == feature["p_value"]  # One feature: nothing to correct.


def test_psi_of_known_bins_by_hand():
    # Two reference-median bins: reference 50/50, current 25/75.
    # PSI = (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5).
    expected = 0.25 * np.log(2.0) + 0.25 * np.log(1.5)
    report = detect_drift([0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0], test="psi", bins=2)
    (feature,) = report.features
    assert feature["statistic"] == pytest.approx(expected)
    assert feature["p_value"] is None and feature["adjusted_p_value"] is None
    assert report.p_value is None
    assert report.drift_detected  # 0.2747 >= 0.25
    strict = detect_drift([0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0], test="psi", bins=2,
                          psi_threshold=0.3)
    assert not strict.drift_detected
    assert strict.details["psi_threshold"] == 0.3


def test_psi_bins_categorical_data_by_level():
    expected = 0.25 * np.log(2.0) + 0.25 * np.log(1.5)
    report = detect_drift(np.array(["a", "a", "b", "b"]), np.array(["a", "b", "b", "b"]),
                          test="psi")
    assert report.features[0]["statistic"] == pytest.approx(expected)


def test_chi2_contingency_by_hand():
    # Table [[30, 10], [10, 30]], expected 20 per cell: chi2 = 4 * 10^2 / 20 = 20, 1 dof.
    reference = np.array(["a"] * 30 + ["b"] * 10, dtype=object)
    current = np.array(["a"] * 10 + ["b"] * 30, dtype=object)
    report = detect_drift(reference, current, test="chi2")
    assert report.features[0]["statistic"] == pytest.approx(20.0)
    assert report.features[0]["p_value"] == pytest.approx(stats.chi2.sf(20.0, 1))
    assert report.drift_detected


def test_chi2_on_integer_categories_flags_only_the_shifted_column():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 4, size=(2000, 2))
    current = rng.integers(0, 4, size=(2000, 2))
    current[:600, 0] = 3
    report = detect_drift(reference, current, test="chi2")
    assert report.drifted_features == ["feature_0"]


def test_chi2_single_level_is_no_drift():
    report = detect_drift(np.ones((5, 1), dtype=int), np.ones((7, 1), dtype=int), test="chi2")
    assert report.features[0]["p_value"] == 1.0 and not report.drift_detected


@pytest.mark.parametrize("test", ["ks", "psi", "mmd"])
def test_no_shift_not_flagged_and_clear_shift_flagged(test):
    reference = _normal(1000, seed=1)
    same = _normal(1000, seed=2)
    shifted = _normal(1000, seed=3)
    shifted[:, 1] += 1.0
    options = {"num_permutations": 200} if test == "mmd" else {}
    assert not detect_drift(reference, same, test=test, **options).drift_detected
    report = detect_drift(reference, shifted, test=test, **options)
    assert report.drift_detected
    if test != "mmd":
        assert report.drifted_features == ["feature_1"]


def test_mmd_statistic_by_hand_and_permutation_p_values():
    # x = {0, 0}, y = {1, 1}: median squared distance 1, k_xy = e^-1,
    # unbiased MMD^2 = 1 + 1 - 2 e^-1.
    report = detect_drift([[0.0], [0.0]], [[1.0], [1.0]], test="mmd", num_permutations=50)
    assert report.features[0]["statistic"] == pytest.approx(2.0 - 2.0 / np.e)
    assert report.details["bandwidth"] == pytest.approx(1.0)
    reference = _normal(200, d=5, seed=4)
    shifted = _normal(200, d=5, shift=0.5, seed=5)
    small = detect_drift(reference, shifted, test="mmd", num_permutations=200, seed=0)
    assert small.p_value == pytest.approx(1.0 / 201)  # No permutation beats the shift.
    identical = detect_drift(reference, reference, test="mmd", num_permutations=200, seed=0)
    assert identical.p_value > 0.5
    assert len(identical.features) == 1 and identical.correction == "none"


def test_mmd_is_reproducible_with_a_seed():
    reference, current = _normal(100, seed=6), _normal(100, seed=7)
    first = detect_drift(reference, current, test="mmd", num_permutations=100, seed=3)
    second = detect_drift(reference, current, test="mmd", num_permutations=100, seed=3)
    assert first.p_value == second.p_value


def test_correction_changes_the_verdict_on_many_features():
    rng = np.random.default_rng(8)
    reference = rng.normal(size=(400, 20))
    current = rng.normal(size=(400, 20))
    current[:, :6] += 0.22  # Six weak shifts.
    bonferroni = detect_drift(reference, current, correction="bonferroni")
    fdr = detect_drift(reference, current, correction="fdr")
    none = detect_drift(reference, current, correction="none")
    assert (set(bonferroni.drifted_features) <= set(fdr.drifted_features)
            <= set(none.drifted_features))
    assert len(fdr.drifted_features) > len(bonferroni.drifted_features)


def test_images_are_flattened_to_features():
    rng = np.random.default_rng(9)
    reference = rng.uniform(size=(300, 4, 4))
    current = rng.uniform(size=(300, 4, 4))
    current[:, 2, 3] += 0.5
    report = detect_drift(reference, current, feature_names=[f"px{j}" for j in range(16)])
    assert len(report.features) == 16
    assert report.drifted_features == ["px11"]


def test_dataframe_columns_name_the_features():
    import pandas

    rng = np.random.default_rng(14)
    reference = pandas.DataFrame({"age": rng.normal(size=300), "income": rng.normal(size=300)})
    current = pandas.DataFrame({"age": rng.normal(size=300), "income": rng.normal(2, 1, 300)})
    assert detect_drift(reference, current).drifted_features == ["income"]


def test_false_alarm_rate_within_binomial_tolerance():
    rng = np.random.default_rng(10)
    trials, alpha = 200, 0.05
    alarms = sum(
        detect_drift(rng.normal(size=200), rng.normal(size=200), alpha=alpha).drift_detected
        for _ in range(trials))
    assert alarms <= stats.binom.ppf(0.999, trials, alpha)


def test_empty_reference_raises_naming_it():
    with pytest.raises(ValueError, match="Expected `reference` to hold at least one example"):
        detect_drift(np.zeros((0, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="Received: reference=None"):
        detect_drift(None, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="Expected `current` to hold at least one example"):
        detect_drift(np.zeros((5, 3)), [])


def test_mismatched_feature_counts_raise():
    with pytest.raises(ValueError, match=r"`current` to have the same number of features as "
                                         r"`reference` \(3\). Received: current with 4 features"):
        detect_drift(np.zeros((5, 3)), np.zeros((5, 4)))


@pytest.mark.parametrize("reference", [
    np.array(["a", "b", "a"]),
    np.array([True, False, True]),
    np.array([0, 1, 2, 1, 0]),
])
def test_categorical_data_to_ks_raises_and_suggests_chi2(reference):
    with pytest.raises(ValueError, match=r"`reference` for test='ks'.*Use test='chi2'"):
        detect_drift(reference, reference, test="ks")


def test_integer_data_with_many_levels_is_allowed_in_ks():
    rng = np.random.default_rng(11)
    report = detect_drift(rng.integers(0, 256, 500), rng.integers(0, 256, 500), test="ks")
    assert not report.drift_detected


def test_continuous_data_to_chi2_and_objects_to_mmd_raise():
    x = np.random.default_rng(12).normal(size=(300, 1))
    with pytest.raises(ValueError, match="Expected discrete features for test='chi2'.*test='ks'"):
        detect_drift(x, x, test="chi2")
    with pytest.raises(TypeError, match="Expected numeric `reference` for test='mmd'"):
        detect_drift(np.array(["a", "b"]), np.array(["a", "b"]), test="mmd")


@pytest.mark.parametrize("kwargs, match", [
    ({"test": "t-test"}, "Expected `test` to be one of .*Received: test='t-test'"),
    ({"correction": "holm"}, "Expected `correction` .*Received: correction='holm'"),
    ({"alpha": 1.5}, r"Expected `alpha` to be in \(0, 1\).*Received: alpha=1.5"),
    ({"alpha": 0}, r"Received: alpha=0"),
    ({"test": "psi", "bins": 1}, "Received: bins=1"),
    ({"test": "mmd", "num_permutations": 0}, "Received: num_permutations=0"),
    ({"feature_names": ["a"]}, "one name per feature"),
])
def test_bad_options_raise_naming_the_argument(kwargs, match):
    x = np.random.default_rng(13).normal(size=(20, 2))
    with pytest.raises(ValueError, match=match):
        detect_drift(x, x, **kwargs)


def test_non_number_alpha_and_nan_data_raise():
    x = np.ones((4, 2))
    with pytest.raises(TypeError, match="Received: alpha='0.05'"):
        detect_drift(x, x, alpha="0.05")
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Expected `current` to hold finite values"):
        detect_drift(x, bad)
