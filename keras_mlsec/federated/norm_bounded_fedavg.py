"""Norm-bounded averaging against model replacement (Sun et al. 2019)."""

import logging

import numpy as np
from flwr.app import Array, ArrayRecord
from flwr.serverapp.strategy import FedAvg

from keras_mlsec._core import validation as v
from keras_mlsec.federated._updates import clip_update

LOGGER = logging.getLogger("keras_mlsec.federated")


class NormBoundedFedAvg(FedAvg):
    """FedAvg over client updates clipped to an L2 norm bound.

    Every client's update `client - global` is scaled down to L2 norm at most
    `norm_bound` before Flower's FedAvg averages the clipped models. A boosted
    update (model replacement: the attacker scales its backdoored update by
    about the number of clients so that it survives averaging) loses its
    boost, while honest updates, usually smaller than the bound, pass
    unchanged. Flower ships no such strategy; this one only adds the clipping
    step to Flower's `FedAvg`.

    Args:
        norm_bound: largest L2 norm an update keeps (> 0).
        **kwargs: passed to `flwr.serverapp.strategy.FedAvg` (`fraction_train`,
            `min_train_nodes`, `weighted_by_key`...).

    Raises:
        ValueError: for a non-positive `norm_bound`.

    Example:
        >>> strategy = NormBoundedFedAvg(norm_bound=2.0, min_available_nodes=5)

    Reference:
        Sun, Kairouz, Suresh and McMahan 2019, "Can You Really Backdoor
        Federated Learning?"
    """

    def __init__(self, *, norm_bound, **kwargs):
        super().__init__(**kwargs)
        self.norm_bound = v.check_positive(norm_bound, "norm_bound")
        self._global_weights = None

    def configure_train(self, server_round, arrays, config, grid):
        """Remembers the global weights the clipping is measured from."""
        self._global_weights = arrays.to_numpy_ndarrays()
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round, replies):
        """Clips every update to `norm_bound`, then averages like FedAvg."""
        replies = list(replies)
        for message in replies:
            if message.has_error():
                continue
            for key, record in list(message.content.array_records.items()):
                clipped = clip_update(record.to_numpy_ndarrays(), self._global_weights,
                                      self.norm_bound)
                message.content[key] = ArrayRecord(
                    {name: Array(np.asarray(array))
                     for name, array in zip(record.keys(), clipped)})
        LOGGER.info("round %d: updates clipped to L2 norm %.4g", server_round, self.norm_bound)
        return super().aggregate_train(server_round, replies)

    def summary(self):
        """Logs the norm bound, then FedAvg's summary."""
        LOGGER.info("NormBoundedFedAvg: norm_bound=%.4g", self.norm_bound)
        super().summary()
