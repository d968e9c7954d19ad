"""`simulate`: one machine runs the whole federation with Flower's simulation engine."""

import os

from keras_mlsec._core import validation as v
from keras_mlsec.federated._inprocess_grid import run_in_process


def default_backend_config(num_cpus=None):
    """Ray settings for a small CPU machine: one CPU per client actor, no GPU, no dashboard.

    Args:
        num_cpus: CPUs Ray may use (None: all, at most 4); also the number of
            client actors running at once.
    """
    num_cpus = num_cpus or min(os.cpu_count() or 1, 4)
    return {"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": num_cpus, "include_dashboard": False,
                          "logging_level": "ERROR", "log_to_driver": False}}


BACKENDS = ("ray", "inprocess")


def simulate(client_app, server_app, *, num_clients, backend="ray", backend_config=None,
             verbose=False):
    """Runs `server_app` against `num_clients` simulated clients; returns the history.

    Flower's simulation engine (`flwr.simulation.run_simulation`, Ray
    backend) runs the ServerApp in this process and the ClientApps in Ray
    actors; every client sees `partition-id` 0..num_clients-1 and
    `num-partitions` = num_clients in its node config. `backend="inprocess"`
    keeps the same ServerApp and ClientApp but delivers each message by
    calling the ClientApp in this process, one client after another (no Ray
    start-up, no actor processes): for tests and small benchmarks.

    Args:
        client_app: a `flwr.clientapp.ClientApp` (from `client_app`).
        server_app: a `flwr.serverapp.ServerApp` from `server_app` (its
            history is what is returned).
        num_clients: number of simulated clients (SuperNodes).
        backend: "ray" (Flower's simulation engine) or "inprocess".
        backend_config: Flower's backend config; None uses
            `default_backend_config()` (one CPU per client actor).
        verbose: Flower's debug logging.

    Returns:
        The run's `FederatedHistory`.

    Raises:
        ValueError: for fewer clients than the server's strategy needs (e.g.
            Bulyan needs 4 f + 3), or when the run produced no history.
        TypeError: for apps of the wrong type.

    Example:
        >>> history = simulate(client_app(model_fn, load_partition),
        ...                    server_app(model_fn, num_rounds=5), num_clients=5)
        >>> history.plot("rounds.png")
    """
    from flwr.clientapp import ClientApp
    from flwr.serverapp import ServerApp
    from flwr.simulation import run_simulation

    if not isinstance(client_app, ClientApp):
        raise TypeError(f"Expected `client_app` to be a flwr ClientApp (see client_app()). "
                        f"Received: client_app of type {type(client_app).__name__}")
    if not isinstance(server_app, ServerApp):
        raise TypeError(f"Expected `server_app` to be a flwr ServerApp (see server_app()). "
                        f"Received: server_app of type {type(server_app).__name__}")
    num_clients = v.check_positive_int(num_clients, "num_clients")
    v.check_choice(backend, BACKENDS, "backend")
    need = getattr(server_app, "required_clients", 1)
    if num_clients < need:
        raise ValueError(f"Expected `num_clients` >= {need}, the clients the server's strategy "
                         "needs (Krum and MultiKrum 2f + 3, Bulyan 4f + 3, min_clients). "
                         f"Received: num_clients={num_clients}")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    if hasattr(server_app, "history"):
        server_app.history = None
    if backend == "inprocess":
        run_in_process(client_app, server_app, num_clients)
    else:
        run_simulation(server_app=server_app, client_app=client_app, num_supernodes=num_clients,
                       backend_config=backend_config or default_backend_config(),
                       verbose_logging=verbose)
    history = getattr(server_app, "history", None)
    if history is None:
        raise ValueError("Expected a ServerApp made by keras_mlsec.federated.server_app that "
                         "completes its run. Received: a run that left no history (see the "
                         "Flower log above for the server's error).")
    return history
