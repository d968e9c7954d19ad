"""`keras-mlsec bom | log verify`: ML-BOMs and audit logs from the command line.

Exit status: 0 on success, 1 when an audit log fails verification, 2 for
usage errors (missing or unreadable files, bad keys, bad arguments).
Messages go to stderr without tracebacks.
"""

import json
import pathlib
import sys

from keras_mlsec.cli._common import usage_error

REPORT_KINDS = ("robustness", "membership")


def register(subparsers):
    """Adds the `bom` and `log` sub-commands."""
    bom = subparsers.add_parser(
        "bom", help="write a CycloneDX 1.6 ML-BOM of a model, its data and environment",
        description="Writes a CycloneDX 1.6 JSON ML-BOM of MODEL (.keras, read as a zip and "
                    "never deserialized): its sha256, each --data file or folder with its "
                    "dataset_digest, the installed Python packages, and a model card with "
                    "the metrics of each --report.")
    bom.add_argument("model", metavar="MODEL.keras")
    bom.add_argument("--data", action="append", default=[], metavar="[NAME=]PATH",
                     help="a data file or folder (repeatable); NAME defaults to its file name")
    bom.add_argument("--report", action="append", default=[], metavar="KIND=REPORT.json",
                     help=f"a saved report for the model card, KIND in {REPORT_KINDS} "
                          "(repeatable)")
    bom.add_argument("--metadata", default=None,
                     help="JSON object of extra facts (BOM properties), or @FILE holding one")
    bom.add_argument("--output", default=None, metavar="BOM.json",
                     help="where to write the BOM (default: standard output)")
    bom.set_defaults(func=run_bom)

    log = subparsers.add_parser("log", help="audit logs: verify",
                                description="Commands on keras_mlsec audit logs.")
    actions = log.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help="verify an audit log's hash chain and signed checkpoints",
        description="Exits 0 when the log at PATH verifies (chain, signatures, closing "
                    "record), 1 otherwise, naming the first bad line.")
    verify.add_argument("path", metavar="PATH")
    verify.add_argument("--public-key", default=None,
                        help="PEM public key of the log's signing key (checks signatures)")
    verify.add_argument("--allow-open", action="store_true",
                        help="accept a log that is still being written (no closing record)")
    verify.set_defaults(func=run_log_verify)


def _split(text, option):
    name, sep, value = text.partition("=")
    if not sep:
        return None, text
    if not name or not value:
        raise ValueError(f"Expected {option} NAME=VALUE. Received: {text!r}")
    return name, value


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


def _load_report(text):
    kind, path = _split(text, "--report")
    if kind not in REPORT_KINDS:
        raise ValueError(f"Expected --report KIND=REPORT.json with KIND in {REPORT_KINDS}. "
                         f"Received: report={text!r}")
    if not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"Expected --report {kind}=PATH to name an existing file. "
                                f"Received: report={text!r}")
    if kind == "robustness":
        from keras_mlsec.evaluation.report import RobustnessReport as report_class
    else:
        from keras_mlsec.attacks.privacy.membership_report import MembershipReport as report_class
    try:
        return report_class.from_json(path)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"Expected --report {kind}=PATH to hold a saved {report_class.__name__} "
                         f"(to_json). Received: report={text!r} ({error})") from None


def _datasets(values):
    datasets = {}
    for text in values:
        name, path = _split(text, "--data")
        name = name or pathlib.Path(path).name
        if name in datasets:
            raise ValueError(f"Expected distinct data set names. Received: --data {text!r} "
                             f"repeats {name!r} (use NAME=PATH)")
        if not pathlib.Path(path).exists():
            raise FileNotFoundError(f"Expected --data to name an existing file or folder. "
                                    f"Received: data={text!r}")
        datasets[name] = pathlib.Path(path)
    return datasets


def run_bom(args):
    """Writes the ML-BOM; prints where, or the document itself."""
    try:
        from keras_mlsec.integrity.bom import ml_bom

        document = ml_bom(args.model, datasets=_datasets(args.data) or None,
                          reports=[_load_report(text) for text in args.report],
                          metadata=_read_metadata(args.metadata))
        if args.output is None:
            print(document)
            return 0
        output = pathlib.Path(args.output)
        output.write_text(document + "\n", encoding="utf-8")
    except (OSError, ValueError, TypeError) as error:
        return usage_error(args.command, error)
    components = json.loads(document)["components"]
    data = sum(c["type"] == "data" for c in components)
    print(f"wrote {output}: CycloneDX 1.6 ML-BOM, {len(components)} components "
          f"(1 model, {data} data sets, {len(components) - 1 - data} libraries)")
    return 0


def run_log_verify(args):
    """Verifies an audit log; prints the number of verified records."""
    from keras_mlsec.integrity.audit_log import verify_audit_log
    from keras_mlsec.integrity.errors import IntegrityError

    try:
        records = verify_audit_log(args.path, public_key=args.public_key,
                                   allow_open=args.allow_open)
    except IntegrityError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError, TypeError) as error:
        return usage_error("log verify", error)
    signed = "hash chain and signatures" if args.public_key else "hash chain only (no key)"
    print(f"OK: {args.path}: {records} records verified ({signed})")
    return 0
