"""`CheckResult`: the verdict of one gradient-masking check, typed, with `to_dict`."""

import dataclasses

VERDICTS = ("pass", "warn", "fail", "skipped")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One gradient-masking check: its name, verdict and the reason in words.

    Reads like the dict checks of earlier versions (`check["verdict"]`).

    Attributes:
        name: what is checked, e.g. "iterative beats single-step".
        verdict: "pass", "warn", "fail" or "skipped" (the check needed an
            attack or measurement that was not run; nothing is faked).
        reason: the measured numbers behind the verdict.

    Raises:
        ValueError: for a verdict outside `VERDICTS`.
    """

    name: str
    verdict: str
    reason: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"Expected `verdict` in {VERDICTS}. Received: verdict="
                             f"{self.verdict!r} (check {self.name!r})")

    @property
    def passed(self):
        """True for "pass" and "skipped" (nothing found), False for "warn" and "fail"."""
        return self.verdict in ("pass", "skipped")

    def to_dict(self):
        """`{"name", "verdict", "reason"}`."""
        return {"name": self.name, "verdict": self.verdict, "reason": self.reason}

    @classmethod
    def from_dict(cls, data):
        """A check from `to_dict` output (or a `CheckResult`).

        Raises:
            ValueError: when `data` lacks "name" or has a bad "verdict".
        """
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict) or "name" not in data or "verdict" not in data:
            raise ValueError(f"Expected every check to be a dict with 'name', 'reason' and a "
                             f"'verdict' in {VERDICTS}. Received: {data!r}")
        return cls(str(data["name"]), data["verdict"], str(data.get("reason", "")))

    def __getitem__(self, key):
        if key not in ("name", "verdict", "reason"):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key, default=None):
        """`check[key]`, or `default` for another key."""
        return getattr(self, key) if key in ("name", "verdict", "reason") else default
