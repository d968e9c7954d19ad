"""The audit page opened in a real headless chromium: sections, images, console errors."""

import json
import pathlib
import re
import shutil
import subprocess

import pytest

from keras_mlsec.audit.registry import THREATS

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]

# Put first in <head>: records errors and console.error calls from the start, and on load
# writes what the test asserts into the DOM (the dump cannot read JavaScript state).
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
(function () { var original = console.error; console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, ' '));
  original.apply(console, arguments);
}; })();
window.addEventListener('load', function () {
  var facts = {
    sections: Array.prototype.map.call(document.querySelectorAll('section.audit-section'),
                                       function (s) { return s.id; }),
    threats: Array.prototype.map.call(document.querySelectorAll('tr[id^=threat-]'),
                                      function (r) { return r.id; }),
    images: Array.prototype.map.call(document.images, function (i) {
      return {alt: i.alt, complete: i.complete, width: i.naturalWidth}; }),
    errors: window.__errors};
  var pre = document.createElement('pre'); pre.id = 'km-probe';
  pre.textContent = JSON.stringify(facts); document.body.appendChild(pre);
});
</script>"""


def browse(chromium, page, profile, *extra):
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}",
                           "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0",
                           *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_audit_page_in_headless_chromium(chromium, digits_audit, tmp_path):
    result, html_path = digits_audit
    probed = tmp_path / "probed.html"
    text = open(html_path, encoding="utf-8").read()
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    run = browse(chromium, probed, tmp_path / "profile", "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    match = re.search(r'<pre id="km-probe">(.*?)</pre>', run.stdout, re.S)
    assert match, f"probe missing from the dumped DOM:\n{run.stdout[-2000:]}"
    facts = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&")
                       .replace("&lt;", "<").replace("&gt;", ">"))
    assert facts["sections"] == [f"section-{s.name}" for s in result.sections]
    assert facts["threats"] == [f"threat-{t}" for t in THREATS]
    expected_images = sum(len(s.images) for s in result.sections)
    assert expected_images >= 5 and len(facts["images"]) == expected_images
    for image in facts["images"]:
        assert image["complete"] and image["width"] > 0, image
    assert facts["errors"] == []
    console_errors = [line for line in run.stderr.splitlines()
                      if "CONSOLE" in line and ("ERROR" in line or "Uncaught" in line)]
    assert console_errors == []

    screenshot = tmp_path / "audit.png"
    shot = browse(chromium, pathlib.Path(html_path), tmp_path / "profile2",
                  f"--screenshot={screenshot}", "--window-size=1280,2400", "--hide-scrollbars")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copy(screenshot, tmp_path.parent / "audit-screenshot.png")  # kept for a look


@pytest.mark.slow
def test_every_section_reports_a_status_and_reasons(digits_audit):
    result, _ = digits_audit
    names = [s.name for s in result.sections]
    assert names == ["backdoor", "robustness", "extraction", "membership", "inversion",
                     "static_scan", "drift", "fairness", "explanations"]
    fairness = result.section("fairness")
    assert fairness.status == "not_run" and "protected" in fairness.reason
    assert result.section("static_scan").status == "passed"
    assert result.section("explanations").status == "info"
    for section in result.sections:
        assert section.status != "error", section.reason
        if section.status == "failed":
            assert section.recommendation
    assert result.verdicts["training_time"] in ("pass", "fail")  # the backdoor scan ran
    assert set(result.section("backdoor").evidence) >= {"anomaly_index", "flagged_classes"}
    extraction = result.section("extraction")
    assert extraction.settings["query_budget"] == 300
    assert 0.0 <= extraction.evidence["agreement"] <= 1.0
    assert result.verdicts["extraction"] == ("pass" if extraction.status == "passed" else "fail")
    lira = result.section("membership").evidence
    assert set(lira) >= {"loss", "lira-offline"}
