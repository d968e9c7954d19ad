"""CycloneDX model-card metrics from this package's reports.

Each known report becomes a list of CycloneDX `performanceMetric` objects
(`{"type", "value", "slice"}`, values as strings, as the schema asks):
robust accuracy from a `RobustnessReport`, epsilon and delta from a
`PrivacyBudget`, the membership AUC from a `MembershipReport`, and the
fairness metrics from a `FairnessReport` of `keras_mlsec.responsible`.
"""

import importlib
import math
import numbers

from keras_mlsec.attacks.privacy.membership_report import MembershipReport
from keras_mlsec.callbacks.privacy_budget import PrivacyBudget
from keras_mlsec.evaluation.report import WORST_CASE, RobustnessReport

FAIRNESS_METRICS = ("disparate_impact", "statistical_parity_difference",
                    "equal_opportunity_difference", "average_odds_difference", "theil_index")
KNOWN = "RobustnessReport, PrivacyBudget, MembershipReport or FairnessReport"


def _value(number):
    number = float(number)
    return repr(number) if math.isfinite(number) else str(number)


def _metric(kind, value, slice_=None):
    metric = {"type": kind, "value": _value(value)}
    if slice_:
        metric["slice"] = slice_
    return metric


def robustness_metrics(report):
    metrics = [_metric("clean_accuracy", report.clean_accuracy,
                       f"{report.num_examples or '?'} examples")]
    attacks = ", ".join(report.attacks)
    for row in report.results:
        if row["adversarial_accuracy"] is None:
            continue
        if row["attack"] == WORST_CASE:
            metrics.append(_metric("robust_accuracy", row["adversarial_accuracy"],
                                   f"worst case over {attacks}; {report.norm} eps={row['eps']:g}"))
        else:
            metrics.append(_metric("adversarial_accuracy", row["adversarial_accuracy"],
                                   f"{row['attack']}; {report.norm} eps={row['eps']:g}"))
    if not any(m["type"] == "robust_accuracy" for m in metrics):
        metrics.append(_metric("robust_accuracy", report.robust_accuracy,
                               f"weakest attack result; {report.norm} eps={report.max_eps:g}"))
    return metrics


def privacy_metrics(facts):
    """Metrics from `PrivacyBudget.metadata()` (the dict a DP model carries)."""
    setting = (f"DP-SGD, {facts.get('accountant')} accountant, {facts.get('steps')} steps, "
               f"noise multiplier {facts.get('noise_multiplier')}, sampling "
               f"{facts.get('sampling')} at rate {facts.get('sampling_rate')}")
    metrics = [_metric("epsilon", facts["epsilon"], setting),
               _metric("delta", facts["delta"], setting)]
    if facts.get("target_epsilon") is not None:
        metrics.append(_metric("target_epsilon", facts["target_epsilon"], setting))
    return metrics


def membership_metrics(report):
    setting = (f"{report.method} attack; {report.num_members} members, "
               f"{report.num_non_members} non-members")
    metrics = [_metric("membership_inference_auc", report.auc, setting),
               _metric("membership_inference_advantage", report.advantage, setting)]
    metrics += [_metric("membership_inference_tpr", value, f"{setting}; fpr<={level:g}")
                for level, value in report.tpr_at_fpr.items()]
    return metrics


def fairness_metrics(report):
    data = report.to_dict()
    found = {}
    for source in (data, data.get("metrics") if isinstance(data.get("metrics"), dict) else {}):
        for name in FAIRNESS_METRICS:
            value = source.get(name)
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                found.setdefault(name, value)
    protected = data.get("protected", data.get("protected_attribute"))
    setting = "fairness" if protected is None else f"protected attribute {protected}"
    return [_metric(name, found[name], setting) for name in FAIRNESS_METRICS if name in found]


def _fairness_class():
    """`keras_mlsec.responsible.FairnessReport` when that package is installed, else None."""
    try:
        module = importlib.import_module("keras_mlsec.responsible")
    except ImportError:
        return None
    return getattr(module, "FairnessReport", None)


def report_metrics(report, index):
    """The performance metrics of `reports[index]`, or TypeError naming it."""
    if isinstance(report, RobustnessReport):
        return robustness_metrics(report)
    if isinstance(report, PrivacyBudget):
        return privacy_metrics(report.metadata())
    if isinstance(report, MembershipReport):
        return membership_metrics(report)
    if type(report).__name__ == "FairnessReport" and callable(getattr(report, "to_dict", None)):
        fairness = _fairness_class()
        # Checked by class when keras_mlsec.responsible is installed; by its name and
        # to_dict only in a build without it.
        if fairness is None or isinstance(report, fairness):
            return fairness_metrics(report)
    raise TypeError(f"Expected every item of `reports` to be a {KNOWN}. Received: "
                    f"reports[{index}] of type {type(report).__name__}")


__all__ = ["report_metrics", "privacy_metrics"]
