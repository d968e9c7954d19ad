"""(De)serialization of the network inside a training wrapper (`DPModel`, `AdversarialModel`)."""

import keras


def serialize_wrapped(model):
    """Config of a wrapped network, without the network's own compile settings.

    The wrapper's `compile` is what trains. An optimizer the user compiled
    the inner network with is never built, and restoring it would make
    `load_model` warn that its variables do not match the saved ones.
    """
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    return config


def deserialize_wrapped(config, custom_objects=None):
    """The wrapped network back from `serialize_wrapped`'s config."""
    return keras.saving.deserialize_keras_object(config, custom_objects=custom_objects)
