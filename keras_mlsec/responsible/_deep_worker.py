"""Child process of `explain(method="deep")`: shap.DeepExplainer on a saved model.

Usage: `python -m keras_mlsec.responsible._deep_worker FOLDER` with FOLDER holding
model.keras and inputs.npz (x, background); writes values.npz (values, base).
A failure exits non-zero and leaves the parent's TensorFlow state untouched.
"""

import os
import sys
import warnings

import keras
import numpy as np

import keras_mlsec.responsible.adversarial_debiasing_model  # noqa: F401 - registers the class


def main(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap

        model = keras.models.load_model(os.path.join(folder, "model.keras"), safe_mode=True)
        with np.load(os.path.join(folder, "inputs.npz")) as data:
            x, background = data["x"], data["background"]
        explainer = shap.DeepExplainer(model, background)
        values = np.asarray(explainer.shap_values(x))
    base = np.ravel(np.asarray(explainer.expected_value))
    np.savez(os.path.join(folder, "values.npz"), values=values, base=base)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
