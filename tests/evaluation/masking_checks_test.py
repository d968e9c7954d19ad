"""Gradient-masking checks: hand-made rows give each verdict; real models pass or fail."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mlsec import attacks, evaluate_robustness
from keras_mlsec.defenses import FeatureSqueezing, RandomizedSmoothing
from keras_mlsec.evaluation import masking_checks as mc
from keras_mlsec.evaluation.report import RobustnessReport
from test_case import digits, trained_model


def _declared(label):
    """What the attack class behind a row label ("pgd_2" -> PGD) declares, as rows carry it."""
    if label == "worst_case":
        return {}
    cls = attacks.ATTACKS[label.split("_")[0]]
    return {"uses_gradients": cls.uses_gradients, "iterative": cls.iterative, "kind": cls.kind}


def _rows(table):
    return [{"attack": a, "eps": e, "adversarial_accuracy": acc, **_declared(a)}
            for a, e, acc in table]


def test_iterative_versus_single_step_verdicts():
    check = mc.iterative_beats_single_step
    assert check(_rows([("fgsm", 0.1, 0.5), ("pgd", 0.1, 0.3)]))["verdict"] == "pass"
    assert check(_rows([("fgsm", 0.1, 0.5), ("pgd", 0.1, 0.53)]))["verdict"] == "warn"
    assert check(_rows([("fgsm", 0.1, 0.2), ("pgd_2", 0.1, 0.6)]))["verdict"] == "fail"
    assert check(_rows([("pgd", 0.1, 0.2)]))["verdict"] == "skipped"


def test_checks_read_declared_properties_not_names():
    check = mc.iterative_beats_single_step
    rows = [{"attack": "my_step", "eps": 0.1, "adversarial_accuracy": 0.2,
             "uses_gradients": True, "iterative": False},
            {"attack": "my_loop", "eps": 0.1, "adversarial_accuracy": 0.6,
             "uses_gradients": True, "iterative": True}]
    assert check(rows)["verdict"] == "fail"
    rows[0]["iterative"] = True  # now two iterative attacks and no single-step one
    assert check(rows)["verdict"] == "skipped"
    black = [{"attack": "pgd", "eps": 0.1, "adversarial_accuracy": 0.4, "uses_gradients": True},
             {"attack": "oracle", "eps": 0.1, "adversarial_accuracy": 0.1,
              "uses_gradients": False}]
    assert mc.black_box_not_stronger(black)["verdict"] == "fail"


def _stage(label, stage, acc, eps=0.1, **config):
    cls = {"apgd-ce": attacks.APGD, "apgd-t": attacks.APGD, "fab-t": attacks.FAB,
           "square": attacks.SquareAttack}[label]
    return {"attack": label, "eps": eps, "adversarial_accuracy": acc, "cascade": "autoattack",
            "stage": stage, "uses_gradients": cls.uses_gradients, "iterative": cls.iterative,
            "config": config}


def test_targeted_dlr_versus_ce_verdicts():
    check = mc.targeted_dlr_not_much_stronger
    ce, t = {"loss": "ce"}, {"loss": "dlr", "num_target_classes": 9}
    for t_acc, verdict in ((0.48, "pass"), (0.40, "warn"), (0.30, "fail")):
        rows = [_stage("apgd-ce", 1, 0.5, **ce), _stage("apgd-t", 2, t_acc, **t)]
        result = check(rows)
        assert result["verdict"] == verdict, result
    standalone = [{"attack": "a", "eps": 0.1, "adversarial_accuracy": 0.5, "config": ce},
                  {"attack": "b", "eps": 0.1, "adversarial_accuracy": 0.2, "config": t}]
    assert check(standalone)["verdict"] == "fail"
    assert check(standalone[:1])["verdict"] == "skipped"


def test_black_box_stage_of_a_cascade():
    rows = [_stage("apgd-ce", 1, 0.5, loss="ce"), _stage("fab-t", 2, 0.45),
            _stage("square", 3, 0.44)]
    assert mc.black_box_not_stronger(rows)["verdict"] == "pass"
    rows[-1] = _stage("square", 3, 0.30)
    result = mc.black_box_not_stronger(rows)
    assert result["verdict"] == "fail" and "15.0%" in result["reason"]


def test_eps_curve_and_large_eps_verdicts():
    rows = _rows([("worst_case", 0.05, 0.6), ("worst_case", 0.1, 0.3)])
    check = mc.accuracy_falls_with_eps
    assert check(rows, {"eps": 0.5, "accuracy": 0.05}, 0.1)["verdict"] == "pass"
    assert check(rows, {"eps": 0.5, "accuracy": 0.25}, 0.1)["verdict"] == "warn"
    assert check(rows, {"eps": 0.5, "accuracy": 0.9}, 0.1)["verdict"] == "fail"
    assert check(rows)["verdict"] == "skipped"
    rising = _rows([("worst_case", 0.05, 0.3), ("worst_case", 0.1, 0.6)])
    assert check(rising, {"eps": 0.5, "accuracy": 0.0}, 0.1)["verdict"] == "fail"


def test_steps_black_box_gradient_and_randomness_verdicts():
    rerun = {"eps": 0.1, "steps": 20}
    assert mc.more_steps_change_little({**rerun, "accuracy": .5, "accuracy_2x": .49})[
        "verdict"] == "pass"
    assert mc.more_steps_change_little({**rerun, "accuracy": .5, "accuracy_2x": .43})[
        "verdict"] == "warn"
    assert mc.more_steps_change_little({**rerun, "accuracy": .5, "accuracy_2x": .2})[
        "verdict"] == "fail"
    assert mc.more_steps_change_little(None)["verdict"] == "skipped"
    square = _rows([("pgd", 0.1, 0.4), ("square", 0.1, 0.1)])
    assert mc.black_box_not_stronger(square)["verdict"] == "fail"
    assert mc.black_box_not_stronger(_rows([("pgd", 0.1, 0.1), ("square", 0.1, 0.4)]))[
        "verdict"] == "pass"
    skipped = mc.black_box_not_stronger(_rows([("pgd", 0.1, 0.1)]))
    assert skipped["verdict"] == "skipped" and "square" in skipped["reason"].lower()
    stats = {"num_examples": 100, "nan_fraction": 0.0}
    assert mc.gradients_informative({**stats, "zero_fraction": 0.0})["verdict"] == "pass"
    assert mc.gradients_informative({**stats, "zero_fraction": 0.2})["verdict"] == "warn"
    assert mc.gradients_informative({**stats, "zero_fraction": 1.0})["verdict"] == "fail"
    assert mc.gradients_informative({**stats, "zero_fraction": 0.0, "nan_fraction": 0.1})[
        "verdict"] == "fail"
    noisy = {"changed_fraction": 0.2, "max_difference": 1.0}
    assert mc.randomness_handled(noisy, eot_samples=1)["verdict"] == "fail"
    assert mc.randomness_handled({**noisy, "changed_fraction": 0.0})["verdict"] == "warn"
    assert mc.randomness_handled(noisy, eot_samples=10)["verdict"] == "pass"
    assert mc.randomness_handled({"changed_fraction": 0.0, "max_difference": 0.0})[
        "verdict"] == "pass"


class _NaiveRounding(keras.layers.Layer):
    """Bit-depth reduction without a custom gradient: zero input gradient (masking)."""

    def call(self, inputs):
        return tf.round(inputs * 15.0) / 15.0 + 0.0 * inputs


def _evaluate(front, n=100, **kwargs):
    classifier = trained_model("mlp", 8)
    _, (x, y) = digits(8)
    model = keras.Sequential([keras.Input(x.shape[1:]), *front, classifier])
    kwargs.setdefault("attacks", ["fgsm", "pgd"])
    return evaluate_robustness(model, x[:n], y[:n], eps=[0.05, 0.1], verbose=0, **kwargs)


def _verdicts(report):
    return {c["name"]: c["verdict"] for c in report.checks}


def test_rounding_without_bpda_fails_and_honest_model_passes():
    masked = _verdicts(_evaluate([_NaiveRounding()]))
    assert masked["input gradients are non-zero and finite"] == "fail"
    assert masked["accuracy falls toward chance as eps grows"] == "fail"
    honest = _evaluate([])
    verdicts = _verdicts(honest)
    assert verdicts["input gradients are non-zero and finite"] == "pass"
    assert verdicts["iterative beats single-step"] == "pass"
    assert verdicts["accuracy falls toward chance as eps grows"] == "pass"
    assert verdicts["black-box does not beat white-box"] == "skipped"
    assert "fail" not in verdicts.values()
    again = RobustnessReport.from_dict(honest.to_dict())
    assert again.checks == honest.checks
    assert "Gradient-masking checks" in honest.to_markdown() and "[PASS]" in str(honest)


def test_report_lists_bpda_defense():
    report = _evaluate([FeatureSqueezing(bit_depth=4)], n=60, checks=False)
    assert report.checks is None
    (defense,) = report.config["defenses"]
    assert defense["class"] == "FeatureSqueezing" and "BPDA" in defense["gradient"]
    assert report.config["eot_samples"] == 1
    assert "BPDA" in report.to_markdown()


@pytest.mark.slow
def test_randomized_smoothing_is_attacked_with_eot():
    report = _evaluate([RandomizedSmoothing(sigma=0.1, seed=0)], n=60, eot_samples=4)
    (defense,) = report.config["defenses"]
    assert defense["stochastic"] and defense["gradient"] == "EOT over 4 samples"
    assert report.row("pgd", 0.1)["config"]["eot_samples"] == 4
    assert _verdicts(report)["randomness in the model's outputs"] == "pass"
    assert report.notes == []  # FGSM and PGD both use EOT


def test_attacks_without_eot_on_a_random_model_are_flagged():
    with pytest.warns(UserWarning, match="square cannot average its gradients"):
        report = _evaluate([RandomizedSmoothing(sigma=0.1, seed=0)], n=20, eot_samples=2,
                           attacks=["fgsm", "square"], checks=False,
                           attack_params={"square": {"steps": 20}})
    (note,) = report.notes
    assert note.startswith("square") and "RandomizedSmoothing" in note
    assert note in report.to_markdown() and note in str(report)
    assert RobustnessReport.from_dict(report.to_dict()).notes == [note]


def test_bad_check_entries_and_eot_samples():
    with pytest.raises(ValueError, match="verdict"):
        RobustnessReport(clean_accuracy=1.0, results=_rows([("pgd", 0.1, 0.5)]),
                         checks=[{"name": "x", "verdict": "maybe"}])
    with pytest.raises(ValueError, match="eot_samples"):
        _evaluate([], n=10, eot_samples=0)
