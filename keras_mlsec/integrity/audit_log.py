"""`AuditLog`: an append-only, hash-chained, signed JSON-lines log of security events."""

import contextlib
import datetime
import fcntl
import os
import threading

from keras_mlsec._core import files as _files
from keras_mlsec._core import validation as v
from keras_mlsec.integrity import _audit_records as _records
from keras_mlsec.integrity.errors import IntegrityError

_ON_INVALID = ("raise", "new_chain")


class AuditLog:
    """An append-only JSON-lines log where each record holds the sha256 of the previous one.

    Line 1 names the format and the signing key; each later line is
    `{"seq", "time", "event", "data", "prev"}` in canonical JSON, `prev`
    being the sha256 of the previous line's bytes. With a `private_key`, a
    signed `checkpoint` record follows every `checkpoint_every` records and a
    signed `close` record ends the log on `close()`; each signature covers
    the whole chain before it. `verify_audit_log` then detects any edited,
    inserted, deleted or reordered record and any truncation of a closed log.

    Appends are crash-safe: each record is written with one `write` call on
    a file opened for appending (and flushed with fsync when `fsync=True`),
    so a killed process leaves whole records plus at most one unterminated
    last line. Opening an existing log verifies it first; an unterminated
    last line is cut off, a `resume` record notes what was found (and, with a
    key, a signed checkpoint seals the records the crashed writer left
    unsigned), and appending continues the chain. Nothing is appended to a
    log that fails verification unless `on_invalid="new_chain"`: then the
    bad file is renamed to `<path>.invalid-<UTC time>` and a new log, whose
    first record names it and the error, starts at `path`. One `AuditLog` at
    a time may write a file (an advisory lock; a second raises ValueError).

    The security functions of this package write their events here when
    given `audit_log=`: `sign_model`, `verify_model`, `load_verified_model`
    (accepted and refused, with the findings), `DriftMonitor` alerts and
    `PrivacyBudget` stops.

    Args:
        path: the log file; created (with its folder's parent existing) when missing.
        private_key: optional path to a PEM elliptic-curve private key that
            signs checkpoints (`generate_keypair` writes one).
        checkpoint_every: records between two signed checkpoints.
        fsync: flush every record to disk (survives power loss, about 10-100x
            slower per record); records survive a killed process either way.
        on_invalid: `"raise"` (default) or `"new_chain"`, for an existing log
            that fails verification.
        password: password of an encrypted private key (bytes).

    Attributes:
        records: the number of records in the log (all lines).
        closed: whether `close()` was called.

    Raises:
        IntegrityError: the existing file fails verification (or is not an
            audit log) and `on_invalid="raise"`.
        ValueError, TypeError, FileNotFoundError: bad arguments, a key that
            does not match the existing log's, or a log already open.

    Example:

    >>> with AuditLog("audit.jsonl", private_key="keys/private_key.pem") as log:
    ...     log.append("model_deployed", {"model": "model.keras", "by": "ci"})
    >>> verify_audit_log("audit.jsonl", public_key="keys/public_key.pem")
    4
    """

    def __init__(self, path, *, private_key=None, checkpoint_every=1000, fsync=True,
                 on_invalid="raise", password=None):
        self.path = _files.check_path(path, "path", must_exist=False)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"Expected `path` in an existing folder. Received: "
                                    f"path='{self.path}' (no folder '{self.path.parent}')")
        if self.path.is_dir():
            raise ValueError(f"Expected `path` to be a log file. Received: path='{self.path}' "
                             "(a directory)")
        self.private_key = None if private_key is None else os.fspath(private_key)
        self.checkpoint_every = v.check_positive_int(checkpoint_every, "checkpoint_every")
        if not isinstance(fsync, bool):
            raise TypeError(f"Expected `fsync` to be True or False. Received: fsync={fsync!r}")
        self.fsync = fsync
        self.on_invalid = v.check_choice(on_invalid, _ON_INVALID, "on_invalid")
        self._key = None
        self._fingerprint = None
        if private_key is not None:
            _, self._key = _files.load_private_key(private_key, password=password)
            self._fingerprint = _records.key_fingerprint(self._key.public_key())
        self._lock = threading.Lock()
        self._fd = None
        self.closed = False
        self.records = 0
        self._open()

    # Opening ------------------------------------------------------------------------
    def _open(self):
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise ValueError(f"Expected `path` not in use by another AuditLog. Received: "
                             f"path='{self.path}' is being written by another AuditLog (in this "
                             "or another process); close that one first.") from None
        try:
            if os.fstat(self._fd).st_size == 0:
                self._start()
            else:
                self._resume()
        except BaseException:
            self._release()
            raise

    def _start(self, previous=None):
        self.records, self._prev, self._since_checkpoint = 0, _records.GENESIS_PREV, 0
        data = {"format": _records.FORMAT, "key_fingerprint": self._fingerprint,
                "checkpoint_every": self.checkpoint_every}
        if previous is not None:
            data["previous"] = previous
        self._write(_records.START, data)

    def _resume(self):
        public_key = None if self._key is None else self._key.public_key()
        try:
            state = _records.verify_lines(self.path, public_key, allow_open=True)
        except IntegrityError as error:
            if error.reason == "wrong_key" or error.reason == "unsigned_log":
                raise ValueError(
                    f"Expected `private_key` to match the existing log. Received: private_key="
                    f"'{self.private_key}' for path='{self.path}' ({error})") from None
            if self.on_invalid == "raise":
                raise
            self._start_new_chain(error)
            return
        if state.fingerprint is not None and self._key is None:
            raise ValueError(f"Expected `private_key`: the existing log at path='{self.path}' "
                             "is signed (key fingerprint "
                             f"{state.fingerprint[:16]}...). Received: private_key=None")
        if state.partial_bytes:
            os.ftruncate(self._fd, state.complete_bytes)
        self.records, self._prev = state.records, state.prev
        self._since_checkpoint = state.records - state.last_signed_line
        self._write(_records.RESUME, {"closed": state.closed,
                                      "discarded_bytes": state.partial_bytes,
                                      "unsigned_records": self._since_checkpoint})
        if self._key is not None and not state.closed:
            self._checkpoint(_records.CHECKPOINT)

    def _start_new_chain(self, error):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path.with_name(f"{self.path.name}.invalid-{stamp}")
        os.replace(self.path, aside)
        self._release()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o640)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _files.fsync_directory(self.path.parent)
        self._start(previous={"path": aside.name, "reason": error.reason, "line": error.line,
                              "error": str(error)[:500]})

    # Writing ------------------------------------------------------------------------
    def _write(self, event, data, signed=False):
        record = {"seq": self.records, "time": _records.now(), "event": event,
                  "data": data, "prev": self._prev}
        if signed:
            record["signature"] = _records.sign(self._key, record)
        try:
            line = _records.encode(record)
        except (TypeError, ValueError) as error:  # only user data can fail to encode
            raise _records.data_error(data, error) from None
        payload = line + b"\n"
        written = os.write(self._fd, payload)  # one write per record on a regular file
        while written < len(payload):  # a short write (disk full, signal): finish the line
            payload = payload[written:]
            written = os.write(self._fd, payload)
        if self.fsync or signed:
            os.fsync(self._fd)
        self._prev = _records.line_hash(line)
        self.records += 1
        self._since_checkpoint += 1
        return record["seq"]

    def _checkpoint(self, event):
        seq = self._write(event, {"records": self.records}, signed=self._key is not None)
        self._since_checkpoint = 0
        return seq

    def append(self, event, data=None):
        """Appends one event record; returns its sequence number (its line is seq + 1).

        Args:
            event: the event name, e.g. `"model_deployed"` (not one of the
                log's own: "log_start", "checkpoint", "close", "resume").
            data: a dict of JSON-serialisable details (NumPy values and paths
                are converted).

        Raises:
            ValueError: the log is closed, a reserved or empty event name,
                data with NaN or infinity.
            TypeError: a non-string event, or data that is not a dict.
        """
        if not isinstance(event, str) or not event:
            raise TypeError(f"Expected `event` to be a non-empty string. Received: "
                            f"event={event!r}")
        if event in _records.RESERVED:
            raise ValueError(f"Expected `event` other than the log's own {_records.RESERVED}. "
                             f"Received: event={event!r}")
        data = _records.check_data(data)
        with self._lock:
            if self.closed:
                raise ValueError(f"Expected an open AuditLog. Received: the log at "
                                 f"path='{self.path}' was closed; open a new AuditLog to append.")
            seq = self._write(event, data)
            if self._key is not None and self._since_checkpoint >= self.checkpoint_every:
                self._checkpoint(_records.CHECKPOINT)
            return seq

    def checkpoint(self):
        """Writes a signed checkpoint now (no-op without a key); returns its seq or None."""
        with self._lock:
            if self.closed or self._key is None:
                return None
            return self._checkpoint(_records.CHECKPOINT)

    def close(self):
        """Writes the (signed) `close` record and releases the file. Idempotent."""
        with self._lock:
            if self.closed:
                return
            try:
                self._checkpoint(_records.CLOSE)
            finally:
                self.closed = True
                self._release()

    def _release(self):
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __del__(self):
        # Dropped without close(): release the file like a crashed writer would (no close
        # record); the next AuditLog on it resumes and seals the tail.
        try:
            self._release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"AuditLog(path='{self.path}', records={self.records}, "
                f"signed={self._key is not None}, closed={self.closed})")


def check_audit_log(audit_log, name="audit_log"):
    """`audit_log` when it is an `AuditLog` or None, else TypeError naming it."""
    if audit_log is not None and not isinstance(audit_log, AuditLog):
        raise TypeError(f"Expected `{name}` to be a keras_mlsec.integrity.AuditLog or None. "
                        f"Received: {name}={audit_log!r:.80} of type {type(audit_log).__name__}")
    return audit_log


def log_event(audit_log, event, data):
    """Appends to `audit_log` when there is one and it is open (the package's event hook)."""
    if audit_log is not None and not audit_log.closed:
        audit_log.append(event, data)


@contextlib.contextmanager
def audited(audit_log, event, **data):
    """Logs `event` to `audit_log` (when given) as accepted, or refused with the findings.

    Yields a dict the caller may fill with facts known only on success. An
    `IntegrityError` is logged as refused (reason, message, findings) and re-raised;
    other exceptions (bad arguments) are not security events and are not logged.
    """
    outcome = {}
    try:
        yield outcome
    except IntegrityError as error:
        log_event(audit_log, event, {
            **data, "result": "refused", "reason": error.reason, "message": str(error)[:2000],
            "findings": [finding.to_dict() for finding in error.findings]})
        raise
    log_event(audit_log, event, {**data, "result": "accepted", **outcome})


def verify_audit_log(path, *, public_key=None, allow_open=False):
    """Verifies an audit log written by `AuditLog`; returns the number of verified records.

    Checks that every line is a canonical record, that sequence numbers
    run 0, 1, 2, ... and that each record's `prev` is the sha256 of the line
    before, so an edited, inserted, deleted or reordered record breaks the
    chain; with `public_key`, every checkpoint signature is verified, so a
    forger who rewrites the chain is caught at the next signed checkpoint.
    The log must end with its `close` record: a log truncated after its last
    signed checkpoint (or whose writer never closed it) fails, unless
    `allow_open=True` (a log still being written, or after a crash); then an
    unterminated last line (a crash mid-write) is not counted.

    Without `public_key` only the chain is checked: that detects accidents
    and naive edits, not a forger who recomputes the hashes. A log's last
    record, when not a signed checkpoint, is covered by nothing after it.

    Args:
        path: the log file.
        public_key: path to the PEM public key of the log's private key.
        allow_open: accept a log that does not end with its close record.

    Returns:
        The number of complete records (lines) verified.

    Raises:
        IntegrityError: with `line` (1-based) naming the first bad line and
            `reason` one of "not_an_audit_log", "malformed_record",
            "chain_broken", "bad_signature", "wrong_key", "unsigned_log",
            "not_closed".
        FileNotFoundError, ValueError, TypeError: a missing log, a missing or
            unreadable key, a key that is not an elliptic-curve public key.

    Example:

    >>> verify_audit_log("audit.jsonl", public_key="keys/public_key.pem")
    4
    """
    path = _files.check_path(path, "path", kind="audit log file")
    if not path.is_file():
        raise ValueError(f"Expected `path` to be an audit log file. Received: path='{path}' "
                         "(not a regular file)")
    key = None if public_key is None else _files.load_public_key(public_key)[1]
    if not isinstance(allow_open, bool):
        raise TypeError(f"Expected `allow_open` to be True or False. "
                        f"Received: allow_open={allow_open!r}")
    return _records.verify_lines(path, key, allow_open=allow_open).records


__all__ = ["AuditLog", "verify_audit_log"]
