"""The NumPy pieces of detect_poison on data with a known answer."""

import numpy as np

from keras_mlsec.defenses.detection import _poison_math as pm


def test_split_1d_finds_the_smaller_mode():
    values = np.array([0.0, 0.1, -0.1, 0.05, 5.0, 5.2, 0.02])
    np.testing.assert_array_equal(np.flatnonzero(pm.split_1d(values)), [4, 5])


def test_top_direction_and_kmeans_separate_a_shifted_group():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 6))
    points[:15, 2] += 8.0
    projection = pm.top_direction(points)
    np.testing.assert_array_equal(np.flatnonzero(pm.split_1d(projection)), np.arange(15))
    small, score = pm.split_kmeans(pm.reduce_dims(points, 3), seed=0)
    np.testing.assert_array_equal(np.flatnonzero(small), np.arange(15))
    assert score[:15].min() > 0 > score[15:].max()


def test_knn_labels_by_hand():
    refs = np.array([[0.0], [0.1], [0.2], [5.0], [5.1]])
    labels = np.array([0, 0, 0, 1, 1])
    np.testing.assert_array_equal(pm.knn_labels(np.array([[0.05], [4.9]]), refs, labels, k=2),
                                  [0, 1])
