"""Every use of a Keras private, in one place, each behind a function with a check.

keras_mlsec walks models and writes `train_step`s the way Keras does itself,
which needs a few names Keras does not make public. Each function below is
the only place one such name is used; when a Keras release drops or renames
it, the function raises `RuntimeError` naming the Keras version instead of an
`AttributeError` deep inside a training step
(`tests/_core/keras_internals_test.py` exercises every one).
"""

import keras


def _missing(what):
    return RuntimeError(
        f"keras_mlsec relies on the Keras internal {what}, which this Keras "
        f"({keras.__version__}) does not have. keras_mlsec is tested with Keras 3.15; "
        "install that version or report the incompatibility.")


def _functional_class():
    try:
        return keras.src.models.functional.Functional
    except AttributeError:
        raise _missing("keras.src.models.functional.Functional") from None


def is_functional(model):
    """Whether `model` is a functional model (a `Sequential` with an input is one too)."""
    return isinstance(model, _functional_class())


def _method(model, name):
    method = getattr(model, name, None)
    if method is None:
        raise _missing(f"{type(model).__name__}.{name}")
    return method


def nodes_by_depth(model):
    """`{depth: [Node]}` of a functional model's graph (the output nodes at depth 0)."""
    nodes = getattr(model, "_nodes_by_depth", None)
    if nodes is None:
        raise _missing(f"{type(model).__name__}._nodes_by_depth")
    return nodes


def run_through_graph(model, inputs, operation_fn):
    """Runs a functional model's graph on `inputs`, calling `operation_fn(op)(*args)` per node.

    Returns the outputs in the model's output structure (one tensor for one output).
    """
    return _method(model, "_run_through_graph")(inputs, operation_fn=operation_fn)


def standardize_inputs(model, inputs):
    """A functional model's inputs as the flat list `run_through_graph` expects."""
    return _method(model, "_standardize_inputs")(inputs)


def flatten_layers(model):
    """Every layer inside `model`, recursively (nested models and their layers), not itself."""
    return list(_method(model, "_flatten_layers")(include_self=False, recursive=True))


def _masking():
    try:
        from keras.src.backend.common import masking
    except ImportError:
        raise _missing("keras.src.backend.common.masking") from None
    return masking


def get_keras_mask(tensor):
    """The Keras mask attached to `tensor` (e.g. by an Embedding with mask_zero), or None."""
    return _masking().get_keras_mask(tensor)


def set_keras_mask(tensor, mask):
    """Attaches a Keras mask to `tensor`, as a layer's `__call__` does."""
    _masking().set_keras_mask(tensor, mask)


def loss_tracker(model):
    """The `Mean` metric behind a compiled model's reported `loss` (what `train_step` updates)."""
    tracker = getattr(model, "_loss_tracker", None)
    if tracker is None:
        raise _missing(f"{type(model).__name__}._loss_tracker (is the model compiled?)")
    return tracker


def unscale_loss_for_distribution(loss):
    """Undoes the division of a loss by the number of replicas, for reporting."""
    try:
        from keras.src.losses.loss import unscale_loss_for_distribution as unscale
    except ImportError:
        raise _missing("keras.src.losses.loss.unscale_loss_for_distribution") from None
    return unscale(loss)
