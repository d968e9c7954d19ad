"""`SecurityAudit`: the verdict per threat of one `keras_mlsec.audit` run."""

import json
import os

from keras_mlsec._core.reports import JSONReport
from keras_mlsec.audit import _html
from keras_mlsec.audit.registry import THREATS
from keras_mlsec.audit.section_result import SectionResult


def _jsonable(value):
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item")
                                 else (o.tolist() if hasattr(o, "tolist") else repr(o))))


class SecurityAudit(JSONReport):
    """Results of `keras_mlsec.audit.audit`: every section and a verdict per threat.

    A threat is "fail" when one of its sections failed, "pass" when at least
    one passed and none failed, and "not_assessed" otherwise (its sections
    did not apply, raised, or none exists yet): a threat is never passed by
    default.

    Attributes:
        sections: the `SectionResult`s in order.
        settings: how the audit ran (data sizes, eps, gates, budget, seed).
        versions: versions of keras_mlsec and the libraries it used.

    Example:
        >>> result = keras_mlsec.audit(model, train=(x, y), test=(x_t, y_t))
        >>> result.passed, result.verdicts
        >>> result.save_html("audit-report")
    """

    def __init__(self, *, sections, settings=None, versions=None):
        self.sections = list(sections)
        self.settings = _jsonable(settings or {})
        self.versions = dict(versions or {})

    def section(self, name):
        """The `SectionResult` named `name`.

        Raises:
            KeyError: when no section of that name ran.
        """
        for result in self.sections:
            if result.name == name:
                return result
        raise KeyError(f"Expected a section name in {[s.name for s in self.sections]}. "
                       f"Received: name={name!r}")

    @property
    def verdicts(self):
        """`{threat: "pass" | "fail" | "not_assessed"}` for every threat of the taxonomy."""
        verdicts = {}
        for threat in THREATS:
            statuses = [s.status for s in self.sections if s.threat == threat]
            verdicts[threat] = ("fail" if "failed" in statuses else
                                "pass" if "passed" in statuses else "not_assessed")
        return verdicts

    @property
    def failures(self):
        """Names of the sections that failed their gate."""
        return [s.name for s in self.sections if s.status == "failed"]

    @property
    def errors(self):
        """Names of the sections whose check raised (their reason holds the error)."""
        return [s.name for s in self.sections if s.status == "error"]

    @property
    def passed(self):
        """True when no section failed its gate or raised (not-run sections do not fail)."""
        return not self.failures and not self.errors

    def to_dict(self):
        return {"passed": self.passed, "verdicts": self.verdicts, "failures": self.failures,
                "errors": self.errors,
                "sections": [_jsonable(s.to_dict()) for s in self.sections],
                "settings": self.settings, "versions": self.versions}

    @classmethod
    def from_dict(cls, data):
        return cls(sections=[SectionResult.from_dict(s) for s in data["sections"]],
                   settings=data.get("settings"), versions=data.get("versions"))

    def to_markdown(self):
        """The audit as Markdown: verdicts per threat, then every section."""
        lines = ["# Security audit: " + ("PASSED" if self.passed else
                                         f"FAILED ({', '.join(self.failures + self.errors)})"),
                 "",
                 "| threat | verdict | sections |", "|---|---|---|"]
        for threat, verdict in self.verdicts.items():
            names = ", ".join(f"{s.name} ({s.status})" for s in self.sections
                              if s.threat == threat) or "none yet"
            lines.append(f"| {THREATS[threat]} | {verdict} | {names} |")
        for s in self.sections:
            lines += ["", f"## {s.title}: {s.status}", "", s.summary]
            if s.recommendation:
                lines += ["", f"Recommended defense: {s.recommendation}"]
            if s.settings:
                lines += ["", "Settings: " + json.dumps(_jsonable(s.settings))]
        lines += ["", "Versions: " + ", ".join(f"{k} {val}" for k, val in self.versions.items())]
        return "\n".join(lines) + "\n"

    def save_html(self, directory):
        """Writes audit.html (one self-contained page, plots embedded as base64 PNG),
        audit.json and audit.md into `directory`; returns the HTML path."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "audit.html")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(_html.render(self))
        self.to_json(os.path.join(directory, "audit.json"))
        with open(os.path.join(directory, "audit.md"), "w", encoding="utf-8") as handle:
            handle.write(self.to_markdown())
        return path

    def __str__(self):
        rows = [f"Security audit: {'passed' if self.passed else 'FAILED'}"]
        rows += [f"  {threat:<15} {verdict}" for threat, verdict in self.verdicts.items()]
        rows += [f"  - {s.name:<13} {s.status:<8} {s.summary}" for s in self.sections]
        return "\n".join(rows)

    def __repr__(self):
        return f"SecurityAudit(passed={self.passed}, sections={[s.name for s in self.sections]})"
