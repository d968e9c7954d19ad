"""Data provenance: the ML-BOM signed beside a model, and the check of its training data.

`SignedModelCheckpoint(..., provenance=True)` and `sign_model(..., ml_bom=...)`
put the sha256 of the ML-BOM file into the signed statement of the model's
OpenSSF bundle, so one signature covers both files. These functions read the
BOM back only after that digest checks out, and compare the data it names
with the data a caller expects.
"""

import hashlib
import json
import pathlib

from keras_mlsec._core import files as _files
from keras_mlsec.integrity.digests import PREFIX, describe_dataset
from keras_mlsec.integrity.errors import IntegrityError

BOM_SUFFIX = ".cdx.json"


def default_bom_path(model_path):
    """Where the ML-BOM of a model lives by default: `<model path>.cdx.json` next to it."""
    model_path = pathlib.Path(model_path)
    return model_path.with_name(model_path.name + BOM_SUFFIX)


def bom_path_for(model_path, ml_bom=None):
    """The checked `ml_bom` path, `default_bom_path(model_path)` when None."""
    if ml_bom is None:
        return default_bom_path(model_path)
    return _files.check_path(ml_bom, "ml_bom", must_exist=False)


def file_sha256(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def read_signed_bom(model_path, bom_sha256, ml_bom=None):
    """The parsed ML-BOM whose sha256 was signed with the model, or IntegrityError.

    Args:
        model_path: the model the BOM belongs to (for messages and the default path).
        bom_sha256: the signed digest; None means the model was signed without one.
        ml_bom: the BOM path; defaults to `<model path>.cdx.json`.
    """
    path = bom_path_for(model_path, ml_bom)
    if bom_sha256 is None:
        raise IntegrityError(
            f"No signed ML-BOM for '{model_path}': it was signed without one, so its training "
            "data cannot be checked. Sign it with SignedModelCheckpoint(..., provenance=True) "
            "or sign_model(..., ml_bom=...).", reason="missing_provenance", path=model_path)
    if not path.is_file():
        raise IntegrityError(
            f"Missing file: the signature of '{model_path}' covers an ML-BOM, expected at "
            f"ml_bom='{path}', which does not exist.", reason="missing_file", path=model_path)
    data = path.read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != bom_sha256:
        raise IntegrityError(
            f"Hash mismatch for the ML-BOM '{path}' of '{model_path}': the content differs from "
            f"what was signed (expected sha {bom_sha256[:16]}..., found {found[:16]}...). The "
            "BOM was modified or belongs to another model.", reason="hash_mismatch",
            path=model_path)
    try:
        return json.loads(data)
    except ValueError as error:  # signed, yet not JSON: signed by a tool that wrote garbage
        raise IntegrityError(f"Malformed ML-BOM '{path}': not JSON ({error})",
                             reason="malformed_signature", path=model_path) from None


def expected_digests(expected_datasets):
    """`{name or position: digest}` from `load_verified_model`'s `expected_datasets`."""
    if isinstance(expected_datasets, dict):
        items = list(expected_datasets.items())
    elif isinstance(expected_datasets, (list, tuple)):
        items = [(f"expected_datasets[{i}]", value) for i, value in enumerate(expected_datasets)]
    else:
        raise TypeError(
            "Expected `expected_datasets` to be a dict {name: data} or a list of data (digests "
            "from dataset_digest, paths, arrays or (x, y) pairs). Received: expected_datasets "
            f"of type {type(expected_datasets).__name__}")
    if not items:
        raise ValueError("Expected `expected_datasets` to name at least one data set. "
                         "Received: an empty collection")
    label = "expected_datasets"
    return {name: describe_dataset(value, f"{label}[{name!r}]" if isinstance(
        expected_datasets, dict) else str(name))[0] for name, value in items}


def check_datasets(document, expected, model_path):
    """Raises `IntegrityError("provenance_mismatch")` unless the BOM names exactly `expected`.

    Compared by digest: names may differ between the BOM and the caller.
    """
    named = bom_datasets(document)
    signed = {digest for digest in named.values() if digest is not None}
    wanted = set(expected.values())
    if signed == wanted:
        return
    missing = [name for name, digest in expected.items() if digest not in signed]
    other = [name for name, digest in named.items() if digest not in wanted]
    details = []
    if missing:
        details.append(f"not in the BOM: {', '.join(map(str, missing))}")
    if other:
        details.append(f"in the BOM but not expected: {', '.join(map(str, other))}")
    raise IntegrityError(
        f"Refusing '{model_path}': its signed ML-BOM names other training data than "
        f"`expected_datasets` ({'; '.join(details)}). The model was trained on different "
        "data, or the data changed since.", reason="provenance_mismatch", path=model_path)


def bom_datasets(document):
    """`{name: digest}` of the data components of an ML-BOM (parsed JSON)."""
    out = {}
    for component in document.get("components", []):
        if component.get("type") != "data":
            continue
        digest = next((h.get("content") for h in component.get("hashes", [])
                       if h.get("alg") == "SHA-256"), None)
        out[component.get("name")] = None if digest is None else PREFIX + digest
    return out


__all__ = ["default_bom_path", "read_signed_bom", "check_datasets", "expected_digests"]
