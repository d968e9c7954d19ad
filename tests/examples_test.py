"""Runs every script in examples/ end to end, so that they cannot rot silently.

Each example runs in a subprocess whose working directory (and TMPDIR) is the
test's tmp_path: the examples that write report files write them relative to
the current directory, so nothing lands in the repository. Each one takes
5-30 s on a 2-core CPU.
"""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
TIMEOUT_S = 300

# example -> (regular expressions its output must match, files it must write in cwd)
CASES = {
    "attacks": ([r"clean accuracy: [01]\.\d{3}",
                 r"PGD\s+adversarial accuracy [01]\.\d{3}",
                 r"targeted PGD \(eps 0\.3\) reaches the target on [\d.]+% of inputs"], []),
    "evaluate_robustness": ([r"Robustness report \(reference_cnn",
                             r"Reloaded: worst-case accuracy [\d.]+% at eps=0\.2"],
                            ["robustness-report/report.json", "robustness-report/report.md",
                             "robustness-report/robustness.png"]),
    "defenses": ([r"JPEGCompression\s+[01]\.\d{3}\s+[01]\.\d{3}\s+[01]\.\d{3}",
                  r"certified accuracy at L2 radius 0\.50: [01]\.\d\d"], []),
    "adversarial_training": ([r"(?m)^madry\s+[01]\.\d{3}\s+[01]\.\d{3}",
                              r"(?m)^fgsm_rs\s+[01]\.\d{3}\s+[01]\.\d{3}"], []),
    "private_adversarial_training": ([r"(?m)^DP only\s+[\d.]+\s+[01]\.\d{3}\s+[01]\.\d{3}",
                                      r"(?m)^DP \+ PGD-5\s+[\d.]+\s+[01]\.\d{3}\s+[01]\.\d{3}"],
                                     []),
    "private_training": ([r"epsilon spent \(RDP\): [\d.]+",
                          r"saved and reloaded a \.keras file: same predictions = True"], []),
    "model_inversion": ([r"closest to their own class mean: \d+/10"],
                        ["model_inversion_digits.png"]),
    "membership_inference": ([r"(?m)^lira\s+[01]\.\d{3}",
                              r"strongest attack: \w+; log-log ROC written to"], []),
    "sign_and_verify": ([r"verified best\.keras: epoch \d+",
                         r"tampered copy refused \(hash_mismatch\)",
                         r"signed but unsafe model refused \(unsafe_model\)"], []),
    "federated": ([r"fedavg\s+accuracy [01]\.\d{3}, rejected updates 0",
                   r"krum\s+accuracy [01]\.\d{3}",
                   r"fedavg \+ norm screening\s+accuracy [01]\.\d{3}, rejected updates [1-9]",
                   r"DP-FedAvg: \d+ rounds before epsilon 5 would be exceeded"],
                  ["federated_rounds.png"]),
    "model_extraction": ([r"knockoff: 500 queries, agreement [01]\.\d{3}",
                          r"extract_linear: \d+ queries, max weight error",
                          r"transfer PGD eps=0\.2: [\d.]+% of the victim's correct answers",
                          r"thief stopped after \d+ queries"], []),
    "drift_monitoring": ([r"clean:\s+drift_detected=False \(0 of 64 pixels flagged\)",
                          r"on_drift called 0 time\(s\) for clean traffic",
                          r"on_drift called [1-9]\d* time\(s\) for faulty camera traffic"],
                         ["drift-example/drift_report.json", "drift-example/drift_report.png"]),
    "governance": ([r"signed checkpoint with ML-BOM: \d+ components, data \['digits-train'\]",
                    r"refused with other training data \(provenance_mismatch\)",
                    r"model card: clean_accuracy = [01]\.\d{3}",
                    r"audit log verified: 8 records, events .*'drift_alert'",
                    r"edited audit log detected at line 4 \(chain_broken\)"], []),
    "poisoning": ([r"training set: 3 clean points \+ 2 mislabeled",
                   r"moved by \+\d\.\d\d",
                   r"clean\s+model: test point \(1\.2, 0\) -> class 1",
                   r"poisoned model: test point \(1\.2, 0\) -> class 0"],
                  ["poisoning_boundary.png"]),
    "fairness": ([r"(?m)^adversarial\s+[+-]\d\.\d{3}\s+\d\.\d{3}\s+[01]\.\d{3}",
                  r"(?m)^eq-odds post\s+[+-]\d\.\d{3}",
                  r"top features of the plain model: \w+"],
                 ["fairness_plain.png", "shap_plain.png"]),
    "audit": ([r"Security audit: (passed|FAILED)",
               r"verdicts: \{'training_time': '(pass|fail|not_assessed)'",
               r"wrote audit-report/audit.html"],
              ["audit-report/audit.html", "audit-report/audit.json", "audit-report/audit.md"]),
}


def test_every_example_is_covered():
    scripts = sorted(name[:-3] for name in os.listdir(EXAMPLES) if name.endswith(".py"))
    assert scripts == sorted(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs(name, tmp_path):
    patterns, outputs = CASES[name]
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg", TMPDIR=str(temp),
               PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, f"{name}.py")],
                            cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{name}.py exited with {result.returncode}:\n{output[-4000:]}"
    for pattern in patterns:
        assert re.search(pattern, result.stdout), (
            f"{name}.py output lacks /{pattern}/:\n{result.stdout[-4000:]}")
    for path in outputs:
        assert (tmp_path / path).is_file(), f"{name}.py did not write {path} in its cwd"
