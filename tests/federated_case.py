"""Helpers of the federated tests: a tiny model, tiny client data, Flower messages."""

import functools

import keras
import numpy as np

from keras_mlsec.datasets import load_digits


@functools.lru_cache(maxsize=None)
def digits_flat():
    """Flattened digits, train and test (cached)."""
    return load_digits(flatten=True, seed=0)


def tiny_model():
    """A compiled softmax-regression model on 64 features (fast to build and fit)."""
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def tiny_parts(num_clients=3, per_client=60):
    """`num_clients` IID client data sets of `per_client` examples each."""
    (x, y), _ = digits_flat()
    return [(x[i * per_client:(i + 1) * per_client], y[i * per_client:(i + 1) * per_client])
            for i in range(num_clients)]


def train_message(weights, message_type=None, server_round=1):
    """A server-to-client message carrying `weights` (needs `flower_task`)."""
    from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, RecordDict

    content = RecordDict({"arrays": ArrayRecord([np.asarray(w) for w in weights]),
                          "config": ConfigRecord({"server-round": server_round})})
    return Message(content, dst_node_id=7, message_type=message_type or MessageType.TRAIN)


def node_context(partition_id, num_partitions):
    """The Context a SuperNode gives its ClientApp."""
    from flwr.app import Context, RecordDict

    return Context(run_id=1, node_id=7, state=RecordDict(), run_config={},
                   node_config={"partition-id": partition_id, "num-partitions": num_partitions})
