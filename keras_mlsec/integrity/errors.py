"""The exception raised when a model or an audit log fails an integrity check."""


class IntegrityError(Exception):
    """A model failed verification or was refused by the scanner.

    Raised for verification failures only (a signature that does not match the
    model, the key, or its own format; a model the scanner refuses). Bad
    arguments (a missing key file, a key of the wrong type) raise `ValueError`,
    `TypeError` or `FileNotFoundError` instead.

    Attributes:
        reason: short machine-readable cause, one of `"hash_mismatch"`,
            `"extra_file"`, `"missing_file"`, `"wrong_key"`,
            `"malformed_signature"`, `"missing_signature"`, `"unsafe_model"`,
            `"unsupported_format"`; for provenance checks `"missing_provenance"`
            and `"provenance_mismatch"`; for audit logs `"not_an_audit_log"`,
            `"malformed_record"`, `"chain_broken"`, `"bad_signature"`,
            `"wrong_key"`, `"unsigned_log"` and `"not_closed"`.
        path: the model (or log) path the check was about.
        findings: for `"unsafe_model"`, the scanner findings that caused it.
        line: for audit logs, the 1-based number of the first bad line.
    """

    def __init__(self, message, *, reason, path=None, findings=(), line=None):
        super().__init__(message)
        self.reason = reason
        self.path = path
        self.findings = list(findings)
        self.line = line
