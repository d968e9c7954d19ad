"""Robustness evaluation: every attack at every budget in one call, and its report.

    report = evaluate_robustness(model, x_test, y_test, eps=[0.05, 0.1, 0.2])
    print(report)
    report.save("mlsec-report")   # report.json, report.md, robustness.png
"""

from keras_mlsec.evaluation.report import RobustnessReport
from keras_mlsec.evaluation.robustness import evaluate_robustness

__all__ = ["RobustnessReport", "evaluate_robustness"]
