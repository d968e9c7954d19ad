"""The Flower App: keras_mlsec's ClientApp and ServerApp on the embedded digits data.

Each SuperNode is started with `--node-config "partition-id=I num-partitions=N"`
and trains on its IID share of the digits training split; the server
evaluates the global model on the test split after every round, screens every
update (norm bound 50) and runs FedAvg.
"""

import keras

from keras_mlsec.datasets import load_digits
from keras_mlsec.federated import client_app, partition, server_app


def model_fn():
    """A small MLP on flattened 8x8 digits, compiled."""
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.SGD(0.3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def load_partition(partition_id, num_partitions):
    """The node's IID share of the digits training split."""
    (x, y), _ = load_digits(flatten=True)
    return partition(x, y, num_partitions, iid=True, seed=0)[partition_id]


_, TEST = load_digits(flatten=True)
clients = client_app(model_fn, load_partition, epochs=1, batch_size=32, seed=0)
server = server_app(model_fn, strategy="fedavg", num_rounds=2, evaluate_data=TEST,
                    max_update_norm=50.0, min_clients=3)
