"""Tests of keras_mlsec.integrity.digests."""

import os

import numpy as np
import pytest

from keras_mlsec.integrity import dataset_digest


def test_same_arrays_same_digest_any_change_another():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype("float32")
    y = rng.integers(0, 3, size=20)
    digest = dataset_digest(x, y)
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert dataset_digest(x.copy(), list(y)) == digest  # lists become the same arrays
    changed = x.copy()
    changed[7, 2] = np.nextafter(changed[7, 2], np.float32(10))  # one ulp
    others = {
        dataset_digest(changed, y),
        dataset_digest(x, np.where(np.arange(20) == 3, (y + 1) % 3, y)),
        dataset_digest(x.astype("float64"), y),  # same values, other dtype
        dataset_digest(x.reshape(4, 20), y),  # same bytes, other shape
        dataset_digest(x),  # no labels
        dataset_digest(x, None),
    }
    assert digest not in others and len(others) == 5  # x and (x, None) are the same


def test_byte_order_and_memory_layout_do_not_matter():
    x = np.arange(12, dtype="<i4").reshape(3, 4)
    assert dataset_digest(x.astype(">i4")) == dataset_digest(x)
    assert dataset_digest(np.asfortranarray(x)) == dataset_digest(x)
    assert dataset_digest(x[:, ::2]) == dataset_digest(np.ascontiguousarray(x[:, ::2]))


def test_files_and_folders(tmp_path):
    folder = tmp_path / "data"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "a.csv").write_text("1,2\n3,4\n")
    (folder / "b.csv").write_text("5,6\n")
    digest = dataset_digest(path=folder)
    assert dataset_digest(path=str(folder)) == digest
    (folder / "empty").mkdir()
    assert dataset_digest(path=folder) == digest  # empty folders do not count
    (folder / "b.csv").write_text("5,7\n")
    assert dataset_digest(path=folder) != digest
    (folder / "b.csv").write_text("5,6\n")
    os.rename(folder / "b.csv", folder / "c.csv")
    assert dataset_digest(path=folder) != digest  # names count
    single = dataset_digest(path=folder / "train" / "a.csv")
    (tmp_path / "copy.csv").write_text("1,2\n3,4\n")
    assert dataset_digest(path=tmp_path / "copy.csv") == single  # content, not name, of a file


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ValueError, match="Received: x=None, path=None"):
        dataset_digest()
    with pytest.raises(ValueError, match="not both"):
        dataset_digest(np.zeros(3), path=tmp_path)
    with pytest.raises(FileNotFoundError, match="Received: path="):
        dataset_digest(path=tmp_path / "missing")
    with pytest.raises(TypeError, match="dtype=object"):
        dataset_digest(np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(TypeError, match="Expected `path` to be a path"):
        dataset_digest(path=3)
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ValueError, match="symbolic link"):
        dataset_digest(path=tmp_path / "link")
    with pytest.raises(ValueError, match="holding"):
        dataset_digest(path=tmp_path)
