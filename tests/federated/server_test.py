import numpy as np
import pytest
from flwr.serverapp.strategy import FedMedian

from federated_case import digits_flat, tiny_model, tiny_parts
from keras_mlsec.federated import DPFedAvg, byzantine, client_app, server_app, simulate


def _clients(parts, **kwargs):
    return client_app(tiny_model, lambda pid, n: parts[pid], seed=0, **kwargs)


def _test_data():
    _, (x, y) = digits_flat()
    return x[:200], y[:200]


def test_rejects_a_noisy_client_and_still_learns():
    parts = tiny_parts(3)
    clients = _clients(parts, byzantine=byzantine("noise", clients=[2], scale=10.0))
    server = server_app(tiny_model, num_rounds=3, evaluate_data=_test_data(),
                        max_update_norm=20.0, min_clients=2)
    history = simulate(clients, server, num_clients=3, backend="inprocess")
    assert len(history.rounds) == 3 and history.rejected_count == 3
    for record in history.rounds:
        assert sorted(record["accepted"]) == [0, 1] and record["aggregated"]
        assert record["rejected"][0]["partition"] == 2
        assert "above the bound 20" in record["rejected"][0]["reason"]
    assert history.final_accuracy > history.initial["accuracy"] + 0.2


def test_a_failing_client_is_tolerated_down_to_min_clients():
    parts = tiny_parts(3)

    def load(pid, n):
        if pid == 1:
            raise OSError("disk gone")
        return parts[pid]

    server = server_app(tiny_model, num_rounds=2, evaluate_data=_test_data(), min_clients=2)
    history = simulate(client_app(tiny_model, load), server, num_clients=3, backend="inprocess")
    assert all(r["aggregated"] and sorted(r["accepted"]) == [0, 2] for r in history.rounds)
    assert "disk gone" in history.rounds[0]["rejected"][0]["reason"]
    strict = server_app(tiny_model, num_rounds=1, evaluate_data=_test_data(), min_clients=3)
    history = simulate(client_app(tiny_model, load), strict, num_clients=3, backend="inprocess")
    assert not history.rounds[0]["aggregated"]
    assert history.rounds[0]["accuracy"] == pytest.approx(history.initial["accuracy"])


def test_robust_strategy_by_name_and_object():
    parts = tiny_parts(5, per_client=40)
    clients = _clients(parts, byzantine=byzantine("sign_flip", clients=[0], scale=20.0))
    accuracy = {}
    for strategy in ("fedavg", "krum", FedMedian(min_available_nodes=5, fraction_evaluate=0.0)):
        server = server_app(tiny_model, strategy=strategy, num_rounds=3, num_malicious=1,
                            evaluate_data=_test_data())
        history = simulate(clients, server, num_clients=5, backend="inprocess")
        accuracy[history.strategy] = history.final_accuracy
        assert history.strategy in ("fedavg", "krum", "FedMedian")
    assert accuracy["krum"] > accuracy["fedavg"] + 0.1
    assert accuracy["FedMedian"] > accuracy["fedavg"] + 0.1


def test_dp_rounds_stop_before_the_target_and_epsilon_is_recorded():
    parts = tiny_parts(3)
    dp = DPFedAvg(noise_multiplier=3.0, clipping_norm=1.0, clients_per_round=3,
                  target_epsilon=2.0, delta=1e-3)
    server = server_app(tiny_model, num_rounds=50, dp=dp, evaluate_data=_test_data(),
                        min_clients=3)
    history = simulate(_clients(parts), server, num_clients=3, backend="inprocess")
    allowed = dp.rounds_allowed(50, 3)
    assert len(history.rounds) == allowed < 50 and "target_epsilon" in history.stopped
    epsilons = history.epsilons
    assert all(a < b for a, b in zip(epsilons, epsilons[1:])) and epsilons[-1] <= 2.0
    assert epsilons[-1] == pytest.approx(dp.epsilon(allowed, 3))


def test_bad_server_arguments():
    with pytest.raises(ValueError, match="strategy"):
        server_app(tiny_model, strategy="fedsgd", num_rounds=1)
    with pytest.raises(ValueError, match="norm_bound"):
        server_app(tiny_model, strategy="norm_bounded", num_rounds=1)
    with pytest.raises(ValueError, match='strategy="fedavg" with `dp`'):
        server_app(tiny_model, strategy="krum", num_rounds=1,
                   dp=DPFedAvg(noise_multiplier=1.0, clipping_norm=1.0, clients_per_round=2))
    with pytest.raises(ValueError, match="num_rounds"):
        server_app(tiny_model, num_rounds=0)
    with pytest.raises(ValueError, match="evaluate_data"):
        server_app(tiny_model, num_rounds=1, evaluate_data=(np.zeros((2, 64)), np.zeros(3)))


def test_bulyan_needs_4f_plus_3_clients():
    server = server_app(tiny_model, strategy="bulyan", num_rounds=1, num_malicious=1)
    assert server.required_clients == 7
    with pytest.raises(ValueError, match=r"num_clients` >= 7"):
        simulate(_clients(tiny_parts(5, 20)), server, num_clients=5, backend="inprocess")
