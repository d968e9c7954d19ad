import keras
import numpy as np
import pytest

from keras_mlsec.responsible import Explanation, explain

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 4)).astype(np.float32)


def linear_model(weights=(2.0, 0.0, 0.0, 0.0)):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.set_weights([np.array(weights, np.float32)[:, None], np.zeros(1, np.float32)])
    return model


def test_gradient_values_of_a_linear_model_are_weight_times_offset():
    model = linear_model()
    reference = np.full((10, 4), 0.5, np.float32)
    explanation = explain(model, X[:5], background=reference, nsamples=50, seed=0)
    assert explanation.values.shape == (5, 4, 1)
    # Expected gradients of w.x from a single reference r: w * (x - r) (constant gradient).
    np.testing.assert_allclose(explanation.values[:, 0, 0], 2.0 * (X[:5, 0] - 0.5), atol=1e-4)
    np.testing.assert_allclose(explanation.values[:, 1:], 0.0, atol=1e-6)
    assert explanation.base_values[0] == pytest.approx(1.0, abs=1e-5)
    assert explanation.top_features(1)[0][0] == "feature_0"


def test_same_seed_same_values_and_kernel_is_additive():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(2)])
    first = explain(model, X[:4], background=X[50:90], seed=3, nsamples=50)
    again = explain(model, X[:4], background=X[50:90], seed=3, nsamples=50)
    np.testing.assert_array_equal(first.values, again.values)
    kernel = explain(model, X[:4], background=X[50:90], method="kernel", nsamples=100)
    outputs = model.predict(X[:4], verbose=0)
    np.testing.assert_allclose(kernel.base_values + kernel.values.sum(1), outputs, atol=1e-4)


def test_softmax_model_explained_on_logits_or_probabilities():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    logits = explain(model, X[:3], background=X[40:80], output="logits", method="kernel",
                     nsamples=60)
    pre_softmax = X[:3] @ model.get_weights()[0] + model.get_weights()[1]
    np.testing.assert_allclose(logits.base_values + logits.values.sum(1), pre_softmax, atol=1e-4)
    probabilities = explain(model, X[:3], background=X[40:80], output="probabilities",
                            method="kernel", nsamples=60)
    np.testing.assert_allclose(probabilities.base_values.sum(), 1.0, atol=1e-5)


def test_json_round_trip_and_plots(tmp_path):
    explanation = explain(linear_model(), X[:6], background=X[50:], nsamples=20,
                          feature_names=["income", "debt", "age", "zip"])
    again = Explanation.from_json(explanation.to_json())
    np.testing.assert_allclose(again.values, explanation.values)
    assert again.top_features(2) == explanation.top_features(2)
    assert again.top_features(1)[0][0] == "income"
    for kind in ("beeswarm", "bar"):
        path = explanation.plot(str(tmp_path / f"{kind}.png"), kind=kind)
        assert open(path, "rb").read(4) == b"\x89PNG"
    with pytest.raises(ValueError, match="image inputs"):
        explanation.plot(str(tmp_path / "x.png"), kind="image")


def test_images_get_heat_map_overlays(tmp_path):
    images = RNG.random((20, 6, 6, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    explanation = explain(model, images[:3], background=images[3:], nsamples=20)
    assert explanation.values.shape == (3, 6, 6, 1, 3) and explanation.is_image
    path = explanation.plot(str(tmp_path / "heat.png"))
    assert open(path, "rb").read(4) == b"\x89PNG"


@pytest.mark.slow
def test_deep_explainer_runs_in_a_child_process():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(2)])
    deep = explain(model, X[:3], background=X[40:80], method="deep")
    outputs = model.predict(X[:3], verbose=0)
    np.testing.assert_allclose(deep.base_values + deep.values.sum(1), outputs, atol=1e-4)
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])  # this process still builds


def test_bad_input_is_refused():
    model = linear_model()
    with pytest.raises(ValueError, match=r"`background` with the per-example shape of x \(4,\)"):
        explain(model, X[:2], background=X[:10, :3])
    with pytest.raises(ValueError, match="`method` to be one of .* Received: method='lime'"):
        explain(model, X[:2], background=X[:10], method="lime")
    with pytest.raises(ValueError, match="`output` to be one of"):
        explain(model, X[:2], background=X[:10], output="softmax")
    with pytest.raises(TypeError, match="keras.Model"):
        explain(lambda b: b[:, :1], X[:2], background=X[:10])
    with pytest.raises(ValueError, match="per-example shape \\(4,\\) to fit the model"):
        explain(model, X[:2, :3], background=X[:10, :3])
    with pytest.raises(ValueError, match="Received: k=0"):
        explain(model, X[:2], background=X[:10], nsamples=5).top_features(0)
