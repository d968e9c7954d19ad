"""The exception raised when a model fails an integrity check."""


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
            `"unsupported_format"`.
        path: the model path the check was about.
        findings: for `"unsafe_model"`, the scanner findings that caused it.
    """

    def __init__(self, message, *, reason, path=None, findings=()):
        super().__init__(message)
        self.reason = reason
        self.path = path
        self.findings = list(findings)
