"""The audit log's record format: canonical JSON lines, the hash chain, signatures, checks.

Every line is one record, the canonical JSON (sorted keys, no spaces, ASCII)
of `{"seq", "time", "event", "data", "prev"}` (+ `"signature"` on
checkpoints), where `prev` is the sha256 of the previous line's bytes and
line 1 is a `log_start` record naming the format and the signing key. A
checkpoint's signature is an ECDSA-SHA256 signature, by the log's key, of
the canonical JSON of the record without its signature: it covers `seq`
and `prev`, hence every earlier line.
"""

import base64
import datetime
import hashlib
import json
import pathlib

from keras_mlsec.integrity.errors import IntegrityError

FORMAT = "keras_mlsec.audit_log/v1"
GENESIS_PREV = "0" * 64
START, CHECKPOINT, CLOSE, RESUME = "log_start", "checkpoint", "close", "resume"
RESERVED = (START, CHECKPOINT, CLOSE, RESUME)
SIGNED = (CHECKPOINT, CLOSE)
_KEYS = {"seq", "time", "event", "data", "prev"}


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                            allow_nan=False, default=lambda value: _plain(value))


def encode(record):
    """The canonical bytes of a record (NumPy values and paths converted to JSON).

    Raises ValueError for NaN/infinity and TypeError for other objects.
    """
    return _ENCODER.encode(record).encode("ascii")


def line_hash(line):
    return hashlib.sha256(line).hexdigest()


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def key_fingerprint(public_key):
    """sha256 of the DER SubjectPublicKeyInfo of an elliptic-curve public key."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _message(record):
    return encode({k: val for k, val in record.items() if k != "signature"})


def sign(private_key, record):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = private_key.sign(_message(record), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


def signature_valid(public_key, record):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        signature = base64.b64decode(record["signature"], validate=True)
        public_key.verify(signature, _message(record), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def check_data(data, name="data"):
    """`data` when it is a dict (or None: `{}`), else TypeError naming it.

    Its keys and values are checked when the record is encoded (see `data_error`).
    """
    if data is None:
        return {}
    if type(data) is not dict and not isinstance(data, dict):
        raise TypeError(f"Expected `{name}` to be a dict with string keys or None. "
                        f"Received: {name}={data!r:.80}")
    return data


def data_error(data, error, name="data"):
    """The ValueError to raise for `data` that did not encode."""
    return ValueError(f"Expected `{name}` to be JSON-serialisable with finite numbers. "
                      f"Received: {name}={data!r:.80} ({error})")


def _plain(value):
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class LogState:
    """What verification learnt: where the chain ends and how it ends."""

    def __init__(self):
        self.records = 0          # complete, verified records
        self.prev = GENESIS_PREV  # hash of the last complete line
        self.fingerprint = None   # key fingerprint named by log_start
        self.checkpoint_every = None
        self.closed = False       # last record is a close record
        self.last_signed_line = 0
        self.complete_bytes = 0   # length of the complete lines
        self.partial_bytes = 0    # length of an unterminated last line (crash residue)


def _fail(path, line, reason, what):
    raise IntegrityError(f"Audit log '{path}' fails verification at line {line}: {what}",
                         reason=reason, path=path, line=line)


def _parse(path, number, raw):
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        record = None
    if number == 1 and not (isinstance(record, dict) and record.get("event") == START and
                            isinstance(record.get("data"), dict) and
                            record["data"].get("format") == FORMAT):
        raise IntegrityError(
            f"Expected `path` to be a keras_mlsec audit log (JSON lines starting with a "
            f"'{START}' record of format {FORMAT}). Received: path='{path}' whose line 1 is "
            f"{raw[:60]!r}: written by another tool, or its first record was altered.",
            reason="not_an_audit_log", path=path, line=1)
    if not isinstance(record, dict):
        _fail(path, number, "malformed_record", f"not a JSON record ({raw[:60]!r}): the line "
              "was edited or cut")
    keys = set(record)
    if not (keys == _KEYS or keys == _KEYS | {"signature"}) or \
            not isinstance(record["data"], dict) or not isinstance(record["event"], str):
        _fail(path, number, "malformed_record", f"unexpected record fields {sorted(keys)}: the "
              "line was edited")
    # Earlier lines are pinned by the next line's hash of their bytes; a signed
    # record's signature covers its parsed content, so its bytes must be canonical.
    if record["event"] in SIGNED and encode(record) != raw:
        _fail(path, number, "malformed_record", "the record is not in the canonical form the "
              "log writes: the line was edited")
    return record


def verify_lines(path, public_key=None, *, allow_open=False):
    """Verifies the log at `path`; returns its `LogState` or raises `IntegrityError`."""
    state = LogState()
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):  # an unterminated last line: a write cut short
                state.partial_bytes = len(raw)
                break
            _check_record(path, number, _parse(path, number, raw[:-1]), state, public_key)
            state.prev = line_hash(raw[:-1])
            state.records = number
            state.complete_bytes += len(raw)
    if state.records == 0:
        raise IntegrityError(f"Expected `path` to be a keras_mlsec audit log. Received: "
                             f"path='{path}' holding no complete record.",
                             reason="not_an_audit_log", path=path, line=1)
    if not allow_open and (not state.closed or state.partial_bytes):
        last = (f"line {state.last_signed_line}" if state.last_signed_line
                else "none: the log has no signed checkpoint")
        _fail(path, state.records + 1, "not_closed",
              "the log ends without its closing record, so it was truncated after the last "
              f"signed checkpoint ({last}), or its writer has not closed it (still writing, or "
              "it crashed: reopening it with AuditLog resumes and seals it). Pass "
              "allow_open=True to verify a log that is still being written.")
    return state


def _check_record(path, number, record, state, public_key):
    if record["seq"] != number - 1:
        _fail(path, number, "chain_broken",
              f"sequence number {record['seq']!r} where {number - 1} was expected: a record "
              "was deleted, inserted or moved here")
    if record["prev"] != state.prev:
        _fail(path, max(number - 1, 1), "chain_broken",
              f"the line was changed after it was written, or the next line is not its "
              f"successor (line {number} records prev {str(record['prev'])[:16]}..., line "
              f"{number - 1} hashes to {state.prev[:16]}...)")
    event = record["event"]
    if number == 1:
        state.fingerprint = record["data"].get("key_fingerprint")
        state.checkpoint_every = record["data"].get("checkpoint_every")
        if public_key is not None:
            if state.fingerprint is None:
                _fail(path, 1, "unsigned_log", "the log was written without a key, so "
                      "`public_key` has nothing to verify (pass public_key=None)")
            if key_fingerprint(public_key) != state.fingerprint:
                _fail(path, 1, "wrong_key", "`public_key` is not the key this log is signed "
                      f"with (log key fingerprint {state.fingerprint[:16]}..., given key "
                      f"{key_fingerprint(public_key)[:16]}...)")
    elif event == START:
        _fail(path, number, "chain_broken", f"a second '{START}' record: lines were inserted")
    if event in SIGNED and state.fingerprint is not None:
        if "signature" not in record:
            _fail(path, number, "bad_signature", f"the '{event}' record carries no signature")
        if public_key is not None and not signature_valid(public_key, record):
            _fail(path, number, "bad_signature", f"the '{event}' record's signature does not "
                  "verify with `public_key`: the record or a line before it was forged")
        state.last_signed_line = number
    elif "signature" in record:
        _fail(path, number, "malformed_record", f"a signature on a '{event}' record")
    state.closed = event == CLOSE
