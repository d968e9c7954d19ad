"""JSON serialization shared by the report classes (robustness, membership)."""

import json
import os


class JSONReport:
    """Mixin: `to_json`/`from_json` on top of a class's `to_dict`/`from_dict`."""

    def to_json(self, path=None, *, indent=2):
        """Returns the report as a JSON string, also written to `path` when given."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path):
        """Rebuilds a report from a JSON string or the path of a JSON file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{") and os.path.exists(text):
            with open(text, encoding="utf-8") as f:
                text = f.read()
        return cls.from_dict(json.loads(text))
