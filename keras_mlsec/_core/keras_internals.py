"""Every use of a Keras private in keras_mlsec, in one place.

Keras does not promise to keep anything under `keras.src` or any underscore
attribute between releases. Each function below wraps one such internal and
raises `KerasInternalError` (naming the installed Keras version and the
internal) when it is gone, so a Keras upgrade fails loudly at the first use
and in `tests/_core/keras_internals_test.py`, never silently. Nothing else
in the package may import `keras.src` or read a Keras underscore attribute.
"""

import keras


class KerasInternalError(RuntimeError):
    """A Keras internal keras_mlsec relies on is missing from the installed Keras."""


def _missing(what, error=None):
    detail = f" ({type(error).__name__}: {error})" if error is not None else ""
    return KerasInternalError(
        f"keras_mlsec relies on the Keras internal `{what}`, which Keras "
        f"{keras.__version__} does not provide{detail}. This keras_mlsec release was tested "
        "with Keras 3.15; install that Keras version or a keras_mlsec release that "
        "supports yours.")


def _private(obj, name):
    try:
        return getattr(obj, name)
    except AttributeError as error:
        raise _missing(f"{type(obj).__name__}.{name}", error) from None


def _functional_class():
    try:
        from keras.src.models.functional import Functional
    except ImportError as error:
        raise _missing("keras.src.models.functional.Functional", error) from None
    return Functional


def is_functional(model):
    """Whether `model` is a functional (graph) model (`keras.src.models.functional.Functional`)."""
    return isinstance(model, _functional_class())


def nodes_by_depth(model):
    """A functional model's graph nodes, `{depth: [node, ...]}` (`model._nodes_by_depth`)."""
    return _private(model, "_nodes_by_depth")


def run_through_graph(model, inputs, operation_fn):
    """Runs a functional model's graph, calling `operation_fn(layer)(*args, **kwargs)` per node.

    Wraps `model._run_through_graph`; `inputs` should come from `standardize_inputs`.
    """
    return _private(model, "_run_through_graph")(inputs, operation_fn=operation_fn)


def standardize_inputs(model, inputs):
    """A functional model's inputs flattened as its graph expects (`model._standardize_inputs`)."""
    return _private(model, "_standardize_inputs")(inputs)


def flatten_layers(model, include_self=False, recursive=True):
    """Every layer of `model`, nested ones included (`model._flatten_layers`)."""
    return list(_private(model, "_flatten_layers")(include_self=include_self,
                                                   recursive=recursive))


def _masking():
    try:
        from keras.src.backend.common import masking
    except ImportError as error:
        raise _missing("keras.src.backend.common.masking", error) from None
    return masking


def get_keras_mask(tensor):
    """The Keras mask attached to `tensor` (e.g. by an Embedding with mask_zero), or None."""
    return _private(_masking(), "get_keras_mask")(tensor)


def set_keras_mask(tensor, mask):
    """Attaches a Keras mask to `tensor`, as a layer's `__call__` does."""
    _private(_masking(), "set_keras_mask")(tensor, mask)


def loss_tracker(model):
    """The `Mean` metric behind a compiled model's reported `loss` (`model._loss_tracker`)."""
    return _private(model, "_loss_tracker")


def unscale_loss_for_distribution(loss):
    """Undoes the per-replica loss scaling of a distribution strategy (`keras.src.losses`)."""
    try:
        from keras.src.losses.loss import unscale_loss_for_distribution as unscale
    except ImportError as error:
        raise _missing("keras.src.losses.loss.unscale_loss_for_distribution", error) from None
    return unscale(loss)


def eval_data_adapter(model):
    """The data adapter of the validation data `fit` is iterating (`model._eval_epoch_iterator`).

    Only set during `fit` with validation data, after the first evaluation;
    None before that.
    """
    iterator = _private(model, "_eval_epoch_iterator")
    return None if iterator is None else _private(iterator, "data_adapter")


def load_model_from_fileobj(fileobj, *, custom_objects=None, compile=True, safe_mode=True):
    """Loads a `.keras` archive from an open binary file, without a temporary copy.

    Wraps `keras.src.saving.saving_lib.load_model`, which (unlike the public
    `keras.models.load_model`) accepts a file object.
    """
    try:
        from keras.src.saving import saving_lib
    except ImportError as error:
        raise _missing("keras.src.saving.saving_lib", error) from None
    load = _private(saving_lib, "load_model")
    return load(fileobj, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def linear_twin(layer):
    """A twin of `layer` that shares its variables and state but has a linear activation.

    The twin is a shallow copy (same weights, same configuration, its own
    `activation`), so calling it gives the layer's pre-activation output
    without ever modifying `layer` (thread-safe, and the user's model is
    never changed). This relies on the layer's `call` reading
    `self.activation`, as every Keras layer with an `activation` argument
    (Dense, Conv*, ...) does.

    Raises:
        KerasInternalError: when the layer has no `activation` attribute.
    """
    if "activation" not in vars(layer):
        raise _missing(f"{type(layer).__name__}.activation (an instance attribute read by "
                       "its call)")
    twin = object.__new__(type(layer))
    twin.__dict__.update(vars(layer))
    twin.__dict__["activation"] = keras.activations.linear
    return twin
