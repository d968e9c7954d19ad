"""Tests of keras_mlsec.integrity.bom, validated with cyclonedx-python-lib's own validator."""

import hashlib
import importlib
import importlib.metadata
import json

import keras
import numpy as np
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from keras_mlsec.attacks.privacy.membership_report import MembershipReport
from keras_mlsec.callbacks import PrivacyBudget
from keras_mlsec.datasets import reference_model
from keras_mlsec.evaluation.report import RobustnessReport
from keras_mlsec.integrity import dataset_digest, ml_bom
from keras_mlsec.privacy import DPModel, poisson_dataset


def _valid(document):
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    assert error is None, str(error)[:2000]
    return json.loads(document)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    reference_model("mlp").save(path)
    return path


def _robustness():
    return RobustnessReport(clean_accuracy=0.95, num_examples=100, norm="linf", results=[
        {"attack": "pgd", "eps": 0.1, "adversarial_accuracy": 0.41},
        {"attack": "fgsm", "eps": 0.1, "adversarial_accuracy": 0.52},
        {"attack": "worst_case", "eps": 0.1, "adversarial_accuracy": 0.4}])


def _metrics(document):
    card = document["components"][0]["modelCard"]
    return {(m["type"], m.get("slice", "")): m["value"]
            for m in card["quantitativeAnalysis"]["performanceMetrics"]}


def test_model_data_environment_and_card(model_file):
    x, y = np.ones((5, 8, 8, 1), "float32"), np.arange(5)
    folder = model_file.parent / "csv"
    folder.mkdir(exist_ok=True)
    (folder / "a.csv").write_text("1,2\n")
    document = _valid(ml_bom(model_file, datasets={"train": (x, y), "raw": folder,
                                                   "test": dataset_digest(x[:2])},
                             reports=[_robustness()], metadata={"owner": "ml-team", "run": 7}))
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    model, *rest = document["components"]
    assert model["type"] == "machine-learning-model" and model["name"] == "reference_mlp"
    assert model["hashes"] == [{"alg": "SHA-256",
                                "content": hashlib.sha256(model_file.read_bytes()).hexdigest()}]
    data = {c["name"]: c for c in rest if c["type"] == "data"}
    assert set(data) == {"train", "raw", "test"}
    assert data["train"]["hashes"][0]["content"] == dataset_digest(x, y)[7:]
    assert data["raw"]["hashes"][0]["content"] == dataset_digest(path=folder)[7:]
    assert data["train"]["data"] == [{"type": "dataset", "name": "train"}]
    card = model["modelCard"]
    assert card["modelParameters"]["datasets"] == [{"ref": "data:train"}, {"ref": "data:raw"},
                                                   {"ref": "data:test"}]
    libraries = {c["name"].lower(): c for c in rest if c["type"] == "library"}
    assert libraries["keras"]["version"] == keras.__version__
    assert libraries["numpy"]["purl"] == f"pkg:pypi/numpy@{np.__version__}"
    assert libraries["cyclonedx-python-lib"]["version"] == \
        importlib.metadata.version("cyclonedx-python-lib")
    properties = {p["name"]: p["value"] for p in document["metadata"]["properties"]}
    assert properties == {"keras_mlsec:owner": "ml-team", "keras_mlsec:run": "7"}
    metrics = _metrics(document)
    assert float(metrics[("clean_accuracy", "100 examples")]) == 0.95
    assert float(metrics[("robust_accuracy", "worst case over pgd, fgsm; linf eps=0.1")]) == 0.4
    assert float(metrics[("adversarial_accuracy", "pgd; linf eps=0.1")]) == 0.41


def test_in_memory_model_is_described_by_its_weights():
    model = reference_model("mlp", seed=1)
    document = _valid(ml_bom(model))
    component = document["components"][0]
    properties = {p["name"]: p["value"] for p in component["properties"]}
    assert properties["keras_mlsec:digest_of"] == "weights"
    assert int(properties["keras_mlsec:parameters"]) == model.count_params()
    same = json.loads(ml_bom(model))["components"][0]["hashes"]
    assert same == component["hashes"]  # deterministic
    model.layers[-1].bias.assign(model.layers[-1].bias + 1e-3)
    assert json.loads(ml_bom(model))["components"][0]["hashes"] != component["hashes"]
    assert "quantitativeAnalysis" not in component["modelCard"]


@pytest.mark.slow
def test_privacy_and_membership_reports_fill_the_card(model_file):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 4)).astype("float32"), rng.integers(0, 2, 100)
    private = DPModel(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
                      l2_norm_clip=1.0, noise_multiplier=1.1, seed=0)
    private.compile(optimizer="sgd",
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    budget = PrivacyBudget(target_epsilon=50.0, delta=1e-3)
    private.fit(poisson_dataset(x, y, batch_size=20, seed=0), epochs=1, callbacks=[budget],
                verbose=0)
    membership = MembershipReport(member_scores=[0.9, 0.8, 0.3],
                                  non_member_scores=[0.1, 0.85, 0.2], method="loss")
    metrics = _metrics(_valid(ml_bom(model_file, reports=(budget, membership))))
    by_type = {kind: float(value) for (kind, _), value in metrics.items()}
    assert by_type["epsilon"] == pytest.approx(budget.epsilon) and budget.epsilon > 0
    assert by_type["delta"] == 1e-3 and by_type["target_epsilon"] == 50.0
    assert by_type["membership_inference_auc"] == pytest.approx(membership.auc)
    assert by_type["membership_inference_advantage"] == pytest.approx(membership.advantage)
    slices = [s for kind, s in metrics if kind == "epsilon"]
    assert "rdp accountant, 5 steps" in slices[0]


class FairnessReport:
    """Stands in for keras_mlsec.responsible.FairnessReport in a build without it."""

    def to_dict(self):
        return {"protected": "column 3", "metrics": {"disparate_impact": 0.72,
                                                     "statistical_parity_difference": -0.12,
                                                     "theil_index": 0.05}}


def test_fairness_report_checked_by_class_when_the_package_exists(model_file):
    try:
        real = importlib.import_module("keras_mlsec.responsible").FairnessReport
    except (ImportError, AttributeError):
        real = None
    if real is None:  # this build has no keras_mlsec.responsible: accepted by name and to_dict
        metrics = _metrics(_valid(ml_bom(model_file, reports=[FairnessReport()])))
        assert metrics == {("disparate_impact", "protected attribute column 3"): "0.72",
                           ("statistical_parity_difference", "protected attribute column 3"):
                               "-0.12",
                           ("theil_index", "protected attribute column 3"): "0.05"}
    else:  # the real class exists: a look-alike is refused
        with pytest.raises(TypeError, match=r"reports\[0\] of type FairnessReport"):
            ml_bom(model_file, reports=[FairnessReport()])


def test_bad_input_is_named(model_file, tmp_path):
    with pytest.raises(TypeError, match=r"Received: reports\[1\] of type dict"):
        ml_bom(model_file, reports=[_robustness(), {"auc": 0.9}])
    with pytest.raises(TypeError, match="Expected `reports` to be a list"):
        ml_bom(model_file, reports=_robustness())
    with pytest.raises(TypeError, match="Expected `model` to be a keras.Model"):
        ml_bom(42)
    (tmp_path / "weights.h5").write_bytes(b"\x89HDF\r\n")
    with pytest.raises(ValueError, match="Received: model="):
        ml_bom(tmp_path / "weights.h5")
    with pytest.raises(FileNotFoundError, match="Received: model="):
        ml_bom(tmp_path / "missing.keras")
    with pytest.raises(TypeError, match="Expected `datasets` to be a dict"):
        ml_bom(model_file, datasets=[np.zeros(3)])
    with pytest.raises(ValueError, match=r"datasets\['train'\]"):
        ml_bom(model_file, datasets={"train": "sha256:abc"})
    with pytest.raises(FileNotFoundError, match="Received: path="):
        ml_bom(model_file, datasets={"train": tmp_path / "nowhere.csv"})
    with pytest.raises(ValueError, match="Expected `metadata` values"):
        ml_bom(model_file, metadata={"x": float("nan")})


def test_the_real_fairness_report_fills_the_card(model_file):
    from keras_mlsec.responsible import FairnessReport as Real

    group = {"count": 10, "accuracy": 0.9, "tpr": 0.8, "fpr": 0.1, "selection_rate": 0.5}
    report = Real(metrics={"disparate_impact": 0.7, "statistical_parity_difference": -0.15,
                           "equal_opportunity_difference": -0.05,
                           "average_odds_difference": -0.04, "theil_index": 0.1,
                           "accuracy": 0.9},
                  groups={"privileged": group, "unprivileged": group})
    metrics = _metrics(_valid(ml_bom(model_file, reports=[report])))
    assert {kind: float(value) for (kind, _), value in metrics.items()} == {
        "disparate_impact": 0.7, "statistical_parity_difference": -0.15,
        "equal_opportunity_difference": -0.05, "average_odds_difference": -0.04,
        "theil_index": 0.1}
