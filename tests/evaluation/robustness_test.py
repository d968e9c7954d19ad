import numpy as np
import pytest
from test_case import accuracy, digits, predictions, trained_model

import keras_mlsec as km
from keras_mlsec.attacks import Attack
from keras_mlsec.evaluation import RobustnessReport, evaluate_robustness

EPS = [0.02, 0.05, 0.1, 0.2]


def roll_examples(model, x, y=None, *, eps=None, seed=None):
    """A fake "attack": example i becomes example i-1 (so its correctness is known)."""
    return np.roll(np.asarray(x), 1, axis=0)


class RollAttack(Attack):
    attack_fn = roll_examples
    name = "roll"

    def __init__(self, *, eps=0.1):
        self.eps = eps


class MinimumNormRoll(Attack):
    """A budget-free attack (no `eps`), like Carlini-Wagner."""
    attack_fn = roll_examples
    name = "min_roll"
    kind = "minimum_norm"

    def __init__(self, *, seed=None):
        self.seed = seed


def data(n=120):
    _, (x_test, y_test) = digits()
    return x_test[:n], y_test[:n]


@pytest.fixture(scope="module")
def report():
    x, y = data()
    return evaluate_robustness(trained_model(), x, y, attacks=["fgsm", "pgd"], eps=EPS,
                               attack_params={"pgd": {"steps": 10}}, verbose=0)


def test_rows_for_every_attack_and_eps_plus_worst_case(report):
    pairs = {(r["attack"], r["eps"]) for r in report.results}
    assert pairs == {(a, e) for a in ("fgsm", "pgd", "worst_case") for e in EPS}
    assert len(report.results) == 3 * len(EPS)
    assert report.attacks == ["fgsm", "pgd"]
    assert report.eps_values == EPS


def test_clean_accuracy_matches_hand_computation(report):
    x, y = data()
    assert report.clean_accuracy == pytest.approx(accuracy(trained_model(), x, y))
    assert report.num_examples == len(x) == report.config["num_examples"]


def test_worst_case_is_at_most_every_attack(report):
    for e in EPS:
        worst = report.accuracy("worst_case", e)
        assert worst <= report.accuracy("fgsm", e) + 1e-12
        assert worst <= report.accuracy("pgd", e) + 1e-12
    assert report.robust_accuracy == report.accuracy("worst_case", max(EPS))
    assert report.robustness_gap == pytest.approx(report.clean_accuracy - report.robust_accuracy)


def test_pgd_accuracy_does_not_increase_with_eps(report):
    accuracies = [report.accuracy("pgd", e) for e in EPS]
    assert all(b <= a for a, b in zip(accuracies, accuracies[1:])), accuracies
    assert accuracies[-1] < report.clean_accuracy - 0.3  # a 0.2 budget breaks the digits MLP


def test_rows_carry_norms_rates_times_and_hyper_parameters(report):
    for r in report.results:
        assert r["max_perturbation"] <= r["eps"] + 1e-5
        assert 0 <= r["mean_perturbation"] <= r["max_perturbation"]
        assert r["seconds"] >= 0
        assert r["adversarial_accuracy"] <= report.clean_accuracy
        gap = report.clean_accuracy - r["adversarial_accuracy"]
        assert r["robustness_gap"] == pytest.approx(gap)
        assert r["success_rate"] == pytest.approx(
            r["robustness_gap"] / report.clean_accuracy, abs=1e-9)
    pgd = report.row("pgd", 0.1)
    assert pgd["config"]["steps"] == 10 and pgd["config"]["eps"] == 0.1
    assert pgd["config"]["norm"] == "linf"
    assert report.config["attack_params"] == {"pgd": {"steps": 10}}
    assert report.config["model_name"] == trained_model().name
    assert {"keras", "tensorflow", "numpy", "keras_mlsec"} <= set(report.config["versions"])


def test_robust_needs_correct_clean_and_adversarial_prediction():
    x, y = data(60)
    model = trained_model()
    report = evaluate_robustness(model, x, y, attacks=[RollAttack()], eps=[0.1, 0.3], verbose=0)
    clean_ok = predictions(model, x) == y
    rolled_ok = predictions(model, np.roll(x, 1, axis=0)) == y
    expected = np.mean(clean_ok & rolled_ok)
    assert report.accuracy("roll", 0.3) == pytest.approx(expected)
    assert report.accuracy("worst_case", 0.1) == pytest.approx(expected)
    assert report.row("roll", 0.3)["config"]["eps"] == 0.3


def test_minimum_norm_attack_counts_only_perturbations_within_eps():
    x, y = data(60)
    model = trained_model()
    delta = (np.roll(x, 1, axis=0) - x).reshape(len(x), -1)
    distances = np.sqrt((delta.astype(np.float64) ** 2).sum(1))
    eps = [float(np.quantile(distances, 0.25)), float(np.quantile(distances, 0.75))]
    report = evaluate_robustness(model, x, y, attacks=[MinimumNormRoll()], eps=eps, norm="l2",
                                 verbose=0)
    clean_ok = predictions(model, x) == y
    fooled = predictions(model, np.roll(x, 1, axis=0)) != y
    for e in eps:
        expected = np.mean(clean_ok & ~(fooled & (distances <= e)))
        row = report.row("min_roll", e)
        assert row["adversarial_accuracy"] == pytest.approx(expected)
        assert row["minimum_norm"] is True
        assert row["max_perturbation"] <= e + 1e-6
    assert report.accuracy("min_roll", eps[1]) < report.accuracy("min_roll", eps[0])
    assert report.row("min_roll", eps[1])["config"] == {"seed": None}


def test_minimum_norm_attack_by_name_runs_once_and_joins_the_worst_case():
    x, y = data(30)
    report = evaluate_robustness(trained_model(), x, y, attacks=["pgd", "cw"], eps=[0.5, 2.0],
                                 norm="l2", verbose=0,
                                 attack_params={"pgd": {"steps": 5},
                                                "cw": {"steps": 10, "binary_search_steps": 2}})
    cw = [report.row("cw", e) for e in (0.5, 2.0)]
    assert all(r["minimum_norm"] and "eps" not in r["config"] for r in cw)
    assert cw[0]["config"]["steps"] == 10
    assert cw[1]["adversarial_accuracy"] <= cw[0]["adversarial_accuracy"]
    for e in (0.5, 2.0):
        assert report.accuracy("worst_case", e) <= min(report.accuracy("cw", e),
                                                       report.accuracy("pgd", e))


def test_attack_objects_scalar_eps_and_progress_lines(capsys):
    x, y = data(40)
    report = evaluate_robustness(trained_model(), x, y, attacks=[km.attacks.FGSM(eps=0.5)],
                                 eps=0.1, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "fgsm" in lines[0] and "eps=0.1" in lines[0]
    assert isinstance(report, RobustnessReport)
    assert report.row("fgsm", 0.1)["max_perturbation"] <= 0.1 + 1e-6


def test_silent_with_verbose_zero(capsys):
    x, y = data(20)
    evaluate_robustness(trained_model(), x, y, attacks=["fgsm"], eps=[0.1], verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("kwargs, error, match", [
    ({"attacks": ["nope"]}, ValueError, "attacks"),
    ({"attacks": [3]}, TypeError, "attacks"),
    ({"eps": -0.1}, ValueError, "eps=-0.1"),
    ({"eps": []}, ValueError, "eps"),
    ({"norm": "l3"}, ValueError, "norm"),
    ({"attack_params": {"pgd": {"bogus": 1}}}, ValueError, "attack_params"),
    ({"attack_params": {"mim": {"steps": 1}}}, ValueError, "attack_params"),
    ({"attack_params": {"pgd": {"eps": 1}}}, ValueError, "eps"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    x, y = data(10)
    with pytest.raises(error, match=match):
        evaluate_robustness(trained_model(), x, y, **{"attacks": ["pgd"], **kwargs}, verbose=0)


def test_labels_are_required_and_checked():
    x, y = data(10)
    with pytest.raises(ValueError, match="y=None"):
        evaluate_robustness(trained_model(), x, None, verbose=0)
    with pytest.raises(ValueError, match="`y`"):
        evaluate_robustness(trained_model(), x, y[:5], verbose=0)
    with pytest.raises(ValueError, match="clip"):
        evaluate_robustness(trained_model(), x * 255, y, verbose=0)
    with pytest.raises(TypeError, match="model"):
        evaluate_robustness(lambda v: v, x, y, verbose=0)


def test_top_level_exports():
    assert km.evaluate_robustness is evaluate_robustness
    assert km.RobustnessReport is RobustnessReport


def test_bad_hyper_parameter_fails_before_any_attack_runs(capsys):
    x, y = data(10)
    with pytest.raises(ValueError, match="steps"):
        evaluate_robustness(trained_model(), x, y, attacks=["fgsm", "pgd"],
                            attack_params={"pgd": {"steps": 0}}, verbose=1)
    assert capsys.readouterr().out == ""


def test_attack_norm_must_match_the_evaluation_norm():
    x, y = data(10)
    with pytest.raises(ValueError, match="norm='l2'"):
        evaluate_robustness(trained_model(), x, y, attacks=[km.attacks.PGD(eps=1.0, norm="l2")],
                            norm="linf", verbose=0)


def test_attack_params_reach_the_masking_checks_whatever_the_spelling():
    model = trained_model("mlp", 8)
    _, (x, y) = digits(8)
    report = evaluate_robustness(model, x[:40], y[:40], attacks=["PGD"], eps=0.1, verbose=0,
                                 attack_params={"PGD": {"steps": 5}})
    assert report.row("pgd", 0.1)["config"]["steps"] == 5
    (doubling,) = [c for c in report.checks if c["name"] == "doubling steps changes little"]
    assert "with 5 steps" in doubling["reason"] and "with 10" in doubling["reason"]


def test_verbose_one_shows_a_progress_bar_over_stages(capsys):
    x, y = data(20)
    evaluate_robustness(trained_model(), x, y, attacks=["fgsm", "pgd"], eps=[0.1, 0.2],
                        verbose=1, checks=False, attack_params={"pgd": {"steps": 2}})
    out = capsys.readouterr().out
    assert "4/4" in out and "stage" in out and "adversarial accuracy" not in out


def test_attack_kind_is_read_from_the_class_not_the_signature():
    class BudgetFree(RollAttack):  # takes eps, but declares itself minimum-norm
        kind = "minimum_norm"
        name = "budget_free"

    x, y = data(30)
    report = evaluate_robustness(trained_model(), x, y, attacks=[BudgetFree()], eps=[0.1],
                                 norm="l2", verbose=0, checks=False)
    row = report.row("budget_free", 0.1)
    assert row["minimum_norm"] is True and row["kind"] == "minimum_norm"
    assert row["max_perturbation"] <= 0.1 + 1e-6


@pytest.mark.parametrize("kwargs, error, match", [
    ({"attacks": "autoattak"}, ValueError, "autoattack"),
    ({"attacks": ["autoattack", "autoattack-rand"]}, ValueError, "at most one preset"),
    ({"attacks": "autoattack", "attack_params": {"autoattack": {"steps": 1}}}, ValueError,
     "attack_params"),
    ({"attacks": "autoattack", "attack_params": {"apgd-t": {"num_target_classes": 12}}},
     ValueError, "num_target_classes"),
    ({"attacks": [km.attacks.APGD(eps=0.1, num_target_classes=10)]}, ValueError,
     "num_target_classes=10"),
    ({"attacks": "autoattack", "attack_params": {"fab-t": {"bogus": 1}}}, ValueError,
     "attack_params"),
    ({"verbose": 3}, ValueError, "verbose=3"),
])
def test_bad_presets_name_the_argument(kwargs, error, match, capsys):
    x, y = data(10)
    with pytest.raises(error, match=match):
        evaluate_robustness(trained_model(), x, y, **{"verbose": 0, **kwargs})
    assert "eps=" not in capsys.readouterr().out  # nothing ran


FAST_AUTOATTACK = {"apgd-ce": {"steps": 5}, "apgd-t": {"steps": 5, "num_target_classes": 2},
                   "fab-t": {"steps": 5, "num_target_classes": 2}, "square": {"steps": 30}}


@pytest.fixture(scope="module")
def default_report():
    x, y = data(60)
    return evaluate_robustness(trained_model(), x, y, eps=[0.05, 0.1], verbose=0,
                               attack_params={"pgd": {"steps": 5}, **FAST_AUTOATTACK})


@pytest.mark.slow
def test_default_runs_reference_rows_and_the_autoattack_cascade(default_report):
    report = default_report
    assert report.attacks == ["fgsm", "pgd", "apgd-ce", "apgd-t", "fab-t", "square"]
    assert report.config["preset"] == "autoattack" and report.config["random_outputs"] is False
    assert report.config["cascade"] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    for e in (0.05, 0.1):
        stages = [report.row(a, e) for a in report.config["cascade"]]
        assert [r["stage"] for r in stages] == [1, 2, 3, 4]
        accuracies = [r["adversarial_accuracy"] for r in stages]
        assert accuracies == sorted(accuracies, reverse=True)  # robust after each stage
        assert not report.row("fgsm", e).get("cascade")
        worst = report.row("worst_case", e)
        assert worst["adversarial_accuracy"] <= min(accuracies[-1], report.accuracy("pgd", e))
    fab = report.row("fab-t", 0.1)
    assert fab["kind"] == "minimum_norm" and fab["max_perturbation"] <= 0.1 + 1e-6
    assert report.row("square", 0.1)["uses_gradients"] is False


@pytest.mark.slow
def test_cascade_counts_and_broken_by_agree(default_report):
    report = default_report
    clean_wrong = round((1 - report.clean_accuracy) * report.num_examples)
    for e in (0.05, 0.1):
        broken_by = report.row("worst_case", e)["broken_by"]
        assert len(broken_by) == report.num_examples
        assert broken_by.count("clean") == clean_wrong
        robust = report.accuracy("worst_case", e) * report.num_examples
        assert broken_by.count(None) == round(robust)
        last = report.row("square", e)
        assert last["num_robust"] >= round(robust)
    # At the larger eps the cascade starts from the survivors of the smaller one.
    small, large = (report.row("worst_case", e)["broken_by"] for e in (0.05, 0.1))
    stages = set(report.config["cascade"])
    assert all(b == a for a, b in zip(small, large) if a in stages)
    summary = dict(report.cascade_summary())
    assert [s[0] for s in summary[0.1]] == report.config["cascade"]
    markdown = report.to_markdown()
    assert "## Cascade (autoattack)" in markdown and "apgd-t" in markdown
    assert RobustnessReport.from_json(report.to_json()).to_dict() == report.to_dict()
    names = [c["name"] for c in report.checks]
    assert "targeted DLR not much stronger than CE" in names


@pytest.mark.slow
def test_cascade_false_runs_every_attack_on_every_example():
    x, y = data(40)
    kwargs = dict(attacks=["autoattack"], eps=[0.1], verbose=0, checks=False,
                  attack_params={"apgd-ce": {"steps": 5}, "apgd-t": {"steps": 5,
                                 "num_target_classes": 2}, "fab-t": {"steps": 5,
                                 "num_target_classes": 2}, "square": {"steps": 30}})
    alone = evaluate_robustness(trained_model(), x, y, cascade=False, **kwargs)
    assert alone.config["preset"] == "autoattack" and alone.config["cascade"] == []
    assert all(not r.get("cascade") for r in alone.results)
    chained = evaluate_robustness(trained_model(), x, y, **kwargs)
    # A stage of the cascade never reports more robust examples than the same attack alone.
    for label in ("apgd-ce", "apgd-t", "fab-t", "square"):
        assert chained.accuracy(label, 0.1) <= alone.accuracy(label, 0.1) + 0.05
    assert chained.accuracy("apgd-ce", 0.1) == pytest.approx(alone.accuracy("apgd-ce", 0.1))


@pytest.mark.slow
def test_random_model_gets_the_rand_preset_and_the_report_says_so():
    import keras

    classifier = trained_model()

    class Always(keras.layers.Layer):  # GaussianNoise only acts in training: force it
        def call(self, inputs):
            return inputs + 0.3 * keras.random.normal(keras.ops.shape(inputs))

    model = keras.Sequential([keras.Input((8, 8, 1)), Always(), classifier])
    x, y = data(20)
    with pytest.warns(UserWarning, match="autoattack-rand"):
        report = evaluate_robustness(
            model, x, y, eps=[0.1], verbose=0, checks=False,
            attack_params={"pgd": {"steps": 2}, "apgd-ce": {"steps": 2, "eot_samples": 2},
                           "apgd-dlr": {"steps": 2, "eot_samples": 2}})
    assert report.config["preset"] == "autoattack-rand" and report.config["random_outputs"]
    assert report.attacks == ["fgsm", "pgd", "apgd-ce", "apgd-dlr"]
    assert any("autoattack-rand" in note for note in report.notes)
    assert report.row("apgd-dlr", 0.1)["config"]["eot_samples"] == 2
