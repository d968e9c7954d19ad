"""Federated learning on Flower: Keras clients and servers, robust and private aggregation.

    import keras_mlsec.federated as kf

    clients = kf.client_app(model_fn, load_partition, epochs=1,
                            byzantine=kf.byzantine("sign_flip", clients=[1]))
    server = kf.server_app(model_fn, strategy="krum", num_malicious=1, num_rounds=20,
                           evaluate_data=(x_test, y_test))
    history = kf.simulate(clients, server, num_clients=5)

Built on Flower's Message API (`flwr` 1.42): the same apps run in Flower's
simulation engine or on a SuperLink with SuperNodes (`flwr run`). Imported
lazily: flwr, TensorFlow and dp_accounting load on first use.
"""

from keras_mlsec._core.lazy import lazy_exports

_EXPORTS = {
    "client_app": "keras_mlsec.federated.client",
    "server_app": "keras_mlsec.federated.server",
    "simulate": "keras_mlsec.federated.simulation",
    "FederatedHistory": "keras_mlsec.federated.federated_history",
    "DPFedAvg": "keras_mlsec.federated.dp_fedavg",
    "federated_epsilon": "keras_mlsec.federated.accountant",
    "noise_multiplier_for_rounds": "keras_mlsec.federated.accountant",
    "Byzantine": "keras_mlsec.federated.byzantine_clients",
    "byzantine": "keras_mlsec.federated.byzantine_clients",
    "NormBoundedFedAvg": "keras_mlsec.federated.norm_bounded_fedavg",
    "ValidatedStrategy": "keras_mlsec.federated.validated_strategy",
    "partition": "keras_mlsec.federated.partitioning",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
