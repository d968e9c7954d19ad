"""Robustness evaluation: every attack at every budget in one call, and its report.

    report = evaluate_robustness(model, x_test, y_test, eps=[0.05, 0.1, 0.2])
    print(report)
    report.save("mlsec-report")   # report.json, report.md, robustness.png

With no `attacks`, the worst case is at least as strong as AutoAttack (the
"autoattack" preset, run as a cascade) next to FGSM and PGD reference rows.
"""

from keras_mlsec.evaluation.check_result import CheckResult
from keras_mlsec.evaluation.presets import PRESETS
from keras_mlsec.evaluation.report import RobustnessReport
from keras_mlsec.evaluation.result_row import ResultRow
from keras_mlsec.evaluation.robustness import evaluate_robustness

__all__ = ["CheckResult", "PRESETS", "ResultRow", "RobustnessReport", "evaluate_robustness"]
