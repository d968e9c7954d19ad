"""`server_app`: a Flower ServerApp running a (robust, private) strategy on a Keras model."""

import logging
import time

import numpy as np
from flwr.app import ArrayRecord, MetricRecord
from flwr.serverapp import ServerApp
from flwr.serverapp import strategy as flower

from keras_mlsec._core import validation as v
from keras_mlsec._core.files import atomic_write_bytes
from keras_mlsec.federated._keras_weights import built_model, metric_value
from keras_mlsec.federated.dp_fedavg import UNIT_WEIGHT_KEY, DPFedAvg
from keras_mlsec.federated.federated_history import FederatedHistory
from keras_mlsec.federated.norm_bounded_fedavg import NormBoundedFedAvg
from keras_mlsec.federated.validated_strategy import ValidatedStrategy

LOGGER = logging.getLogger("keras_mlsec.federated")
STRATEGIES = ("fedavg", "fedmedian", "trimmed_mean", "krum", "multikrum", "bulyan",
              "norm_bounded")


def required_clients(strategy, num_malicious):
    """Fewest clients a named strategy needs against `num_malicious` Byzantine ones."""
    f = num_malicious
    return {"krum": 2 * f + 3, "multikrum": 2 * f + 3, "bulyan": 4 * f + 3,
            "trimmed_mean": 2 * f + 1, "fedmedian": 2 * f + 1}.get(strategy, 1)


def server_app(model_fn, *, strategy="fedavg", num_rounds, dp=None, evaluate_data=None,
               num_malicious=0, norm_bound=None, max_update_norm=None, min_clients=2,
               fraction_train=1.0, round_timeout=600.0, federated_evaluation=None,
               history_path=None):
    """A Flower `ServerApp` running `strategy` on `model_fn()` for `num_rounds` rounds.

    Every training reply is screened first (`ValidatedStrategy`: client
    errors, wrong arrays, NaN/inf, update norm above `max_update_norm`); the
    accepted ones go to the strategy; the round goes on with at least
    `min_clients` accepted updates. The run's `FederatedHistory` is kept on
    `app.history` (simulation) and written to `history_path` or to the run
    config's `history-path` when set (deployment).

    Args:
        model_fn: returns the compiled `keras.Model` (the same as the clients').
        strategy: "fedavg", "fedmedian", "trimmed_mean", "krum", "multikrum",
            "bulyan" (Flower's classes), "norm_bounded" (`NormBoundedFedAvg`,
            needs `norm_bound`), or any `flwr.serverapp.strategy.Strategy`.
        num_rounds: training rounds (fewer when `dp.target_epsilon` would be
            exceeded); a run config's `num-server-rounds` (`flwr run
            --run-config`) takes precedence.
        dp: a `DPFedAvg`, or None. Needs strategy "fedavg" (or your own).
        evaluate_data: `(x, y)` for server-side evaluation of the global model
            after every round; client-side evaluation is then skipped unless
            `federated_evaluation=True`.
        num_malicious: Byzantine clients the robust rules tolerate (Krum,
            MultiKrum and Bulyan `num_malicious_nodes`; trimmed mean trims
            `max(num_malicious / clients, 0.1)` at each end, capped below 0.5).
        norm_bound: clipping bound of "norm_bounded".
        max_update_norm: updates with a larger L2 norm are rejected.
        min_clients: fewest accepted updates to aggregate a round; also the
            fewest connected clients the run waits for.
        fraction_train: fraction of the clients sampled each round.
        round_timeout: seconds to wait for the replies of a round.
        federated_evaluation: force client-side evaluation on or off.
        history_path: where to write the history as JSON.

    Returns:
        A `flwr.serverapp.ServerApp`; `app.history` holds the last run's history.

    Raises:
        ValueError: for an unknown strategy, a strategy needing more clients
            than `min_clients`, DP with a robust rule, or bad numbers.
        TypeError: if `model_fn` does not return a compiled `keras.Model`.

    Example:
        >>> app = server_app(model_fn, strategy="krum", num_rounds=20, num_malicious=1,
        ...                  evaluate_data=(x_test, y_test))
    """
    built_model(model_fn)
    num_rounds = v.check_positive_int(num_rounds, "num_rounds")
    min_clients = v.check_positive_int(min_clients, "min_clients")
    num_malicious = int(v.check_non_negative(num_malicious, "num_malicious"))
    if isinstance(strategy, str):
        v.check_choice(strategy, STRATEGIES, "strategy")
        need = required_clients(strategy, num_malicious)
        if strategy == "norm_bounded" and norm_bound is None:
            raise ValueError('Expected `norm_bound` with strategy="norm_bounded". '
                             "Received: norm_bound=None")
        if dp is not None and strategy not in ("fedavg",):
            raise ValueError('Expected strategy="fedavg" with `dp`: the DP noise is calibrated '
                             "to an average of clipped updates. Received: "
                             f"strategy={strategy!r}")
    elif isinstance(strategy, flower.Strategy):
        need = 1
    else:
        raise ValueError(f"Expected `strategy` to be one of {STRATEGIES} or a Flower Strategy. "
                         f"Received: strategy={strategy!r}")
    if dp is not None and not isinstance(dp, DPFedAvg):
        raise TypeError(f"Expected `dp` to be a DPFedAvg or None. Received: dp of type "
                        f"{type(dp).__name__}")
    if evaluate_data is not None:
        evaluate_data = v.check_pair(evaluate_data, "evaluate_data")
    if federated_evaluation is None:
        federated_evaluation = evaluate_data is None
    app = ServerApp()
    app.required_clients = max(need, min_clients)
    app.history = None

    @app.main()
    def main(grid, context):
        started = time.time()
        model = built_model(model_fn)
        num_clients = _wait_for_clients(grid, app.required_clients, round_timeout)
        rule = strategy if not isinstance(strategy, str) else _named(
            strategy, num_clients=num_clients, num_malicious=num_malicious, dp=dp,
            norm_bound=norm_bound, min_clients=min_clients, fraction_train=fraction_train,
            federated_evaluation=federated_evaluation)
        planned = int(context.run_config.get("num-server-rounds", num_rounds))
        rounds, stop = planned, None
        if dp is not None:
            rule = dp.wrap(rule, num_clients)
            rounds = dp.rounds_allowed(planned, num_clients)
            if rounds < planned:
                stop = (f"target_epsilon={dp.target_epsilon} reached: {rounds} of {planned} "
                        "rounds run")
                LOGGER.warning(stop)
        guard = ValidatedStrategy(
            rule, max_update_norm=max_update_norm, min_clients=min_clients,
            epsilon_fn=None if dp is None else (lambda r: dp.epsilon(r, num_clients)))
        result = guard.start(grid=grid, initial_arrays=ArrayRecord(model.get_weights()),
                             num_rounds=rounds, timeout=round_timeout,
                             evaluate_fn=_evaluator(model, evaluate_data))
        history = FederatedHistory.from_run(
            result, guard.rounds, strategy=strategy if isinstance(strategy, str)
            else type(strategy).__name__, num_clients=num_clients, stopped=stop,
            dp=None if dp is None else dp.get_config(), seconds=time.time() - started)
        app.history = history
        app.final_weights = result.arrays.to_numpy_ndarrays()
        path = history_path or context.run_config.get("history-path")
        if path:  # atomically: a deployment watches for this file
            atomic_write_bytes(str(path), (history.to_json() + "\n").encode("utf-8"))

    return app


def _wait_for_clients(grid, count, timeout):
    deadline = time.time() + timeout
    while len(list(grid.get_node_ids())) < count:
        if time.time() > deadline:
            raise ValueError(f"Expected at least {count} connected clients for this strategy. "
                             f"Received: {len(list(grid.get_node_ids()))} after {timeout} s")
        time.sleep(0.5)
    return len(list(grid.get_node_ids()))


def _named(name, *, num_clients, num_malicious, dp, norm_bound, min_clients, fraction_train,
           federated_evaluation):
    """Builds Flower's strategy for `name` (ours for "norm_bounded")."""
    need = required_clients(name, num_malicious)
    if num_clients < need:
        raise ValueError(f"Expected at least {need} clients for strategy={name!r} with "
                         f"num_malicious={num_malicious}. Received: {num_clients} clients")
    common = {"fraction_train": 1.0 if dp is not None and dp.sampling == "poisson"
              else fraction_train,
              "fraction_evaluate": 1.0 if federated_evaluation else 0.0,
              "min_train_nodes": min_clients, "min_available_nodes": min_clients,
              "min_evaluate_nodes": min_clients if federated_evaluation else 0}
    if dp is not None:
        common["weighted_by_key"] = UNIT_WEIGHT_KEY
    if name == "fedavg":
        return flower.FedAvg(**common)
    if name == "fedmedian":
        return flower.FedMedian(**common)
    if name == "trimmed_mean":
        beta = min(max(num_malicious / num_clients, 0.1), 0.49)
        return flower.FedTrimmedAvg(beta=beta, **common)
    if name == "krum":
        return flower.Krum(num_malicious_nodes=num_malicious, **common)
    if name == "multikrum":
        return flower.MultiKrum(num_malicious_nodes=num_malicious,
                                num_nodes_to_select=max(num_clients - num_malicious, 1), **common)
    if name == "bulyan":
        return flower.Bulyan(num_malicious_nodes=num_malicious, **common)
    return NormBoundedFedAvg(norm_bound=norm_bound, **common)


def _evaluator(model, data):
    """Flower's `evaluate_fn`: the global model's loss and accuracy on `data`."""
    if data is None:
        return None
    x, y = data

    def evaluate(server_round, arrays):
        model.set_weights(arrays.to_numpy_ndarrays())
        logs = model.evaluate(x, y, batch_size=512, verbose=0, return_dict=True)
        values = {"loss": metric_value(logs, "loss"), "accuracy": metric_value(logs, "accuracy")}
        return MetricRecord({k: float(np.nan_to_num(val, nan=np.inf))
                             for k, val in values.items() if val is not None})

    return evaluate
