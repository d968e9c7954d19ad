import json

import keras
import numpy as np
import pytest

from keras_mlsec.attacks import ExtractionReport, ModelExtraction, extract_model
from test_case import digits, trained_model


def tiny(input_shape, num_classes):
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes)])


class CountingVictim:
    """A callable victim (a remote API stand-in) that records every example it sees."""

    def __init__(self, model):
        self.model, self.seen = model, 0

    def __call__(self, x):
        self.seen += len(x)
        return self.model.predict(x, verbose=0)


@pytest.fixture(scope="module")
def victim():
    return trained_model("mlp", 8, output="softmax", epochs=20)


@pytest.fixture(scope="module")
def data():
    (x_train, _), (x_test, y_test) = digits(8)
    return x_train[:300], x_test[:200], y_test[:200]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["random", "jacobian", "knockoff"])
def test_budget_is_never_exceeded_and_every_query_counted(victim, data, strategy):
    pool, x_test, _ = data
    api = CountingVictim(victim)
    result = extract_model(api, query_budget=137, x_pool=pool, strategy=strategy,
                           substitute=tiny, epochs=2, batch_size=50, seed=0)
    assert result.queries_used == api.seen == 137
    assert len(result.queries) == 137 and len(result.answers) == 137
    assert result.history[-1][0] == 137
    assert np.all((result.queries >= 0) & (result.queries <= 1))


@pytest.mark.slow
def test_random_extraction_steals_the_model(victim, data):
    pool, x_test, y_test = data
    result = extract_model(victim, query_budget=300, x_pool=pool, seed=0, epochs=15)
    assert isinstance(result.substitute, keras.Model)
    report = result.report(x_test, y_test)
    assert report.agreement == pytest.approx(result.agreement(x_test))
    assert report.agreement > 0.8
    assert report.curve_queries == [37, 75, 150, 300]
    assert report.curve_agreement[-1] == report.agreement
    assert report.victim_accuracy > 0.9


@pytest.mark.slow
def test_labels_only_random_forest(victim, data):
    pool, x_test, y_test = data
    result = extract_model(victim, query_budget=250, x_pool=pool, output="labels",
                           substitute="random_forest", seed=0)
    assert result.answers.ndim == 1 and result.answers.dtype == np.int32
    assert hasattr(result.substitute, "predict_proba")
    report = result.report(x_test, y_test)
    assert report.agreement > 0.6 and len(report.curve_queries) == 4


@pytest.mark.slow
def test_uniform_queries_without_pool_need_only_a_shape(victim):
    result = extract_model(victim, query_budget=64, substitute=tiny, epochs=1, seed=0)
    assert result.queries.shape == (64, 8, 8, 1) and result.queries_used == 64
    assert len(np.unique(result.queries)) > 3000  # uniform noise, not pool data


def test_report_serializes_and_plots(tmp_path):
    report = ExtractionReport(agreement=0.9, substitute_accuracy=0.85, victim_accuracy=0.95,
                              curve_queries=[10, 20], curve_agreement=[0.5, 0.9],
                              strategy="random", output="labels", queries_used=20,
                              query_budget=20, num_examples=100)
    again = ExtractionReport.from_json(report.to_json())
    assert again.to_dict() == report.to_dict()
    assert json.loads(report.to_json())["curve_agreement"] == [0.5, 0.9]
    markdown = report.to_markdown()
    assert "| 20 | 0.900 |" in markdown and "20 of 20" in markdown
    path = report.plot(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000 and path == tmp_path / "curve.png"


def test_model_extraction_object_keeps_hyper_parameters(victim, data):
    pool, _, _ = data
    attack = ModelExtraction(query_budget=20, substitute=tiny, epochs=1, seed=0)
    result = attack(victim, x_pool=pool)
    assert result.queries_used == 20 and result.strategy == "random"


def test_pool_used_once_then_mixed():
    pool = np.random.default_rng(0).uniform(0, 1, (20, 4)).astype(np.float32)
    w = np.random.default_rng(1).normal(size=(4, 3))
    result = extract_model(lambda x: x @ w, query_budget=50, x_pool=pool, substitute=tiny,
                           epochs=1, seed=0)
    first = result.queries[:20]
    assert sorted(map(tuple, first)) == sorted(map(tuple, pool))  # every pool example once
    mixed = result.queries[20:]
    assert not any((np.abs(pool - q).max(1) < 1e-6).any() for q in mixed)
    assert mixed.min() >= pool.min() and mixed.max() <= pool.max()
    np.testing.assert_allclose(result.answers.sum(1), 1.0, atol=1e-5)  # logits -> softmax
