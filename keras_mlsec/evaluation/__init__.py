"""Robustness evaluation: every attack at every budget in one call, and its report.

    report = evaluate_robustness(model, x_test, y_test, eps=[0.05, 0.1, 0.2])
    print(report)
    report.save("mlsec-report")   # report.json, report.md, robustness.png

With no `attacks`, the worst case is at least as strong as AutoAttack (the
"autoattack" preset, run as a cascade) next to FGSM and PGD reference rows.
The report classes load without TensorFlow; `evaluate_robustness` and the
presets import it on first use.
"""

from keras_mlsec._core.lazy import lazy_exports
from keras_mlsec.evaluation.check_result import CheckResult
from keras_mlsec.evaluation.report import RobustnessReport
from keras_mlsec.evaluation.result_row import ResultRow

__getattr__, __dir__ = lazy_exports(__name__, {
    "evaluate_robustness": "keras_mlsec.evaluation.robustness",
    "PRESETS": "keras_mlsec.evaluation.presets",
})

__all__ = ["CheckResult", "PRESETS", "ResultRow", "RobustnessReport", "evaluate_robustness"]
