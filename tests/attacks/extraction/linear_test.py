import keras
import numpy as np
import pytest

from keras_mlsec.attacks import extract_linear


def _softmax_linear(d, classes, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1.5, (d, classes)).astype(np.float32)
    b = rng.normal(0, 0.5, classes).astype(np.float32)

    def victim(x):
        z = x @ w + b
        e = np.exp(z - z.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True)).astype(np.float32)

    return victim, w, b


def test_softmax_weights_recovered_with_d_plus_one_queries():
    victim, w, b = _softmax_linear(12, 4, seed=0)
    result = extract_linear(victim, 12)
    assert result.queries_used == 13
    assert np.abs(result.weights - (w - w.mean(1, keepdims=True))).max() < 1e-4
    assert np.abs(result.bias - (b - b.mean())).max() < 1e-4


def test_logistic_keras_model_recovered_exactly():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1, activation="sigmoid")])
    w = np.array([[3.0], [-2.0], [0.5], [4.0], [-6.0], [1.0]], np.float32)
    model.layers[0].set_weights([w, np.array([1.5], np.float32)])
    result = extract_linear(model, 6)
    assert result.queries_used in (7, 14)  # d + 1 per class
    assert np.abs(result.weights - w).max() < 1e-4
    assert abs(result.bias[0] - 1.5) < 1e-4
    x = np.random.default_rng(0).uniform(0, 1, (50, 6)).astype(np.float32)
    assert result.agreement(x) == 1.0


def test_substitute_reproduces_the_victim_probabilities():
    victim, _, _ = _softmax_linear(5, 3, seed=1)
    result = extract_linear(victim, 5, clip=None)
    x = np.random.default_rng(1).uniform(-1, 1, (20, 5)).astype(np.float32)
    np.testing.assert_allclose(result.substitute.predict(x, verbose=0), victim(x), atol=1e-5)


def test_logits_answers_are_solved_too():
    rng = np.random.default_rng(2)
    w, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    result = extract_linear(lambda x: x @ w + b, 4)
    assert np.abs(result.weights - (w - w.mean(1, keepdims=True))).max() < 1e-5


def test_budget_too_small_is_refused_before_querying():
    calls = []
    with pytest.raises(ValueError, match=r"Expected `query_budget` >= input_dim \+ 1 = 11"):
        extract_linear(lambda x: calls.append(x), 10, query_budget=5)
    assert not calls


@pytest.mark.parametrize("answer, match", [
    (lambda x: np.full((len(x), 2), np.nan), "finite"),
    (lambda x: np.full((len(x) - 1, 2), 0.5), "one row per query"),
    (lambda x: np.tile([1.0, 0.0], (len(x), 1)), "strictly inside"),
])
def test_bad_answers(answer, match):
    with pytest.raises(ValueError, match=match):
        extract_linear(answer, 3)


def test_bad_arguments():
    with pytest.raises(TypeError, match="Expected `victim`"):
        extract_linear("model", 3)
    with pytest.raises(ValueError, match="Expected `input_dim` to be an integer >= 1"):
        extract_linear(lambda x: x, 0)
