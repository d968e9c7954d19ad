"""`SectionResult`: what one audit section found, with its evidence and verdict."""

STATUSES = ("passed", "failed", "info", "not_run", "error")
"""passed / failed: a gate was checked; info: measured, nothing to gate; not_run: did not
apply (the reason says why); error: the check raised (the reason holds the error)."""


class SectionResult:
    """The outcome of one audit section (one check of one threat).

    Args:
        name: registry name of the section, e.g. "robustness".
        threat: the threat of the taxonomy it covers (see `THREATS`).
        title: a human title.
        status: one of `STATUSES`.
        summary: one sentence for the reader.
        evidence: JSON-able measurements backing the verdict.
        settings: the settings the check ran with.
        recommendation: the defense from keras_mlsec to apply when it failed.
        reason: why it did not run (for "not_run" and "error").
        images: `{caption: PNG bytes}` embedded in the HTML page.
        seconds: wall time of the section.
    """

    def __init__(self, *, name, threat, title, status, summary="", evidence=None, settings=None,
                 recommendation=None, reason=None, images=None, seconds=0.0):
        if status not in STATUSES:
            raise ValueError(f"Expected `status` to be one of {STATUSES}. Received: "
                             f"status={status!r}")
        if status in ("not_run", "error") and not reason:
            raise ValueError("Expected a `reason` for a section that did not run. Received: "
                             f"reason={reason!r} with status={status!r}")
        self.name, self.threat, self.title, self.status = name, threat, title, status
        self.summary = summary
        self.evidence = dict(evidence or {})
        self.settings = dict(settings or {})
        self.recommendation = recommendation
        self.reason = reason
        self.images = dict(images or {})
        self.seconds = float(seconds)

    def to_dict(self):
        """JSON-able form; images are listed by caption (they are embedded in the HTML)."""
        return {"name": self.name, "threat": self.threat, "title": self.title,
                "status": self.status, "summary": self.summary, "evidence": self.evidence,
                "settings": self.settings, "recommendation": self.recommendation,
                "reason": self.reason, "images": sorted(self.images),
                "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data.pop("images", None)
        return cls(**data)

    def __repr__(self):
        return f"SectionResult({self.name!r}, status={self.status!r})"
