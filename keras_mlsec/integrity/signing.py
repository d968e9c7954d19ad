"""Signing and verifying models with OpenSSF model signing and a local EC key.

The signature is a Sigstore bundle holding a DSSE-signed in-toto statement
(predicate `https://model_signing/signature/v1.0`) with one sha256 digest per
file, exactly what `model_signing sign key` writes, so the `model_signing`
command line verifies it too. Training facts passed as `metadata` are stored in
an extra predicate field (`keras_mlsec`), which the DSSE signature covers and
which other v1.0 verifiers ignore.
"""

import json
import pathlib

from keras_mlsec._core import files as _files
from keras_mlsec.integrity import _bundle, provenance
from keras_mlsec.integrity.audit_log import audited, check_audit_log
from keras_mlsec.integrity.errors import IntegrityError

SIGNATURE_SUFFIX = ".sig"


def default_signature_path(path):
    """The signature path used when none is given: `<model path>.sig` next to it."""
    path = pathlib.Path(path)
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def signature_path_for(model_path, signature_path=None):
    """The checked `signature_path` of a model, `default_signature_path` when None."""
    if signature_path is None:
        return default_signature_path(model_path)
    return _files.check_path(signature_path, "signature_path", must_exist=False)


def _signature_inside(model_path, signature_path):
    """The signature's path relative to a model folder that holds it, else None."""
    if not model_path.is_dir():
        return None
    try:
        return signature_path.resolve().relative_to(model_path.resolve())
    except ValueError:
        return None


def generate_keypair(directory, *, curve="P-256", overwrite=False):
    """Writes a new elliptic-curve key pair for signing models.

    Args:
        directory: folder to write `private_key.pem` (mode 0600, unencrypted
            PKCS#8) and `public_key.pem` into; created when missing.
        curve: `"P-256"`, `"P-384"` or `"P-521"`.
        overwrite: replace existing key files instead of raising.

    Returns:
        `(private_key_path, public_key_path)` as `pathlib.Path`.

    Raises:
        FileExistsError: a key file exists and `overwrite` is False.
        ValueError: unknown `curve`.

    Example:

    >>> private_key, public_key = generate_keypair("keys")
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    curves = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
    if curve not in curves:
        raise ValueError(
            f"Expected `curve` to be one of {sorted(curves)}. Received: curve={curve!r}")
    directory = _files.check_path(directory, "directory", must_exist=False)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"Expected `directory` to be a folder. Received: directory='{directory}' "
                         "(an existing file)")
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / "private_key.pem"
    public_path = directory / "public_key.pem"
    for existing in (private_path, public_path):
        if existing.exists() and not overwrite:
            raise FileExistsError(
                f"Expected `directory` without key files, or overwrite=True. Received: "
                f"directory='{directory}' which already holds {existing.name}"
            )
    key = ec.generate_private_key(curves[curve]())
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    _files.atomic_write_bytes(private_path, private_pem, mode=0o600)
    _files.atomic_write_bytes(public_path, public_pem, mode=0o644)
    return private_path, public_path


def _check_metadata(metadata):
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise TypeError(f"Expected `metadata` to be a dict with string keys or None. "
                        f"Received: metadata={metadata!r:.80}")
    try:
        return json.dumps(metadata, sort_keys=True, allow_nan=False, default=_to_json)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Expected `metadata` to be JSON-serialisable with finite numbers. "
                         f"Received: metadata={metadata!r:.80} ({error})") from None


def _to_json(value):
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _hashing_config(model_path, signature_path):
    from model_signing import hashing

    config = hashing.Config()
    inside = _signature_inside(model_path, signature_path)
    if inside is not None:
        config.set_ignored_paths(paths=[inside])
    return config


def sign_model(path, *, private_key, signature_path=None, metadata=None, password=None,
               ml_bom=None, audit_log=None):
    """Signs a model file (or folder) with an elliptic-curve private key.

    Args:
        path: the model: a `.keras` file, any other file, or a folder.
        private_key: path to a PEM elliptic-curve private key (P-256/384/521).
        signature_path: where to write the signature bundle; defaults to
            `<path>.sig` next to the model. Written atomically.
        metadata: optional dict of JSON-serialisable training facts (epsilon,
            robustness figures, dataset hash, code version), signed together
            with the model and returned by `verify_model`.
        password: optional password of an encrypted private key (bytes).
        ml_bom: optional path of an ML-BOM file (from `ml_bom`) signed together
            with the model: its sha256 goes into the signed statement, so the
            one bundle covers both files. `verify_model` then checks it at
            `<path>.cdx.json` (or the `ml_bom` path given there).
        audit_log: optional `AuditLog` receiving a `sign_model` record.

    Returns:
        The signature path as a `pathlib.Path`.

    Raises:
        FileNotFoundError: `path` or `private_key` does not exist.
        ValueError, TypeError: a key of the wrong type, or bad `metadata`.

    Example:

    >>> sign_model("model.keras", private_key="keys/private_key.pem",
    ...            metadata={"epsilon": 3.0, "code_version": "1.4.2"})
    """
    from model_signing._signing import sign_ec_key, signing

    model_path = _files.check_path(path, "path")
    metadata_json = _check_metadata(metadata)
    key_path, _ = _files.load_private_key(private_key, password=password)
    check_audit_log(audit_log)
    bom_sha256 = None
    if ml_bom is not None:
        bom_path = _files.check_path(ml_bom, "ml_bom", kind="ML-BOM file")
        bom_sha256 = provenance.file_sha256(bom_path)
    signature_path = signature_path_for(model_path, signature_path)
    if signature_path.resolve() == model_path.resolve():
        raise ValueError(f"Expected `signature_path` to differ from the model path. "
                         f"Received: signature_path='{signature_path}'")
    manifest = _hashing_config(model_path, signature_path).hash(model_path)
    payload = signing.Payload(manifest)
    extra = {"format": _bundle.METADATA_FORMAT}
    if metadata_json is not None:
        extra["metadata_json"] = metadata_json
    if bom_sha256 is not None:
        extra[_bundle.BOM_FIELD] = bom_sha256
    if len(extra) > 1:
        payload.statement.pb.predicate.update({_bundle.PREDICATE_FIELD: extra})
    signer = sign_ec_key.Signer(key_path, password)
    bundle_json = signer.sign(payload).bundle.to_json()
    _files.atomic_write_bytes(signature_path, bundle_json.encode("utf-8"))
    if audit_log is not None:
        digests = {rd.identifier: rd.digest.digest_hex for rd in manifest.resource_descriptors()}
        with audited(audit_log, "sign_model", path=str(model_path),
                     signature_path=str(signature_path)) as outcome:
            outcome.update(sha256=digests, ml_bom_sha256=bom_sha256,
                           metadata=json.loads(metadata_json or "{}"))
    return signature_path


def verify_model(path, *, public_key, signature_path=None, ml_bom=None, audit_log=None):
    """Verifies a model against its signature bundle and a public key.

    Args:
        path: the signed model file or folder.
        public_key: path to the PEM elliptic-curve public key.
        signature_path: the signature bundle; defaults to `<path>.sig`.
        ml_bom: where the ML-BOM signed with the model is, when it was signed
            with one; defaults to `<path>.cdx.json`.
        audit_log: optional `AuditLog` receiving a `verify_model` record
            (accepted, or refused with the reason).

    Returns:
        The signed metadata dict (empty when the model was signed without).

    Raises:
        IntegrityError: with `reason` set: `"hash_mismatch"` (names the file,
            the model or its ML-BOM),
            `"extra_file"`, `"missing_file"`, `"wrong_key"`,
            `"malformed_signature"` or `"missing_signature"`.
        FileNotFoundError, ValueError, TypeError: bad arguments (missing model
            or key, a key of the wrong type).

    Example:

    >>> metadata = verify_model("model.keras", public_key="keys/public_key.pem")
    """
    model_path = _files.check_path(path, "path")
    key_path, _ = _files.load_public_key(public_key)
    check_audit_log(audit_log)
    signature_path = signature_path_for(model_path, signature_path)
    bom_path = provenance.bom_path_for(model_path, ml_bom)
    with audited(audit_log, "verify_model", path=str(model_path),
                 signature_path=str(signature_path)) as outcome:
        metadata, bom_sha256 = _verify(model_path, key_path, signature_path)
        if bom_sha256 is not None:
            provenance.read_signed_bom(model_path, bom_sha256, bom_path)
        outcome.update(ml_bom_sha256=bom_sha256, metadata=metadata)
    return metadata


def _verify(model_path, key_path, signature_path):
    expected, metadata, bom_sha256 = _bundle.read_signed_statement(
        signature_path, key_path, model_path=model_path, with_bom=True)
    config = _bundle.hashing_config_for(expected)
    if model_path.is_dir():
        ignored = list(expected.serialization_type.get("ignore_paths", ()))
        inside = _signature_inside(model_path, signature_path)
        config.set_ignored_paths(paths=ignored + ([inside] if inside is not None else []))
    try:
        actual = config.hash(model_path)
    except (ValueError, OSError) as error:
        raise IntegrityError(f"Cannot hash '{model_path}': {error}", reason="unsupported_format",
                             path=model_path) from None
    _bundle.compare_manifests(actual, expected, model_path)
    return metadata, bom_sha256


__all__ = ["generate_keypair", "sign_model", "verify_model", "default_signature_path"]
