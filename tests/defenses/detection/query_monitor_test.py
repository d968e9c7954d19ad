import threading

import numpy as np
import pytest

from keras_mlsec.defenses import QueryMonitor


def _natural(n, seed, dim=16):
    return np.random.default_rng(seed).normal(0.5, 0.15, (n, dim)).astype(np.float32)


def _synthetic(n, seed, dim=16):
    """Jacobian-like queries: a few seeds, each followed by many tiny steps from it."""
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, 1, (8, dim))
    steps = seeds[rng.integers(0, 8, n)] + 0.01 * np.sign(rng.normal(size=(n, dim)))
    return np.clip(steps, 0, 1).astype(np.float32)


def test_natural_queries_pass_and_synthetic_ones_are_flagged():
    monitor = QueryMonitor(delta=0.9)
    for start in range(0, 400, 50):
        assert not monitor.observe(_natural(400, 0)[start:start + 50], np.zeros(50, int), "benign")
    assert monitor.statistic("benign") > 0.9
    flagged = [monitor.observe(_synthetic(400, 1)[s:s + 50], np.zeros(50, int), "thief")
               for s in range(0, 400, 50)]
    assert flagged[-1] and monitor.flagged("thief") and not monitor.flagged("benign")
    assert 100 <= monitor.alert_at("thief") <= 400
    assert monitor.statistic("thief") < 0.9


def test_no_test_before_min_queries():
    monitor = QueryMonitor(min_queries=100)
    assert not monitor.observe(_synthetic(60, 0), np.zeros(60, int), "c")
    assert monitor.statistic("c") is None


def test_distance_is_to_the_nearest_query_of_the_same_class():
    monitor = QueryMonitor(min_queries=3, window=3)
    x = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [3.0, 4.5]], np.float32)
    monitor.observe(x, np.array([0, 1, 0, 1]), "c")
    distances = list(monitor._clients["c"].distances)
    assert distances == pytest.approx([1.0, 0.5])


def test_state_is_bounded():
    monitor = QueryMonitor(max_history=8, window=100, max_clients=5)
    for client in range(20):
        monitor.observe(_natural(200, client), np.arange(200) % 3, client)
    assert monitor.num_clients == 5
    state = monitor._clients[19]
    assert state.entries.shape == (8, 16) and len(state.distances) == 100
    assert monitor.statistic(0) is None  # forgotten


def test_thread_safe_counts():
    monitor = QueryMonitor(min_queries=50)

    def work(seed):
        for i in range(10):
            monitor.observe(_natural(10, seed * 100 + i), np.zeros(10, int), "shared")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert monitor._clients["shared"].queries == 400


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"Expected `delta` in \(0, 1\). Received: delta=1.5"):
        QueryMonitor(delta=1.5)
    with pytest.raises(ValueError, match=r"Expected `min_queries` >= 3"):
        QueryMonitor(min_queries=2)
    with pytest.raises(ValueError, match=r"Expected `window` in \[min_queries, 5000\]"):
        QueryMonitor(min_queries=100, window=50)
    monitor = QueryMonitor()
    monitor.observe(np.zeros((2, 4)), [0, 1], "c")
    with pytest.raises(ValueError, match="Expected queries of 4 values each"):
        monitor.observe(np.zeros((2, 5)), [0, 1], "c")
    with pytest.raises(ValueError, match=r"Expected one label per query \(2\)"):
        monitor.observe(np.zeros((2, 4)), [0], "c")
