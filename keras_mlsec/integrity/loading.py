"""Verify, scan, then load: the only path by which a signed model is deserialized."""

import io
import os
import pathlib
import shutil
import tempfile

from keras_mlsec._core import files as _files
from keras_mlsec._core import keras_internals
from keras_mlsec.integrity import _bundle, provenance, signing
from keras_mlsec.integrity.audit_log import audited, check_audit_log
from keras_mlsec.integrity.errors import IntegrityError
from keras_mlsec.integrity.scanning import _check_allow, scan_fileobj, sort_findings


def load_verified_model(path, *, public_key, allow=(), signature_path=None,
                        custom_objects=None, compile=True, expected_datasets=None, ml_bom=None,
                        audit_log=None):
    """Loads a `.keras` model only after its signature and a scan check out.

    The model file is read once into memory; those bytes are verified against
    the signature, scanned, and only then handed to Keras with
    `safe_mode=True`, so a file swapped after verification is never loaded and
    nothing is deserialized before the signature checks out. Legacy `.h5`
    files and pickles are refused.

    Args:
        path: the signed `.keras` file.
        public_key: path to the PEM elliptic-curve public key.
        allow: extra trusted module prefixes or registered-object packages for
            the scanner (custom layers), e.g. `("my_project.layers",)`.
        signature_path: the signature bundle; defaults to `<path>.sig`.
        custom_objects: passed to Keras for custom classes (their modules must
            also be in `allow`).
        compile: whether Keras compiles the loaded model.
        expected_datasets: optional training data the model must have been
            trained on: a dict `{name: data}` or a list, data being digests
            from `dataset_digest`, paths, arrays or `(x, y)` pairs. The model
            is refused unless its signed ML-BOM (see
            `SignedModelCheckpoint(..., provenance=True)`) names exactly these
            data sets (compared by digest).
        ml_bom: the ML-BOM signed with the model; defaults to `<path>.cdx.json`.
            When the model was signed with one it is always checked.
        audit_log: optional `AuditLog` receiving a `load_verified_model`
            record: accepted, or refused with the reason and scanner findings.

    Returns:
        The `keras.Model`.

    Raises:
        IntegrityError: verification failed (see `verify_model`), or the scan
            found high-severity problems (`reason="unsafe_model"`, with the
            findings in `error.findings`), or the file is not a `.keras`
            archive (`reason="unsupported_format"`), or the signed ML-BOM names
            other data than `expected_datasets` (`"provenance_mismatch"`) or
            there is none (`"missing_provenance"`).
        FileNotFoundError, ValueError, TypeError: bad arguments.

    Example:

    >>> model = load_verified_model("model.keras", public_key="keys/public_key.pem")
    """
    model_path = _files.check_path(path, "path", kind="model file")
    if not model_path.is_file():
        raise ValueError(f"Expected `path` to be a `.keras` model file. Received: "
                         f"path='{model_path}' (a directory)")
    key_path, _ = _files.load_public_key(public_key)
    allow = _check_allow(allow)
    signature_path = signing.signature_path_for(model_path, signature_path)
    bom_path = provenance.bom_path_for(model_path, ml_bom)
    check_audit_log(audit_log)
    wanted = (None if expected_datasets is None
              else provenance.expected_digests(expected_datasets))
    with audited(audit_log, "load_verified_model", path=str(model_path),
                 expected_datasets=wanted) as outcome:
        model = _verify_scan_load(model_path, key_path, signature_path, bom_path, wanted,
                                  allow=allow, custom_objects=custom_objects, compile=compile)
        outcome["model"] = model.name
    return model


def _verify_scan_load(model_path, key_path, signature_path, bom_path, wanted, *, allow,
                      custom_objects, compile):
    expected, _, bom_sha256 = _bundle.read_signed_statement(
        signature_path, key_path, model_path=model_path, with_bom=True)
    data, digests = _read_and_hash(model_path)
    if not _bundle.verify_bytes(data, expected=expected, model_path=model_path,
                                digests=digests):
        _verify_copy(data, expected, model_path)
    if bom_sha256 is not None or wanted is not None:
        document = provenance.read_signed_bom(model_path, bom_sha256, bom_path)
        if wanted is not None:
            provenance.check_datasets(document, wanted, model_path)
    findings = sort_findings([f for f in scan_fileobj(io.BytesIO(data), model_path.name,
                                                      allow=allow) if f.blocking])
    if findings:
        listing = "\n  ".join(str(f) for f in findings)
        raise IntegrityError(
            f"Refusing to load '{model_path}': the signature is valid but the scan found "
            f"{len(findings)} high-severity problem(s):\n  {listing}",
            reason="unsafe_model", path=model_path, findings=findings)
    if not model_path.name.endswith(".keras"):
        raise IntegrityError(f"Refusing to load '{model_path}': only `.keras` archives are "
                             "loaded (rename a Keras v3 archive to end in .keras)",
                             reason="unsupported_format", path=model_path)
    return _load_keras_bytes(data, custom_objects=custom_objects, compile=compile)


def _read_and_hash(path, chunk_size=16 * 2**20):
    """Reads a file once into memory while hashing it (sha256) on a second thread."""
    import concurrent.futures
    import hashlib

    hasher = hashlib.sha256()
    chunks = []
    with open(path, "rb") as handle, \
            concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = []
        while chunk := handle.read(chunk_size):
            chunks.append(chunk)
            pending.append(pool.submit(hasher.update, chunk))
        for future in pending:
            future.result()
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return data, {"sha256": hasher.hexdigest()}


def _verify_copy(data, expected, model_path):
    """Hashes a private copy of `data` with model-signing's own serializer."""
    directory = tempfile.mkdtemp(prefix="keras_mlsec_verify_")
    try:
        copy = pathlib.Path(directory, model_path.name)
        copy.write_bytes(data)
        actual = _bundle.hashing_config_for(expected).hash(copy)
        _bundle.compare_manifests(actual, expected, model_path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _load_keras_bytes(data, *, custom_objects, compile):
    try:
        return keras_internals.load_model_from_fileobj(
            io.BytesIO(data), custom_objects=custom_objects, compile=compile, safe_mode=True)
    except keras_internals.KerasInternalError:  # another Keras: a private temporary file
        pass
    import keras

    directory = tempfile.mkdtemp(prefix="keras_mlsec_load_")
    try:
        copy = os.path.join(directory, "model.keras")
        with open(copy, "wb") as handle:
            handle.write(data)
        return keras.models.load_model(copy, custom_objects=custom_objects, compile=compile,
                                       safe_mode=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
