import pytest

from federated_case import digits_flat, tiny_model, tiny_parts
from keras_mlsec.federated import byzantine, client_app, server_app, simulate
from keras_mlsec.federated.simulation import default_backend_config


@pytest.mark.slow
def test_ray_simulation_runs_rounds_and_screens_updates():
    parts = tiny_parts(3)
    _, (x, y) = digits_flat()
    clients = client_app(tiny_model, lambda pid, n: parts[pid], seed=0,
                         byzantine=byzantine("noise", clients=[2], scale=10.0))
    server = server_app(tiny_model, num_rounds=2, evaluate_data=(x[:200], y[:200]),
                        max_update_norm=20.0)
    history = simulate(clients, server, num_clients=3, backend_config=default_backend_config(2))
    assert [r["round"] for r in history.rounds] == [1, 2]
    assert all(sorted(r["accepted"]) == [0, 1] and r["rejected"][0]["partition"] == 2
               for r in history.rounds)
    assert history.final_accuracy > history.initial["accuracy"]


def test_simulate_checks_its_arguments():
    server = server_app(tiny_model, num_rounds=1)
    with pytest.raises(TypeError, match="client_app"):
        simulate(object(), server, num_clients=3)
    clients = client_app(tiny_model, lambda pid, n: tiny_parts(1)[0])
    with pytest.raises(ValueError, match="backend"):
        simulate(clients, server, num_clients=3, backend="threads")
    with pytest.raises(ValueError, match="num_clients"):
        simulate(clients, server, num_clients=1)
