"""One self-contained HTML page for a `SecurityAudit` (inline CSS, base64 images, no scripts)."""

import base64
import html
import json

from keras_mlsec.audit.registry import THREATS

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:70em;
color:#1b1b1b;padding:0 1em}
h1{margin-bottom:.2em}table{border-collapse:collapse;margin:.8em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.badge{display:inline-block;padding:.1em .6em;border-radius:.8em;font-weight:600;font-size:.9em}
.passed,.pass{background:#d8f3dc;color:#1b4332}.failed,.fail{background:#ffd6d6;color:#7a0000}
.info{background:#dbe9ff;color:#0b3a80}.not_run,.not_assessed{background:#eee;color:#444}
.error{background:#ffe8b3;color:#6b4500}
section{border:1px solid #ddd;border-radius:.5em;padding:.4em 1.2em 1em;margin:1.2em 0}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.4em 0}
pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:22em;font-size:.85em}
.advice{border-left:4px solid #c00;padding:.2em .8em;background:#fff4f4}
"""


def _badge(status):
    return f'<span class="badge {html.escape(status)}">{html.escape(status)}</span>'


def _section(result):
    e = html.escape
    parts = [f'<section id="section-{e(result.name)}" class="audit-section" '
             f'data-status="{e(result.status)}" data-threat="{e(result.threat)}">',
             f"<h2>{e(result.title)} {_badge(result.status)}</h2>",
             f"<p>{e(result.summary)}</p>"]
    if result.reason and result.status in ("not_run", "error"):
        parts.append(f"<p><strong>Why:</strong> {e(result.reason)}</p>")
    if result.recommendation:
        parts.append(f'<p class="advice"><strong>Recommended defense:</strong> '
                     f"{e(result.recommendation)}</p>")
    for caption, png in result.images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    if result.settings:
        parts.append("<details><summary>Settings</summary><pre>"
                     + e(json.dumps(result.to_dict()["settings"], indent=1, default=repr))
                     + "</pre></details>")
    if result.evidence:
        parts.append("<details><summary>Evidence</summary><pre>"
                     + e(json.dumps(result.to_dict()["evidence"], indent=1, default=repr))
                     + "</pre></details>")
    parts.append(f"<p><small>{result.seconds:.1f} s</small></p></section>")
    return "\n".join(parts)


def render(audit):
    """The audit as a complete HTML document (a string)."""
    e = html.escape
    verdict = "passed" if audit.passed else "failed"
    rows = []
    for threat, status in audit.verdicts.items():
        names = ", ".join(f'<a href="#section-{e(s.name)}">{e(s.name)}</a>'
                          for s in audit.sections if s.threat == threat) or "no section yet"
        rows.append(f'<tr id="threat-{e(threat)}"><td>{e(THREATS[threat])}</td>'
                    f"<td>{_badge(status)}</td><td>{names}</td></tr>")
    versions = ", ".join(f"{e(k)} {e(str(val))}" for k, val in audit.versions.items())
    body = "\n".join(_section(s) for s in audit.sections)
    settings = e(json.dumps(audit.settings, indent=1, default=repr))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keras_mlsec security audit</title><style>{_CSS}</style></head>
<body>
<h1>Security audit {_badge(verdict)}</h1>
<p>One page per model: every check of the threat taxonomy, its evidence and settings, and the
defense to apply where a gate failed. Threats without a section that ran are "not_assessed",
never passed.</p>
<table id="verdicts"><tr><th>threat</th><th>verdict</th><th>sections</th></tr>
{"".join(rows)}</table>
{body}
<section id="section-settings" class="meta"><h2>Settings and versions</h2>
<p>{versions}</p><pre>{settings}</pre></section>
</body></html>
"""
