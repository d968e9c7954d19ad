import base64
import json

import matplotlib
import pytest

from keras_mlsec.audit import SecurityAudit, SectionResult, register_section
from keras_mlsec.audit import runner  # noqa: F401 - registers the built-in sections
from keras_mlsec.audit._html import render

matplotlib.use("Agg")


def png_bytes(tmp_path):
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(2, 1))
    axis.plot([0, 1], [0, 1])
    path = tmp_path / "line.png"
    fig.savefig(path)
    plt.close(fig)
    return path.read_bytes()


def results(tmp_path):
    return [
        SectionResult(name="robustness", threat="inference_time", title="Robustness",
                      status="failed", summary="5% at eps 0.2", evidence={"robust": 0.05},
                      recommendation="Adversarial training", images={"curve": png_bytes(tmp_path)}),
        SectionResult(name="drift", threat="mlops", title="Drift", status="passed",
                      summary="no drift"),
        SectionResult(name="fairness", threat="responsible_ai", title="Fairness",
                      status="not_run", reason="no protected attribute"),
        SectionResult(name="explanations", threat="responsible_ai", title="SHAP", status="info"),
    ]


def test_verdicts_never_pass_a_threat_by_default(tmp_path):
    audit = SecurityAudit(sections=results(tmp_path))
    assert audit.verdicts == {"training_time": "not_assessed", "inference_time": "fail",
                              "extraction": "not_assessed", "privacy": "not_assessed",
                              "mlops": "pass", "responsible_ai": "not_assessed"}
    assert audit.failures == ["robustness"] and not audit.passed
    assert audit.section("drift").status == "passed"
    with pytest.raises(KeyError, match="Received: name='nope'"):
        audit.section("nope")


def test_json_markdown_and_html(tmp_path):
    audit = SecurityAudit(sections=results(tmp_path), settings={"seed": 0},
                          versions={"keras": "3"})
    again = SecurityAudit.from_json(audit.to_json())
    assert again.verdicts == audit.verdicts and json.loads(audit.to_json())["passed"] is False
    markdown = audit.to_markdown()
    assert "Recommended defense: Adversarial training" in markdown
    assert "| Training-time attacks (poisoning, backdoors) | not_assessed | none yet |" in markdown
    page = render(audit)
    for name in ("robustness", "drift", "fairness", "explanations"):
        assert f'id="section-{name}"' in page
    encoded = base64.b64encode(png_bytes(tmp_path)).decode()
    assert f"data:image/png;base64,{encoded}" in page
    assert "no protected attribute" in page and "<script" not in page
    path = audit.save_html(str(tmp_path / "report"))
    assert path.endswith("audit.html")
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"audit.html", "audit.json",
                                                                 "audit.md"}


def test_bad_sections_and_registrations_are_refused():
    with pytest.raises(ValueError, match="`status` to be one of"):
        SectionResult(name="x", threat="mlops", title="x", status="ok")
    with pytest.raises(ValueError, match="`reason` for a section that did not run"):
        SectionResult(name="x", threat="mlops", title="x", status="not_run")
    with pytest.raises(ValueError, match="`threat` to be one of"):
        register_section("x", threat="weather", title="x")
    with pytest.raises(ValueError, match="already registered"):
        register_section("robustness", threat="inference_time", title="again")(lambda c: None)
