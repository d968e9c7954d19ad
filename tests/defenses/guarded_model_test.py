import logging
import threading

import keras
import numpy as np
import pytest

from keras_mlsec.defenses import ExtractionAlert, GuardedModel, QueryMonitor


@pytest.fixture(scope="module")
def model():
    net = keras.Sequential([keras.Input((16,)), keras.layers.Dense(3, activation="softmax")])
    return net


def _natural(n, seed):
    return np.random.default_rng(seed).normal(0.5, 0.15, (n, 16)).astype(np.float32)


def _synthetic(n, seed):
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, 1, (4, 16))
    return np.clip(seeds[rng.integers(0, 4, n)] + 0.01 * np.sign(rng.normal(size=(n, 16))),
                   0, 1).astype(np.float32)


def test_answers_like_the_model(model):
    guard = GuardedModel(model)
    x = _natural(5, 0)
    np.testing.assert_allclose(guard(x, client_id="a"), model.predict(x, verbose=0), atol=1e-6)
    assert guard.queries_used("a") == 5 and guard.queries_used("b") == 0


def test_budget_refuses_the_whole_batch_before_predicting():
    calls = []
    guard = GuardedModel(lambda x: calls.append(len(x)) or np.zeros((len(x), 2)),
                         query_budget=10)
    guard(np.zeros((6, 2)), client_id="a")
    with pytest.raises(ExtractionAlert, match=r"4 of its query_budget=10 left") as info:
        guard(np.zeros((5, 2)), client_id="a")
    assert info.value.reason == "query_budget" and info.value.queries == 6
    assert calls == [6]
    guard(np.zeros((4, 2)), client_id="a")
    guard(np.zeros((10, 2)), client_id="b")  # budgets are per client
    assert calls == [6, 4, 10]


def test_monitor_alert_raises_and_blocks_the_client(model):
    guard = GuardedModel(model, monitor=QueryMonitor(delta=0.9), on_alert="raise")
    for start in range(0, 300, 50):
        guard(_natural(300, 1)[start:start + 50], client_id="benign")
    with pytest.raises(ExtractionAlert, match=r"flagged as extracting") as info:
        for start in range(0, 600, 50):
            guard(_synthetic(600, 2)[start:start + 50], client_id="thief")
    assert info.value.reason == "monitor" and info.value.statistic < 0.9
    with pytest.raises(ExtractionAlert):
        guard(_natural(1, 3), client_id="thief")
    guard(_natural(1, 3), client_id="benign")


def test_alerts_go_to_the_audit_log(model, tmp_path):
    import json

    from keras_mlsec.integrity import AuditLog, verify_audit_log

    log = AuditLog(tmp_path / "audit.jsonl")
    guard = GuardedModel(model, monitor=QueryMonitor(delta=0.9), query_budget=700,
                         on_alert="log", audit_log=log)
    for start in range(0, 600, 50):
        guard(_synthetic(600, 2)[start:start + 50], client_id="thief")
    with pytest.raises(ExtractionAlert):
        guard(_natural(200, 3), client_id="thief")  # 600 used + 200 > 700
    log.close()
    verify_audit_log(tmp_path / "audit.jsonl", allow_open=False)
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    alerts = [e for e in events if e.get("event") == "extraction_alert"]
    assert [a["data"]["reason"] for a in alerts] == ["monitor", "query_budget"]
    assert {a["data"]["client_id"] for a in alerts} == {"thief"}


def test_monitor_alert_logged_once(model, caplog):
    guard = GuardedModel(model, monitor=QueryMonitor(delta=0.9), on_alert="log")
    with caplog.at_level(logging.WARNING, logger="keras_mlsec.defenses"):
        for start in range(0, 600, 50):
            out = guard(_synthetic(600, 2)[start:start + 50], client_id="thief")
            assert out.shape == (50, 3)
    assert len(guard.alerts) == 1 and guard.alerts[0].client_id == "thief"
    assert sum("flagged as extracting" in r.message for r in caplog.records) == 1


def test_threads_share_one_budget(model):
    guard = GuardedModel(model, query_budget=100)
    refused = []

    def work():
        for _ in range(10):
            try:
                guard(_natural(3, 0), client_id="shared")
            except ExtractionAlert:
                refused.append(1)

    threads = [threading.Thread(target=work) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert guard.queries_used("shared") == 99 and len(refused) == 60 - 33


def test_bad_arguments(model):
    with pytest.raises(TypeError, match=r"Expected `model` to be a keras.Model or a callable"):
        GuardedModel(42)
    with pytest.raises(TypeError, match=r"Expected `monitor` to be a QueryMonitor"):
        GuardedModel(model, monitor="prada")
    with pytest.raises(ValueError, match=r"Expected `on_alert` to be one of \('raise', 'log'\)"):
        GuardedModel(model, on_alert="email")
    with pytest.raises(ValueError, match=r"query_budget=0"):
        GuardedModel(model, query_budget=0)
    with pytest.raises(ValueError, match=r"Expected `x` to hold finite values"):
        GuardedModel(model)(np.full((1, 16), np.nan), client_id="a")
