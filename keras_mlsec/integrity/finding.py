"""One problem reported by the model scanner."""

from keras_mlsec._core.validation import check_choice

SEVERITIES = ("info", "low", "medium", "high", "critical")


class Finding:
    """A problem found in a model file by `scan_model`.

    Args:
        severity: one of `"info"`, `"low"`, `"medium"`, `"high"`, `"critical"`.
            `"high"` and `"critical"` findings make `load_verified_model` refuse
            the file and `keras-mlsec scan` exit non-zero.
        code: short identifier of the rule, e.g. `"lambda-layer"`.
        message: what was found and why it is dangerous.
        location: where: an archive member and a path inside `config.json`
            such as `config.json:config.layers[2].config.function`.

    Example:

    >>> Finding("high", "lambda-layer", "Lambda layer runs arbitrary code").blocking
    True
    """

    def __init__(self, severity, code, message, location=""):
        self.severity = check_choice(severity, SEVERITIES, "severity")
        self.code = code
        self.message = message
        self.location = location

    @property
    def blocking(self):
        """Whether the finding is serious enough to refuse loading the model."""
        return SEVERITIES.index(self.severity) >= SEVERITIES.index("high")

    def to_dict(self):
        """The finding as a plain JSON-serialisable dictionary."""
        return {"severity": self.severity, "code": self.code,
                "message": self.message, "location": self.location}

    def __eq__(self, other):
        return isinstance(other, Finding) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(tuple(self.to_dict().values()))

    def __repr__(self):
        return (f"Finding(severity={self.severity!r}, code={self.code!r}, "
                f"message={self.message!r}, location={self.location!r})")

    def __str__(self):
        where = f" at {self.location}" if self.location else ""
        return f"[{self.severity.upper()}] {self.code}{where}: {self.message}"
