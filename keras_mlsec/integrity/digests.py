"""Content digests of training data: arrays (with dtype and shape) or files and folders."""

import hashlib
import os
import pathlib
import re

import numpy as np

from keras_mlsec._core import files as _files

PREFIX = "sha256:"
_FORMAT = b"keras_mlsec.dataset_digest/v1\0"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK = 1 << 20


def is_digest(value):
    """Whether `value` is a digest string as `dataset_digest` returns it."""
    return isinstance(value, str) and _DIGEST.match(value) is not None


def _array_bytes(array, name):
    try:
        array = np.asarray(array)
    except Exception as error:  # noqa: BLE001 - any conversion failure is bad input
        raise TypeError(f"Expected `{name}` to be an array (NumPy, list or tensor). "
                        f"Received: {name} of type {type(array).__name__} ({error})") from None
    if array.dtype.hasobject:
        raise TypeError(
            f"Expected `{name}` to hold numbers, booleans or fixed-width strings (its bytes "
            f"are hashed). Received: {name} with dtype=object; convert it first, e.g. "
            f"np.asarray({name}, dtype=np.float32) or a fixed-width string dtype.")
    if array.dtype.byteorder == ">":  # the same values give the same digest on any platform
        array = array.astype(array.dtype.newbyteorder("<"))
    array = np.ascontiguousarray(array)
    header = f"array\0{array.dtype.str}\0{array.shape}\0".encode("ascii")
    return header, memoryview(array.reshape(-1)).cast("B")


def _hash_file(hasher, path):
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)


def _hash_path(hasher, path):
    if path.is_symlink():
        raise ValueError(f"Expected `path` to be a regular file or folder, not a symbolic "
                         f"link (a link can point elsewhere later). Received: path='{path}'")
    if path.is_file():
        hasher.update(f"file\0{path.stat().st_size}\0".encode("ascii"))
        _hash_file(hasher, path)
        return
    if not path.is_dir():
        raise ValueError(f"Expected `path` to be a regular file or a folder. "
                         f"Received: path='{path}'")
    entries = []
    for root, dirs, names in os.walk(path):
        for name in dirs + names:
            full = pathlib.Path(root, name)
            if full.is_symlink():
                raise ValueError(f"Expected `path` to hold no symbolic links (a link can point "
                                 f"elsewhere later). Received: path='{path}' holding '{full}'")
        entries += [pathlib.Path(root, name) for name in names]
    hasher.update(b"folder\0")
    for full in sorted(entries, key=lambda p: p.relative_to(path).as_posix()):
        relative = full.relative_to(path).as_posix().encode("utf-8")
        hasher.update(b"file\0" + relative + f"\0{full.stat().st_size}\0".encode("ascii"))
        _hash_file(hasher, full)


def dataset_digest(x=None, y=None, *, path=None):
    """A content digest of a data set: arrays, or files and folders on disk.

    The same data always give the same digest, and any changed element,
    dtype, shape, label, file name or byte gives another. Arrays are hashed as
    their dtype, shape and little-endian bytes; `y=None` and a given `y`
    differ. A folder is hashed as its files, sorted by relative path, with
    their names and content (empty folders do not count).

    Args:
        x: inputs (NumPy array, nested list or tensor), or None with `path`.
        y: optional labels, hashed after `x`.
        path: a data file or folder instead of arrays.

    Returns:
        `"sha256:<64 hex digits>"`.

    Raises:
        ValueError: neither or both of arrays and `path`; a symbolic link.
        TypeError: arrays of dtype object, or a `path` that is not a path.
        FileNotFoundError: `path` does not exist.

    Example:

    >>> dataset_digest(np.zeros((2, 3)), np.array([0, 1]))[:7]
    'sha256:'
    """
    if path is not None:
        if x is not None or y is not None:
            raise ValueError("Expected either arrays (`x` and optional `y`) or `path`, not "
                             f"both. Received: path='{path}' and x or y")
        path = _files.check_path(path, "path", kind="data file or folder")
        hasher = hashlib.sha256(_FORMAT + b"path\0")
        _hash_path(hasher, path)
        return PREFIX + hasher.hexdigest()
    if x is None:
        raise ValueError("Expected arrays `x` (and optional `y`) or a data `path`. "
                         "Received: x=None, path=None")
    hasher = hashlib.sha256(_FORMAT + b"arrays\0")
    for name, value in (("x", x), ("y", y)):
        if value is None:
            hasher.update(b"none\0")
            continue
        header, data = _array_bytes(value, name)
        hasher.update(header)
        hasher.update(data)
    return PREFIX + hasher.hexdigest()


def describe_dataset(value, name="datasets"):
    """`(digest, properties)` of one data set: a digest, a path, arrays or `(x, y)`."""
    if isinstance(value, str) and value.startswith(PREFIX):
        if not is_digest(value):
            raise ValueError(f"Expected `{name}` to be a digest 'sha256:<64 hex digits>' from "
                             f"dataset_digest. Received: {name}={value!r}")
        return value, {}
    if isinstance(value, (str, os.PathLike)):
        return dataset_digest(path=value), {"source": os.fspath(value)}
    x, y = value if isinstance(value, tuple) and len(value) == 2 else (value, None)
    try:
        digest = dataset_digest(x, y)
    except (TypeError, ValueError) as error:
        raise type(error)(f"Expected `{name}` to be a digest, a path, an array or an (x, y) "
                          f"pair. Received: {name} of type {type(value).__name__} "
                          f"({error})") from None
    facts = {"examples": str(len(np.asarray(x))) if np.ndim(x) else "1",
             "x": f"{np.asarray(x).dtype} {np.shape(x)}"}
    if y is not None:
        facts["y"] = f"{np.asarray(y).dtype} {np.shape(y)}"
    return digest, facts


__all__ = ["dataset_digest", "describe_dataset", "is_digest"]
