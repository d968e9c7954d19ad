import importlib

import keras
import numpy as np
import pytest

import keras_mlsec as km
from keras_mlsec.datasets import load_credit


@pytest.fixture(scope="module")
def credit():
    (x, y), (x_test, y_test) = load_credit(bias=0.5, num_examples=400, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(2)])
    return model, (x, y), (x_test, y_test)


def test_km_audit_is_callable_even_after_importing_the_package(credit):
    importlib.import_module("keras_mlsec.audit")
    model, train, test = credit
    result = km.audit(model, train, test, sections=["static_scan"], verbose=0)
    assert isinstance(result, km.SecurityAudit)
    assert result.section("static_scan").status == "passed"
    assert result.verdicts["mlops"] == "pass"
    assert result.versions["aif360"] == "0.6.1"
    assert result.settings["sections"] == ["static_scan"]


def test_sections_that_do_not_apply_say_why(credit):
    model, train, test = credit
    result = km.audit(model, train, test, sections=["inversion", "fairness", "backdoor"],
                      verbose=0)
    assert result.section("inversion").status == "not_run"
    assert "image inputs only" in result.section("inversion").reason
    assert result.section("backdoor").status == "not_run"
    assert "tabular" in result.section("backdoor").reason
    assert result.verdicts["training_time"] == "not_assessed"
    assert "no protected attribute" in result.section("fairness").reason
    assert result.verdicts["privacy"] == "not_assessed" and result.passed


def test_fairness_section_with_groups_as_arrays(credit):
    model, train, test = credit
    groups = (np.where(train[0][:, 0] == 1, "a", "b"), np.where(test[0][:, 0] == 1, "a", "b"))
    result = km.audit(model, train, test, protected=groups, privileged="a",
                      sections=["fairness"], verbose=0)
    section = result.section("fairness")
    assert section.status in ("passed", "failed")
    assert section.evidence["labels"]["disparate_impact"] < 0.8  # the injected bias


@pytest.mark.parametrize("kwargs,error,match", [
    ({"protected": 3}, ValueError, r"binary protected attribute"),
    ({"protected": 0, "privileged": 7}, ValueError, r"Received: privileged=7"),
    ({"protected": "sex"}, TypeError, r"column index of x or a pair"),
    ({"sections": ["robustness", "tarot"]}, ValueError, r"Expected section names"),
    ({"sections": []}, ValueError, r"Expected section names"),
])
def test_bad_arguments_are_refused_before_any_check(credit, kwargs, error, match):
    model, train, test = credit
    with pytest.raises(error, match=match):
        km.audit(model, train, test, verbose=0, **kwargs)


def test_bad_data_is_refused(credit):
    model, train, test = credit
    with pytest.raises(ValueError, match=r"train\[0\]"):
        km.audit(model, (train[0][:, :3], train[1]), test)
    with pytest.raises(ValueError, match=r"test\[1\]"):
        km.audit(model, train, (test[0], test[1][:5]))
    with pytest.raises(TypeError, match="keras.Model"):
        km.audit(lambda x: x, train, test)


def test_a_single_output_model_is_not_attacked_but_says_why():
    (x, y), (x_test, y_test) = load_credit(num_examples=200, seed=0)
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(1)])
    result = km.audit(model, (x, y), (x_test, y_test), protected=0,
                      sections=["robustness", "membership", "fairness"], verbose=0)
    assert result.section("robustness").status == "not_run"
    assert "single output unit" in result.section("membership").reason
    assert result.section("fairness").status in ("passed", "failed")
