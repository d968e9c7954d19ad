import numpy as np
import pytest

from keras_mlsec.federated import partition


def _labels():
    return np.repeat(np.arange(10), 30), np.arange(300, dtype=np.float32)[:, None]


def test_iid_split_is_a_partition_of_near_equal_parts():
    y, x = _labels()
    parts = partition(x, y, 7, seed=0)
    sizes = [len(p[1]) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 300
    seen = np.sort(np.concatenate([p[0][:, 0] for p in parts]))
    np.testing.assert_array_equal(seen, np.arange(300))
    for xs, ys in parts:  # every example keeps its own label
        np.testing.assert_array_equal(ys, y[xs[:, 0].astype(int)])


def test_dirichlet_split_skews_classes_and_is_seeded():
    y, x = _labels()
    iid = partition(x, y, 5, seed=1)
    skewed = partition(x, y, 5, iid=False, alpha=0.1, seed=1)
    again = partition(x, y, 5, iid=False, alpha=0.1, seed=1)
    for a, b in zip(skewed, again):
        np.testing.assert_array_equal(a[1], b[1])
    assert sum(len(p[1]) for p in skewed) == 300

    def dominant_share(parts):  # mean share of each client's most common class
        return np.mean([np.bincount(ys, minlength=10).max() / len(ys) for _, ys in parts])

    assert dominant_share(skewed) > dominant_share(iid) + 0.2


def test_min_size_is_guaranteed():
    y, x = _labels()
    parts = partition(x, y, 10, iid=False, alpha=0.05, seed=3, min_size=5)
    assert min(len(p[1]) for p in parts) >= 5


@pytest.mark.parametrize("kwargs, match", [
    ({"num_clients": 0}, "num_clients"),
    ({"num_clients": 400}, "at least num_clients"),
    ({"num_clients": 3, "iid": False, "alpha": 0.0}, "alpha"),
])
def test_bad_arguments_are_named(kwargs, match):
    y, x = _labels()
    with pytest.raises(ValueError, match=match):
        partition(x, y, **kwargs)


def test_mismatched_lengths():
    with pytest.raises(ValueError, match=r"len\(x\)=4, len\(y\)=3"):
        partition(np.zeros((4, 1)), np.zeros(3), 2)
