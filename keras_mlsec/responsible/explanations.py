"""Feature attributions of a Keras model with shap 0.49 (`explain` -> `Explanation`).

"gradient" (default) is shap's `GradientExplainer` (expected gradients), which
works on Keras 3 models; "kernel" is `KernelExplainer` (model-agnostic,
slow: any callable); "deep" is `DeepExplainer` (DeepLIFT), which on this
stack can leave the process's gradient registry broken after a failure, so it
runs in a child process and a failure there is reported, never inherited.
"""

import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec._core.models import _softmax_output_layer
from keras_mlsec.responsible.explanation import Explanation

METHODS = ("gradient", "kernel", "deep")
OUTPUTS = ("model", "logits", "probabilities")


def _shap():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap
    return shap


def _check_background(background, x):
    background = v.check_inputs(background, name="background")
    if background.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"Expected `background` with the per-example shape of x {x.shape[1:]}. Received: "
            f"background with shape {background.shape}. Pass examples drawn like x, e.g. "
            "background=x_train[:100].")
    return background


def explained_model(model, output, input_shape):
    """A functional `keras.Model` with one input whose output is what will be explained."""
    import keras

    functional = model
    if not (getattr(model, "inputs", None) and len(model.inputs) == 1):
        inputs = keras.Input(input_shape)
        functional = keras.Model(inputs, model(inputs))
    if output == "model":
        return functional
    layer, kind = _softmax_output_layer(model)
    if output == "probabilities":
        if layer is not None:
            return functional
        return keras.Model(functional.inputs, keras.layers.Softmax()(functional.outputs[0]))
    if layer is None:  # output == "logits" of a model that already returns logits
        return functional
    if kind == "layer":
        return keras.Model(functional.inputs, layer.input)
    linear = layer.__class__.from_config({**layer.get_config(), "activation": "linear",
                                          "name": layer.name + "_logits"})
    outputs = linear(layer.input)
    linear.set_weights(layer.get_weights())
    return keras.Model(functional.inputs, outputs)


def explain(model, x, *, background, method="gradient", output="model", nsamples=200, seed=0,
            feature_names=None, output_names=None, batch_size=50):
    """Attributes each prediction of `model` on `x` to the input features with shap.

    Args:
        model: a single-output `keras.Model`, or (method "kernel" only) any
            callable mapping a batch of inputs to a batch of scores.
        x: the examples to explain, shape `(n, ...)`.
        background: examples standing for "feature absent", with x's
            per-example shape (typically 50-200 training examples).
        method: "gradient" (shap `GradientExplainer`, default), "kernel"
            (`KernelExplainer`) or "deep" (`DeepExplainer`, in a child process).
        output: "model" (the model's outputs as they are), "logits" (the
            pre-softmax scores of a softmax model) or "probabilities" (a
            softmax is appended to a logits model).
        nsamples: samples per example ("gradient": background draws;
            "kernel": coalitions).
        seed: seed of shap's sampling (`rseed` of `shap_values`).
        feature_names: optional names of tabular features.
        output_names: optional names of the outputs (e.g. class names).
        batch_size: GradientExplainer batch size.

    Returns:
        An `Explanation`: `values` of shape `(n, *x.shape[1:], outputs)`,
        `base_values` (mean output on the background, per output),
        `top_features(k)`, `plot(path)`, `to_json()`.

    Raises:
        ValueError: for an unknown `method` or `output`, a background of the
            wrong shape, empty or non-finite inputs, or a DeepExplainer failure.
        TypeError: for a model that is neither a `keras.Model` nor (kernel) callable.

    Example:
        >>> explanation = explain(model, x_test[:20], background=x_train[:100])
        >>> explanation.top_features(5)
        >>> explanation.plot("shap.png")

    Reference:
        Lundberg and Lee, "A Unified Approach to Interpreting Model
        Predictions", NeurIPS 2017 (SHAP, kernel); Erion et al., "Improving
        performance of deep learning models with axiomatic attribution
        priors and expected gradients", Nature Machine Intelligence 2021.
    """
    import keras

    method = v.check_choice(method, METHODS, "method")
    output = v.check_choice(output, OUTPUTS, "output")
    x = v.check_inputs(x, name="x")
    background = _check_background(background, x)
    nsamples = v.check_positive_int(nsamples, "nsamples")
    seed = v.check_seed(seed)
    if not isinstance(model, keras.Model):
        if method != "kernel" or not callable(model):
            raise TypeError("Expected `model` to be a keras.Model (or, for method='kernel', a "
                            f"callable). Received: model of type {type(model).__name__}")
        values, base = _kernel(model, x, background, nsamples, seed)
    else:
        v.check_inputs(x, model=model, name="x")
        target = explained_model(model, output, x.shape[1:])
        if method == "gradient":
            values = _shap().GradientExplainer(target, background, batch_size=batch_size) \
                .shap_values(x, nsamples=nsamples, rseed=seed)
            base = _mean_output(target, background)
        elif method == "kernel":
            values, base = _kernel(lambda b: target.predict(b, verbose=0), x, background,
                                   nsamples, seed)
        else:
            values, base = _deep_in_child(target, x, background)
    values = np.asarray(values, np.float32)
    if values.ndim == x.ndim:  # one output: add its axis
        values = values[..., None]
    return Explanation(values=values, base_values=np.asarray(base, np.float32).reshape(-1),
                       data=x, feature_names=feature_names, output_names=output_names,
                       method=method, config={"output": output, "nsamples": nsamples,
                                              "seed": seed, "background": len(background)})


def _mean_output(model, x, batch_size=1024):
    """Mean model output over `x` (direct calls: cheaper than `predict` for a few batches)."""
    import keras

    total = 0.0
    for start in range(0, len(x), batch_size):
        out = keras.ops.convert_to_numpy(model(x[start:start + batch_size], training=False))
        total = total + out.reshape(len(out), -1).astype(np.float64).sum(0)
    return total / len(x)


def _kernel(function, x, background, nsamples, seed):
    shape = x.shape[1:]

    def flat_function(rows):
        out = np.asarray(function(np.asarray(rows, np.float32).reshape((-1, *shape))))
        return out.reshape(len(rows), -1)

    explainer = _shap().KernelExplainer(flat_function, background.reshape(len(background), -1))
    state = np.random.get_state()  # KernelExplainer samples coalitions from NumPy's global RNG
    np.random.seed(seed)
    try:
        values = np.asarray(explainer.shap_values(x.reshape(len(x), -1), nsamples=nsamples,
                                                  silent=True))
    finally:
        np.random.set_state(state)
    if values.ndim == 2:
        values = values[..., None]
    return values.reshape((len(x), *shape, values.shape[-1])), np.ravel(explainer.expected_value)


def _deep_in_child(model, x, background, timeout=600):
    """Runs shap.DeepExplainer in a child process (its failures can break TF's registry)."""
    with tempfile.TemporaryDirectory(prefix="km-deep-") as folder:
        model.save(os.path.join(folder, "model.keras"))
        np.savez(os.path.join(folder, "inputs.npz"), x=x, background=background)
        result = subprocess.run(
            [sys.executable, "-m", "keras_mlsec.responsible._deep_worker", folder],
            capture_output=True, text=True, timeout=timeout,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        out = os.path.join(folder, "values.npz")
        if result.returncode != 0 or not os.path.exists(out):
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise ValueError(
                "Expected shap.DeepExplainer to run on this model; it failed in its child "
                f"process (exit {result.returncode}): {' | '.join(tail)}. Received: "
                "method='deep'. Use method='gradient' (expected gradients), which supports "
                "every Keras 3 model.")
        with np.load(out) as data:
            return data["values"], data["base"]
