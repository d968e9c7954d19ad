"""Tests of keras_mlsec.monitoring.statistics: PSI, corrections and MMD on plain arrays."""

import numpy as np
import pytest

from keras_mlsec.monitoring import adjust_p_values
from keras_mlsec.monitoring import mmd_test
from keras_mlsec.monitoring import population_stability_index

P_VALUES = [0.005, 0.011, 0.02, 0.035, 0.13]


def test_bonferroni_multiplies_by_the_number_of_tests():
    adjusted = adjust_p_values(P_VALUES, "bonferroni")
    np.testing.assert_allclose(adjusted, [0.025, 0.055, 0.1, 0.175, 0.65])
    assert np.sum(adjusted <= 0.05) == 1
    assert adjust_p_values([0.3, 0.5], "bonferroni").tolist() == [0.6, 1.0]


def test_benjamini_hochberg_step_up_by_hand():
    # p_(i) * m / i = 0.025, 0.0275, 0.0333, 0.04375, 0.13 (already monotone).
    adjusted = adjust_p_values(P_VALUES, "fdr")
    np.testing.assert_allclose(adjusted, [0.025, 0.0275, 0.1 / 3, 0.04375, 0.13])
    assert np.sum(adjusted <= 0.05) == 4  # Bonferroni keeps 1 of the same 5.


def test_benjamini_hochberg_enforces_monotonicity_in_original_order():
    # Sorted: 0.01*3/1 = 0.03, 0.04*3/2 = 0.06, 0.045*3/3 = 0.045 -> running min from the top.
    adjusted = adjust_p_values([0.045, 0.01, 0.04], "fdr")
    np.testing.assert_allclose(adjusted, [0.045, 0.03, 0.045])


def test_no_correction_and_bad_name():
    np.testing.assert_allclose(adjust_p_values(P_VALUES, "none"), P_VALUES)
    with pytest.raises(ValueError, match="Received: correction='sidak'"):
        adjust_p_values(P_VALUES, "sidak")


def test_psi_is_zero_for_identical_samples_and_symmetric_in_bins():
    x = np.arange(100, dtype=float)
    assert population_stability_index(x, x) == pytest.approx(0.0)
    # Constant reference: the constant gets its own bin, so a moved constant is seen.
    moved = population_stability_index(np.zeros(50), np.ones(50))
    assert moved > 1.0


def test_mmd_identical_samples_have_large_p_value():
    x = np.random.default_rng(0).normal(size=(60, 2))
    mmd2, p_value, bandwidth = mmd_test(x, x, num_permutations=99, seed=0)
    assert mmd2 < 0.05 and p_value > 0.5 and bandwidth > 0
