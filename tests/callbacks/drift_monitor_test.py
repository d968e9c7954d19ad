"""Tests of keras_mlsec.callbacks.DriftMonitor during fit and on production windows."""

import keras
import numpy as np
import pytest

from keras_mlsec.callbacks import DriftMonitor


def _data(n=400, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 2 * shift).astype("int32")
    return x, y


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="probs")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_fit_logs_drift_keys_into_history():
    x, y = _data()
    x_val, _ = _data(200, seed=1)
    monitor = DriftMonitor(x, data=x_val, on="predictions")
    history = _model().fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[monitor])
    assert len(history.history["drift_p_value"]) == 2
    assert history.history["drift_detected"] == [0.0, 0.0]
    assert all(0.05 < p <= 1.0 for p in history.history["drift_p_value"])
    assert monitor.last_report.features[0]["feature"] == "class_0"


def test_fit_flags_shifted_validation_inputs():
    x, y = _data()
    shifted, _ = _data(200, shift=1.0, seed=2)
    monitor = DriftMonitor(x, data=shifted, on="inputs", test="ks", correction="fdr")
    history = _model().fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert history.history["drift_detected"] == [1.0]
    assert history.history["drift_p_value"][0] < 1e-6
    assert len(monitor.last_report.features) == 4


def test_fit_with_psi_logs_nan_p_value_and_the_statistic():
    x, y = _data()
    shifted, _ = _data(200, shift=1.0, seed=7)
    monitor = DriftMonitor(x, data=shifted, on="inputs", test="psi")
    history = _model().fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert np.isnan(history.history["drift_p_value"][0])
    assert history.history["drift_statistic"][0] >= 0.25
    assert history.history["drift_detected"] == [1.0]


def test_fit_reads_validation_data_when_data_is_not_given():
    x, y = _data()
    x_val, y_val = _data(200, shift=1.5, seed=3)
    monitor = DriftMonitor(x, on="inputs")
    history = _model().fit(x, y, epochs=1, verbose=0, validation_data=(x_val, y_val),
                           callbacks=[monitor])
    assert history.history["drift_detected"] == [1.0]


def test_fit_without_any_data_warns_and_skips():
    x, y = _data()
    monitor = DriftMonitor(x, on="inputs")
    with pytest.warns(UserWarning, match="pass DriftMonitor\\(..., data=x_val\\)"):
        history = _model().fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert "drift_p_value" not in history.history


def test_layer_embeddings_and_max_probability_features():
    x, _ = _data(50)
    model = _model()
    layer = DriftMonitor(x, on="layer:hidden", model=model)
    features, names = layer.features(x)
    assert features.shape == (50, 8) and names[0] == "hidden_0"
    np.testing.assert_allclose(
        features, keras.Model(model.input, model.get_layer("hidden").output)(x), atol=1e-5)
    top = DriftMonitor(x, model=model, reduce="max_probability")
    features, names = top.features(x)
    assert names == ["max_probability"]
    np.testing.assert_allclose(features[:, 0], np.max(model(x), axis=1), atol=1e-5)
    predicted = DriftMonitor(x, model=model, test="chi2")
    assert predicted.features(x)[1] == ["predicted_class"]


def test_update_calls_hook_on_drift_only():
    reference, _ = _data(500, seed=4)
    calls = []
    monitor = DriftMonitor(reference, on="inputs", window_size=200, check_every=100,
                           on_drift=calls.append)
    same, _ = _data(400, seed=5)
    reports = [monitor.update(same[i:i + 50]) for i in range(0, 400, 50)]
    assert reports[:3] == [None, None, None]  # Window not yet full.
    done = [r for r in reports if r is not None]
    assert len(done) == 3 and not any(r.drift_detected for r in done)
    assert calls == []
    shifted, _ = _data(200, shift=1.0, seed=6)
    report = monitor.update(shifted[:100])  # Half of the window is now shifted.
    assert report.drift_detected and calls == [report]
    monitor.reset()
    assert monitor.update(same[:199]) is None  # An emptied window waits to fill up again.


def test_update_on_predictions_needs_a_model():
    x, _ = _data(100)
    monitor = DriftMonitor(x, window_size=50)
    with pytest.raises(ValueError, match="Expected a model for on='predictions'"):
        monitor.update(x[:10])
    monitor.set_model(_model())
    assert monitor.update(x[:50]) is not None


@pytest.mark.parametrize("kwargs, error, match", [
    ({"on": "logits"}, ValueError, "Received: on='logits'"),
    ({"test": "z"}, ValueError, "Received: test='z'"),
    ({"correction": "holm"}, ValueError, "Received: correction='holm'"),
    ({"alpha": 2}, ValueError, "Received: alpha=2"),
    ({"reduce": "mean"}, ValueError, "Received: reduce='mean'"),
    ({"on": "inputs", "reduce": "columns"}, ValueError, "only with on=\"predictions\""),
    ({"window_size": 0}, ValueError, "Received: window_size=0"),
    ({"on_drift": "print"}, TypeError, "Received: on_drift='print'"),
    ({"data": np.zeros((5, 3))}, ValueError, "Expected `data` examples of shape \\(4,\\)"),
    ({"data": np.zeros((0, 4))}, ValueError, "Expected `data` to hold at least one example"),
])
def test_bad_arguments_raise_naming_them(kwargs, error, match):
    with pytest.raises(error, match=match):
        DriftMonitor(np.zeros((10, 4)), **kwargs)


def test_empty_reference_bad_batch_and_unknown_layer_raise():
    with pytest.raises(ValueError, match="Expected `reference` to hold at least one example"):
        DriftMonitor(np.zeros((0, 4)))
    monitor = DriftMonitor(np.zeros((10, 4)), on="inputs")
    with pytest.raises(ValueError, match="Expected `batch` examples of shape"):
        monitor.update(np.zeros((3, 5)))
    layer = DriftMonitor(np.zeros((10, 4)), on="layer:nope", model=_model())
    with pytest.raises(ValueError,
                       match="Expected `on` to name a layer.*Received: on='layer:nope'"):
        layer.features(np.zeros((2, 4)))


def test_not_registered_as_serializable():
    # It holds data arrays (the reference window), which a Keras config cannot carry honestly.
    assert keras.saving.get_registered_object("keras_mlsec>DriftMonitor") is None
    assert not hasattr(DriftMonitor, "from_config")


def test_max_samples_subsamples_reference():
    x, _ = _data(300)
    monitor = DriftMonitor(x, on="inputs", max_samples=100)
    assert monitor.reference.shape == (100, 4)


def test_drift_alerts_go_into_the_audit_log(tmp_path):
    import json

    from keras_mlsec.integrity import AuditLog, verify_audit_log

    reference, _ = _data(300, seed=7)
    with AuditLog(tmp_path / "audit.jsonl") as log:
        monitor = DriftMonitor(reference, on="inputs", window_size=100, audit_log=log)
        same, _ = _data(100, seed=8)
        shifted, _ = _data(100, shift=1.5, seed=9)
        assert not monitor.update(same).drift_detected
        assert monitor.update(shifted).drift_detected
    records = [json.loads(line) for line in log.path.read_text().splitlines()]
    alerts = [r["data"] for r in records if r["event"] == "drift_alert"]
    assert len(alerts) == 1 and alerts[0]["where"] == "update" and alerts[0]["num_drifted"] >= 1
    assert alerts[0]["test"] == "ks" and alerts[0]["p_value"] < 0.05
    assert verify_audit_log(log.path) == len(records)
    with pytest.raises(TypeError, match="Expected `audit_log` to be a"):
        DriftMonitor(reference, audit_log=str(tmp_path / "audit.jsonl"))
