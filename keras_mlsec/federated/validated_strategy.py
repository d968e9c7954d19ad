"""A Flower strategy wrapper that checks every client update before aggregation."""

import logging

from flwr.serverapp.strategy import Strategy

from keras_mlsec._core import validation as v
from keras_mlsec.federated._updates import update_problem

LOGGER = logging.getLogger("keras_mlsec.federated")


def _partition_of(message):
    """The `partition-id` a keras_mlsec client reports in its metrics, or None."""
    for record in message.content.metric_records.values():
        if "partition-id" in record:
            return int(record["partition-id"])
    return None


def _screen(replies, global_weights, max_update_norm):
    """Splits replies into (accepted messages, rejected entries, error count)."""
    accepted, rejected, errors = [], [], 0
    for message in replies:
        node = int(message.metadata.src_node_id)
        if message.has_error():
            errors += 1
            rejected.append({"node": node, "partition": None,
                             "reason": f"client error: {message.error.reason}"})
            continue
        records = list(message.content.array_records.values())
        if len(records) != 1:
            reason = f"expected one ArrayRecord, got {len(records)}"
        else:
            try:
                weights = records[0].to_numpy_ndarrays()
            except Exception as error:  # an undecodable array is a refused update
                reason = f"undecodable arrays ({error})"
            else:
                reason = update_problem(weights, global_weights, max_norm=max_update_norm)
        if reason is None:
            accepted.append(message)
        else:
            rejected.append({"node": node, "partition": _partition_of(message), "reason": reason})
    return accepted, rejected, errors


class ValidatedStrategy(Strategy):
    """Screens client updates for a Flower strategy, then lets it aggregate.

    Every training reply is checked against the global model sent that round:
    replies carrying an error (a crashed client), one ArrayRecord of the wrong
    number of arrays, shapes or dtypes, NaN or infinite values, or an update
    whose L2 norm exceeds `max_update_norm` are refused; each refusal is
    logged with its reason and kept in `rounds`. Clients that time out or drop
    out simply send no reply. The round goes on with the accepted updates as
    long as at least `min_clients` remain; otherwise the global model is kept
    unchanged for that round.

    Built by `server_app`; use it directly to guard any Flower strategy.

    Args:
        strategy: the Flower strategy that aggregates the accepted updates.
        max_update_norm: largest accepted L2 norm of `client - global`
            weights, or None for no bound.
        min_clients: fewest accepted updates a round needs (>= 1).
        epsilon_fn: optional `rounds -> epsilon` of the privacy accountant,
            recorded after every aggregated round.

    Attributes:
        rounds: one dict per training round: `round`, `sampled`, `accepted`
            (partition ids), `rejected` (`node`, `partition`, `reason`),
            `dropped` (sampled clients that never answered), `aggregated`
            and `epsilon`.

    Example:
        >>> from flwr.serverapp.strategy import FedMedian
        >>> strategy = ValidatedStrategy(FedMedian(), max_update_norm=10.0, min_clients=3)
    """

    def __init__(self, strategy, *, max_update_norm=None, min_clients=2, epsilon_fn=None):
        if not isinstance(strategy, Strategy):
            raise TypeError(
                "Expected `strategy` to be a flwr.serverapp.strategy.Strategy. "
                f"Received: strategy of type {type(strategy).__name__}")
        self.strategy = strategy
        self.max_update_norm = (None if max_update_norm is None
                                else v.check_positive(max_update_norm, "max_update_norm"))
        self.min_clients = v.check_positive_int(min_clients, "min_clients")
        self.epsilon_fn = epsilon_fn
        self.rounds = []
        self._global_weights = None
        self._sampled = 0

    def configure_train(self, server_round, arrays, config, grid):
        """Remembers the global weights, then lets the wrapped strategy sample clients."""
        self._global_weights = arrays.to_numpy_ndarrays()
        messages = list(self.strategy.configure_train(server_round, arrays, config, grid))
        self._sampled = len(messages)
        return messages

    def aggregate_train(self, server_round, replies):
        """Refuses bad updates, then aggregates the others with the wrapped strategy."""
        replies = list(replies)
        accepted, rejected, errors = _screen(replies, self._global_weights, self.max_update_norm)
        for entry in rejected:
            LOGGER.warning("round %d: update from node %d (partition %s) rejected: %s",
                           server_round, entry["node"], entry["partition"], entry["reason"])
        dropped = max(self._sampled - len(replies), 0)
        record = {"round": int(server_round), "sampled": self._sampled,
                  "accepted": [_partition_of(m) for m in accepted], "rejected": rejected,
                  "dropped": dropped, "aggregated": False, "epsilon": None}
        self.rounds.append(record)
        if len(accepted) < self.min_clients:
            LOGGER.warning("round %d: %d accepted update(s) < min_clients=%d; global model "
                           "kept", server_round, len(accepted), self.min_clients)
            return None, None
        arrays, metrics = self.strategy.aggregate_train(server_round, accepted)
        record["aggregated"] = arrays is not None
        if self.epsilon_fn is not None:
            done = sum(1 for r in self.rounds if r["aggregated"])
            record["epsilon"] = float(self.epsilon_fn(done))
            LOGGER.info("round %d: epsilon spent %.4g", server_round, record["epsilon"])
        return arrays, metrics

    def configure_evaluate(self, server_round, arrays, config, grid):
        """Delegates to the wrapped strategy."""
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round, replies):
        """Delegates to the wrapped strategy, without the replies that carry errors."""
        return self.strategy.aggregate_evaluate(
            server_round, [m for m in replies if not m.has_error()])

    def summary(self):
        """Logs the screening settings, then the wrapped strategy's summary."""
        LOGGER.info("ValidatedStrategy: max_update_norm=%s, min_clients=%d",
                    self.max_update_norm, self.min_clients)
        self.strategy.summary()
