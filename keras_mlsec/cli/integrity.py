"""`keras-mlsec keygen | sign | verify | scan`: model integrity from the command line.

Exit status: 0 on success, 1 when verification fails or the scan finds
high-severity problems, 2 for usage errors (missing or unreadable files, bad
keys, bad arguments). Messages go to stderr without tracebacks.
"""

import json
import pathlib
import sys

from keras_mlsec.cli._common import usage_error


def register(subparsers):
    """Adds the `keygen`, `sign`, `verify` and `scan` sub-commands."""
    keygen = subparsers.add_parser(
        "keygen", help="create an elliptic-curve key pair for signing models",
        description="Writes private_key.pem (mode 0600) and public_key.pem into DIRECTORY.")
    keygen.add_argument("directory")
    keygen.add_argument("--curve", default="P-256", choices=("P-256", "P-384", "P-521"))
    keygen.add_argument("--force", action="store_true", help="overwrite existing key files")
    keygen.set_defaults(func=run_keygen)

    sign = subparsers.add_parser(
        "sign", help="sign a model (OpenSSF model signing bundle next to it)",
        description="Signs MODEL with a local EC key; the bundle (default MODEL.sig) also "
                    "verifies with `model_signing verify key`.")
    sign.add_argument("model")
    sign.add_argument("--private-key", required=True)
    sign.add_argument("--signature", default=None, help="bundle path (default MODEL.sig)")
    sign.add_argument("--metadata", default=None,
                      help="JSON object signed with the model, or @FILE holding one")
    sign.set_defaults(func=run_sign)

    verify = subparsers.add_parser(
        "verify", help="verify a model against its signature",
        description="Exits 0 when MODEL matches its signature and the public key, 1 otherwise.")
    verify.add_argument("model")
    verify.add_argument("--public-key", required=True)
    verify.add_argument("--signature", default=None, help="bundle path (default MODEL.sig)")
    verify.set_defaults(func=run_verify)

    scan = subparsers.add_parser(
        "scan", help="statically scan a model file for code-execution risks",
        description="Lists findings; exits 1 when any has severity high or critical.")
    scan.add_argument("model")
    scan.add_argument("--allow", action="append", default=[], metavar="MODULE",
                      help="trust this module prefix or package (repeatable)")
    scan.add_argument("--json", action="store_true", help="print findings as JSON")
    scan.set_defaults(func=run_scan)


def _guarded(function):
    def wrapper(args):
        from keras_mlsec.integrity.errors import IntegrityError

        try:
            return function(args)
        except IntegrityError as error:
            print(f"FAILED: {error}", file=sys.stderr)
            return 1
        except (OSError, ValueError, TypeError) as error:
            return usage_error(args.command, error)
    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


@_guarded
def run_keygen(args):
    """Writes a key pair; prints both paths."""
    from keras_mlsec.integrity.signing import generate_keypair

    private_key, public_key = generate_keypair(args.directory, curve=args.curve,
                                               overwrite=args.force)
    print(f"private key: {private_key}\npublic key:  {public_key}")
    return 0


def _read_metadata(text):
    if text is None:
        return None
    if text.startswith("@"):
        text = pathlib.Path(text[1:]).read_text(encoding="utf-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"Expected --metadata to be a JSON object or @FILE. "
                         f"Received: metadata={text[:80]!r} ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"Expected --metadata to be a JSON object. Received: {text[:80]!r}")
    return value


@_guarded
def run_sign(args):
    """Signs a model; prints the signature path."""
    from keras_mlsec.integrity.signing import sign_model

    signature = sign_model(args.model, private_key=args.private_key,
                           signature_path=args.signature, metadata=_read_metadata(args.metadata))
    print(f"signed {args.model} -> {signature}")
    return 0


@_guarded
def run_verify(args):
    """Verifies a model; prints OK and the signed metadata."""
    from keras_mlsec.integrity.signing import verify_model

    metadata = verify_model(args.model, public_key=args.public_key,
                            signature_path=args.signature)
    print(f"OK: {args.model} matches its signature")
    if metadata:
        print(f"signed metadata: {json.dumps(metadata, sort_keys=True)}")
    return 0


@_guarded
def run_scan(args):
    """Scans a model; exits 1 on high or critical findings."""
    from keras_mlsec.integrity.scanning import scan_model

    findings = scan_model(args.model, allow=tuple(args.allow))
    if args.json:
        print(json.dumps([f.to_dict() for f in findings], indent=2))
    elif not findings:
        print(f"OK: no findings in {args.model}")
    else:
        for finding in findings:
            print(finding)
    blocking = sum(f.blocking for f in findings)
    if blocking:
        print(f"FAILED: {blocking} high-severity finding(s) in {args.model}", file=sys.stderr)
        return 1
    return 0
