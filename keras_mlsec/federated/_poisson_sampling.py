"""Poisson client sampling for DP-FedAvg, as a Flower strategy wrapper."""

import logging

import numpy as np
from flwr.app import Array, ArrayRecord
from flwr.serverapp.strategy import Strategy

LOGGER = logging.getLogger("keras_mlsec.federated")


class PoissonSampling(Strategy):
    """Keeps each sampled client with probability `rate`; rescales to the expected count.

    The wrapped strategy must sample every client (`fraction_train=1`). With
    `k` clients kept out of `N`, the average of their updates is scaled by
    `k / (rate * N)`: the fixed-denominator estimator of McMahan et al. 2018,
    whose sensitivity `C / (rate * N)` is what the noise of Flower's DP
    wrapper (configured with `rate * N` sampled clients) assumes.
    """

    def __init__(self, strategy, rate, *, seed=None):
        self.strategy = strategy
        self.rate = float(rate)
        self._rng = np.random.default_rng(seed)
        self._global = None
        self._population = 0

    def configure_train(self, server_round, arrays, config, grid):
        """Samples every client with the wrapped strategy, then keeps each with `rate`."""
        self._global = arrays.to_numpy_ndarrays()
        messages = list(self.strategy.configure_train(server_round, arrays, config, grid))
        self._population = len(messages)
        keep = self._rng.random(len(messages)) < self.rate
        return [message for message, kept in zip(messages, keep) if kept]

    def aggregate_train(self, server_round, replies):
        """Aggregates with the wrapped strategy, then rescales the average update."""
        replies = [message for message in replies if not message.has_error()]
        arrays, metrics = self.strategy.aggregate_train(server_round, replies)
        if arrays is None:
            return arrays, metrics
        scale = len(replies) / (self.rate * self._population)
        return ArrayRecord({
            key: Array(np.asarray(old + (new - old) * scale, dtype=old.dtype))
            for key, new, old in zip(arrays.keys(), arrays.to_numpy_ndarrays(), self._global)
        }), metrics

    def configure_evaluate(self, server_round, arrays, config, grid):
        """Delegates to the wrapped strategy."""
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round, replies):
        """Delegates to the wrapped strategy."""
        return self.strategy.aggregate_evaluate(server_round, replies)

    def summary(self):
        """Logs the sampling rate, then the wrapped strategy's summary."""
        LOGGER.info("Poisson client sampling at rate %.4g", self.rate)
        self.strategy.summary()
