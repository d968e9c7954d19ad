"""Reading signature bundles and checking a model against the signed manifest.

The verifying half of `signing`: parses and verifies a Sigstore bundle with a
public key, rebuilds the hashing configuration it records, and compares
digests (of a file, a folder, or bytes already in memory). `model_signing` is
imported inside the functions so that importing this module stays cheap.
"""

import json
import pathlib

from keras_mlsec.integrity.errors import IntegrityError

# Extra predicate field holding the signed metadata, and its format tag.
PREDICATE_FIELD = "keras_mlsec"
METADATA_FORMAT = "keras_mlsec.metadata/v1"
# Key, inside that field, of the sha256 of the ML-BOM signed together with the model.
BOM_FIELD = "ml_bom_sha256"


def read_signed_statement(signature_path, public_key_path, *, model_path=None, with_bom=False):
    """Checks a signature bundle against a public key; returns `(manifest, metadata)`.

    Nothing about the model is read here: only the bundle and the key. With
    `with_bom=True` the sha256 of the ML-BOM signed with the model (None when
    there is none) comes third.

    Raises:
        IntegrityError: missing or malformed bundle, or a signature that does
            not verify with this key.
    """
    from model_signing._signing import sign_ec_key, sign_sigstore_pb, signing

    signature_path = pathlib.Path(signature_path)
    if not signature_path.is_file():
        raise IntegrityError(
            f"No signature found for '{model_path}': expected a signature bundle at "
            f"signature_path='{signature_path}'. Sign it with sign_model or "
            "`keras-mlsec sign`.", reason="missing_signature", path=model_path)
    try:
        bundle = sign_sigstore_pb.Signature.read(signature_path)
        envelope = bundle.bundle.dsse_envelope
        if envelope is None or not envelope.signatures:
            raise ValueError("no DSSE envelope or signature in the bundle")
    except Exception as error:  # any parse failure of attacker-controlled bytes
        raise IntegrityError(
            f"Malformed signature '{signature_path}': not a model-signing Sigstore bundle "
            f"({type(error).__name__}: {str(error)[:200]})",
            reason="malformed_signature", path=model_path) from None
    verifier = sign_ec_key.Verifier(pathlib.Path(public_key_path))
    try:
        payload_type, payload = verifier._verify_signed_content(bundle)
    except Exception as error:
        raise IntegrityError(
            f"Signature '{signature_path}' does not verify with public key "
            f"'{public_key_path}': the model was signed with another key, or the signature "
            f"was altered ({type(error).__name__}{': ' + str(error)[:120] if str(error) else ''})",
            reason="wrong_key", path=model_path) from None
    try:
        if payload_type != signing._IN_TOTO_JSON_PAYLOAD_TYPE:
            raise ValueError(f"unexpected payload type {payload_type!r}")
        statement = json.loads(payload)
        if statement.get("_type") != signing._IN_TOTO_STATEMENT_TYPE:
            raise ValueError("not an in-toto v1 statement")
        manifest = signing.dsse_payload_to_manifest(statement)
        extra = statement["predicate"].get(PREDICATE_FIELD)
        metadata = {} if extra is None else json.loads(extra.get("metadata_json", "{}"))
        bom_sha256 = None if extra is None else extra.get(BOM_FIELD)
        if bom_sha256 is not None and (not isinstance(bom_sha256, str) or len(bom_sha256) != 64):
            raise ValueError(f"malformed ML-BOM digest {bom_sha256!r:.80}")
    except Exception as error:
        raise IntegrityError(
            f"Malformed signature '{signature_path}': the signed statement is not a valid "
            f"model-signing manifest ({type(error).__name__}: {str(error)[:200]})",
            reason="malformed_signature", path=model_path) from None
    if with_bom:
        return manifest, metadata, bom_sha256
    return manifest, metadata


def hashing_config_for(manifest):
    """Rebuilds the hashing configuration recorded in a signed manifest."""
    from model_signing import hashing

    args = manifest.serialization_type
    common = dict(hashing_algorithm=args["hash_type"],
                  allow_symlinks=bool(args.get("allow_symlinks", False)))
    if args.get("method") == "files":
        config = hashing.Config().use_file_serialization(**common)
    elif args.get("method") == "shards":
        config = hashing.Config().use_shard_serialization(shard_size=args["shard_size"],
                                                          **common)
    else:
        raise ValueError(f"unknown serialization method {args.get('method')!r}")
    return config


def compare_manifests(actual, expected, model_path):
    """Raises `IntegrityError` naming the first difference between two manifests."""
    got = {rd.identifier: rd.digest.digest_hex for rd in actual.resource_descriptors()}
    want = {rd.identifier: rd.digest.digest_hex for rd in expected.resource_descriptors()}
    extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
    changed = sorted(name for name in set(got) & set(want) if got[name] != want[name])
    if changed:
        names = ", ".join("the model file" if n == "." else f"'{n}'" for n in changed)
        raise IntegrityError(
            f"Hash mismatch for {names} of '{model_path}': the content differs from what "
            f"was signed (expected sha {want[changed[0]][:16]}..., found "
            f"{got[changed[0]][:16]}...). The model was modified or the signature belongs "
            "to another file.", reason="hash_mismatch", path=model_path)
    if extra:
        raise IntegrityError(f"Extra file(s) in '{model_path}' that were not signed: "
                             f"{', '.join(extra)}", reason="extra_file", path=model_path)
    if missing:
        raise IntegrityError(f"Missing file(s) in '{model_path}' that were signed: "
                             f"{', '.join(missing)}", reason="missing_file", path=model_path)


def _digest_name(algorithm):
    return {"sha256": "sha256", "blake2b": "blake2b", "blake2": "blake2b"}.get(algorithm)


def verify_bytes(data, *, expected, model_path, digests=None):
    """Checks in-memory file content against a single-file signed manifest.

    Returns True when checked here; False when the manifest needs the library's
    hashing (shards, unusual digests), so the caller must hash a file instead.
    """
    import hashlib

    items = list(expected.resource_descriptors())
    if expected.serialization_type.get("method") != "files" or len(items) != 1:
        return False
    name = _digest_name(items[0].digest.algorithm)
    if name is None:
        return False
    if items[0].identifier != ".":
        raise IntegrityError(f"Missing file: the signature covers '{items[0].identifier}' in a "
                             f"folder, not the single file '{model_path}'",
                             reason="missing_file", path=model_path)
    digest = (digests or {}).get(name) or hashlib.new(name, data).hexdigest()
    if digest != items[0].digest.digest_hex:
        raise IntegrityError(
            f"Hash mismatch for the model file '{model_path}': the content differs from what "
            f"was signed (expected {items[0].digest.digest_hex[:16]}..., found {digest[:16]}...). "
            "The model was modified or the signature belongs to another file.",
            reason="hash_mismatch", path=model_path)
    return True
