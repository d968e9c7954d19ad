"""Bad input to the extraction attacks: errors naming the argument, before the budget is spent."""

import keras
import numpy as np
import pytest

from keras_mlsec.attacks import ModelExtraction, extract_model


class Api:
    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def __call__(self, x):
        self.calls.append(len(x))
        return self.answer(x)


def probs(x):
    return np.tile(np.array([[0.2, 0.8]], np.float32), (len(x), 1))


POOL = np.random.default_rng(0).uniform(0, 1, (40, 3)).astype(np.float32)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"query_budget": 0}, ValueError, r"Expected `query_budget` to be an integer >= 1. "
                                      r"Received: query_budget=0"),
    ({"query_budget": -5}, ValueError, r"query_budget=-5"),
    ({"strategy": "boundary"}, ValueError, r"Expected `strategy` to be one of \('random', "
                                           r"'jacobian', 'knockoff'\). Received: "
                                           r"strategy='boundary'"),
    ({"output": "logits"}, ValueError, r"Expected `output` to be one of .* output='logits'"),
    ({"x_pool": POOL + 1.5}, ValueError, r"Expected `x_pool` to lie in the clip range"),
    ({"x_pool": np.full((4, 3), np.nan)}, ValueError, r"Expected `x_pool` to hold finite"),
    ({"strategy": "knockoff", "x_pool": None, "input_shape": (3,)}, ValueError,
     r"Expected `x_pool` .* for strategy=\"knockoff\""),
    ({"strategy": "jacobian", "substitute": "random_forest"}, ValueError,
     r"Expected a Keras substitute for strategy=\"jacobian\""),
    ({"substitute": "svm"}, ValueError, r"Expected `substitute` to be None"),
    ({"x_pool": None}, ValueError, r"Expected `input_shape`"),
    ({"clip": (1, 0)}, ValueError, r"Expected `clip`"),
    ({"num_classes": 1}, ValueError, r"Expected `num_classes` >= 2"),
])
def test_refused_before_any_query(kwargs, error, match):
    api = Api(probs)
    arguments = {"query_budget": 10, "x_pool": POOL, **kwargs}
    with pytest.raises(error, match=match):
        extract_model(api, **arguments)
    assert api.calls == []


def test_victim_not_callable():
    with pytest.raises(TypeError, match=r"Expected `victim` to be a keras.Model or a callable.*"
                                        r"Received: victim='http://api'"):
        extract_model("http://api", query_budget=10, x_pool=POOL)


@pytest.mark.parametrize("answer, match", [
    (lambda x: np.full((len(x), 2), np.nan), r"Expected `victim` to return finite values"),
    (lambda x: probs(x)[:-1], r"Expected `victim` to return one row per queried example"),
    (lambda x: np.zeros((len(x), 2, 2)), r"Expected `victim` to return \(batch, classes\)"),
    (lambda x: np.zeros(len(x), int), r"Expected `victim` to return class scores for "
                                      r"output='probabilities'"),
])
def test_bad_answers_stop_at_the_first_batch(answer, match):
    api = Api(answer)
    with pytest.raises(ValueError, match=match):
        extract_model(api, query_budget=40, x_pool=POOL, batch_size=8, epochs=1)
    assert len(api.calls) == 1


def test_answer_shape_changing_between_calls():
    widths = iter([2, 2, 3, 3, 3])
    api = Api(lambda x: np.full((len(x), next(widths)), 0.5))
    with pytest.raises(ValueError, match=r"same shape on every call"):
        extract_model(api, query_budget=40, x_pool=POOL, batch_size=5, epochs=1)
    assert sum(api.calls) == 15


def test_labels_only_victim_needs_num_classes():
    api = Api(lambda x: np.zeros(len(x), int))
    with pytest.raises(ValueError, match=r"Expected `num_classes` for a victim answering with "
                                         r"labels only"):
        extract_model(api, query_budget=10, x_pool=POOL, output="labels")


def test_pool_shape_must_fit_a_keras_victim():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"Expected `x_pool` examples shaped \(4,\)"):
        extract_model(model, query_budget=10, x_pool=POOL)


def test_object_checks_at_construction():
    with pytest.raises(ValueError, match=r"query_budget=0"):
        ModelExtraction(query_budget=0)
    with pytest.raises(ValueError, match=r"strategy='x'"):
        ModelExtraction(query_budget=5, strategy="x")
