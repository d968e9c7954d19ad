"""`client_app`: a Flower ClientApp that trains and evaluates a Keras model."""

import numpy as np
import tensorflow as tf
from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from keras_mlsec._core import validation as v
from keras_mlsec.federated._keras_weights import built_model, metric_value, set_checked_weights
from keras_mlsec.federated.byzantine_clients import Byzantine
from keras_mlsec.federated.dp_fedavg import UNIT_WEIGHT_KEY, DPFedAvg


def client_app(model_fn, load_partition, *, epochs=1, batch_size=32, byzantine=None, dp=None,
               mods=(), seed=None):
    """A Flower `ClientApp` that trains `model_fn()` on the node's data partition.

    On a "train" message the client builds the model, loads the global
    weights from the message's ArrayRecord, fits `epochs` epochs on its
    partition and replies with its weights (an ArrayRecord) and a
    MetricRecord (`num-examples`, `train_loss`, `train_accuracy`,
    `partition-id`, `unit-weight`). On an "evaluate" message it replies with
    `eval_loss` and `eval_accuracy` on its evaluation data. The partition is
    the node's `partition-id` out of `num-partitions` (Flower's node config:
    set by the simulation engine, or `flower-supernode --node-config`).

    Args:
        model_fn: returns a compiled `keras.Model` (any model with `fit`,
            `evaluate` and weights, e.g. a `DPModel` for local DP-SGD or an
            `AdversarialModel` for robust local training). Called once here to
            check it, then once per message.
        load_partition: `load_partition(partition_id, num_partitions)` returns
            `(x, y)` (evaluation on the same data) or `((x, y), (x_eval, y_eval))`.
        epochs: local epochs per round.
        batch_size: local batch size.
        byzantine: a `Byzantine` making some partitions malicious (simulation).
        dp: the `DPFedAvg` of the server, when clients clip (`side="client"`).
        mods: extra Flower client mods.
        seed: seed of the local shuffling and of Byzantine noise.

    Returns:
        A `flwr.clientapp.ClientApp`.

    Raises:
        TypeError: if `model_fn` does not return a `keras.Model`, or for a
            `byzantine`/`dp` of the wrong type.
        ValueError: if the model is not compiled, for bad epochs or batch
            size; at run time, for empty or malformed partition data or
            weights that do not match the model.

    Example:
        >>> app = client_app(model_fn, lambda pid, n: parts[pid], epochs=1)
        >>> history = simulate(app, server_app(model_fn, num_rounds=3), num_clients=5)
    """
    built_model(model_fn)
    if not callable(load_partition):
        raise TypeError("Expected `load_partition` to be a function (partition_id, "
                        "num_partitions) -> (x, y). Received: load_partition of type "
                        f"{type(load_partition).__name__}")
    epochs = v.check_positive_int(epochs, "epochs")
    batch_size = v.check_positive_int(batch_size, "batch_size")
    seed = v.check_seed(seed)
    if byzantine is not None and not isinstance(byzantine, Byzantine):
        raise TypeError("Expected `byzantine` to be made by keras_mlsec.federated.byzantine(). "
                        f"Received: byzantine of type {type(byzantine).__name__}")
    if dp is not None and not isinstance(dp, DPFedAvg):
        raise TypeError(f"Expected `dp` to be a DPFedAvg or None. Received: dp of type "
                        f"{type(dp).__name__}")
    app = ClientApp(mods=[*mods, *(dp.client_mods() if dp is not None else [])])
    models = _ModelCache(model_fn)

    @app.train()
    def train(message, context):
        partition_id, (x, y), _ = _partition(load_partition, context)
        key, global_weights = _arrays(message)
        model = models.fresh(global_weights, name=f"message[{key!r}]")
        rng = np.random.default_rng(
            [seed or 0, partition_id, int(message.content["config"].get("server-round", 0))
             if "config" in message.content else 0])
        malicious = byzantine is not None and byzantine.is_malicious(partition_id)
        if malicious:
            num_classes = int(model(x[:1], training=False).shape[-1])
            x, y = byzantine.poison(x, y, num_classes, rng)
        logs = model.fit(_dataset(x, y, batch_size, rng), epochs=epochs, verbose=0,
                         shuffle=False).history
        weights = model.get_weights()
        if malicious:
            weights = byzantine.tamper(weights, global_weights, rng)
        metrics = _metrics(partition_id, len(x), loss=metric_value(logs, "loss"),
                           accuracy=metric_value(logs, "accuracy"), prefix="train")
        return Message(RecordDict({key: ArrayRecord(weights), "metrics": metrics}),
                       reply_to=message)

    @app.evaluate()
    def evaluate(message, context):
        partition_id, _, (x, y) = _partition(load_partition, context)
        key, global_weights = _arrays(message)
        model = models.fresh(global_weights, name=f"message[{key!r}]")
        logs = model.evaluate(x, y, batch_size=max(batch_size, 256), verbose=0,
                              return_dict=True)
        metrics = _metrics(partition_id, len(x), loss=metric_value(logs, "loss"),
                           accuracy=metric_value(logs, "accuracy"), prefix="eval")
        return Message(RecordDict({"metrics": metrics}), reply_to=message)

    return app


class _ModelCache:
    """One model per process, reset to a fresh state for every message.

    Building and compiling a Keras model for every message costs more than a
    round of local training on small data (graph tracing), so the model is
    built once per process (a Ray actor or a `flwr-clientapp` process) and
    each message only loads the global weights and puts the optimizer's
    variables back to the values they had right after it was built: no
    optimizer state (momentum, step count) leaks between rounds or between
    the partitions one process serves.
    """

    def __init__(self, model_fn):
        self.model_fn = model_fn
        self.model = None
        self.optimizer_state = None

    def fresh(self, weights, name):
        if self.model is None:
            model = built_model(self.model_fn)
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None and model.trainable_variables:
                if not optimizer.built:
                    optimizer.build(model.trainable_variables)
                self.optimizer_state = [np.array(var) for var in optimizer.variables]
            self.model = model
        set_checked_weights(self.model, weights, name=name)
        if self.optimizer_state is not None:
            for var, value in zip(self.model.optimizer.variables, self.optimizer_state):
                var.assign(value)
        return self.model


def _partition(load_partition, context):
    """`(partition_id, train pair, evaluation pair)` of this node, checked."""
    config = context.node_config
    for name in ("partition-id", "num-partitions"):
        if name not in config:
            raise ValueError(f"Expected the node config to set `{name}` (the simulation "
                             "engine does; a SuperNode needs --node-config \"partition-id=0 "
                             f"num-partitions=3\"). Received: node_config={dict(config)}")
    partition_id, count = int(config["partition-id"]), int(config["num-partitions"])
    data = load_partition(partition_id, count)
    what = f"load_partition({partition_id}, {count})"
    if (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(part, (tuple, list)) for part in data)):
        train = v.check_pair(tuple(data[0]), f"{what}[0]")
        return partition_id, train, v.check_pair(tuple(data[1]), f"{what}[1]")
    train = v.check_pair(data, what)
    return partition_id, train, train


def _arrays(message):
    """The key and weight list of the message's single ArrayRecord."""
    records = message.content.array_records
    if len(records) != 1:
        raise ValueError(f"Expected one ArrayRecord (the global model) in the message. "
                         f"Received: {len(records)} ArrayRecords")
    key, record = next(iter(records.items()))
    return key, record.to_numpy_ndarrays()


def _dataset(x, y, batch_size, rng):
    order = rng.permutation(len(x))
    return tf.data.Dataset.from_tensor_slices((x[order], y[order])).batch(batch_size)


def _metrics(partition_id, count, *, loss, accuracy, prefix):
    values = {"num-examples": int(count), UNIT_WEIGHT_KEY: 1, "partition-id": int(partition_id)}
    if loss is not None:
        values[f"{prefix}_loss"] = loss
    if accuracy is not None:
        values[f"{prefix}_accuracy"] = accuracy
    return MetricRecord(values)
