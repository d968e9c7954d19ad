"""Fixtures of the audit tests: a small audited model and a real headless browser."""

import os
import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def chromium():
    """The path of Debian's chromium, installed (with chromium-driver) when missing.

    `make test` on a fresh machine gets it here: the test setup runs
    `apt-get update` and `apt-get install -y chromium chromium-driver` (needs root).
    """
    path = shutil.which("chromium")
    if path is None:
        if os.geteuid() != 0:
            pytest.fail("chromium is missing and installing it needs root: run "
                        "`apt-get install -y chromium chromium-driver`")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (["apt-get", "update"],
                        ["apt-get", "install", "-y", "chromium", "chromium-driver"]):
            subprocess.run(command, check=True, env=env, capture_output=True, timeout=900)
        path = shutil.which("chromium")
    assert path is not None, "chromium is still missing after apt-get install"
    return path


@pytest.fixture(scope="session")
def digits_audit(tmp_path_factory):
    """A real audit of a small digits CNN (every section, small budgets) and its HTML page."""
    import keras

    import keras_mlsec as km
    from keras_mlsec.datasets import load_digits, reference_model

    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = load_digits(8, seed=0)
    x, y = x[:600], y[:600]
    model = reference_model("cnn", (8, 8, 1), 10, seed=0)
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    budget = {"max_examples": 60, "shadow_models": 3, "shadow_epochs": 2,
              "inversion_steps": 20, "explain_examples": 4, "explain_background": 20,
              "explain_samples": 20, "backdoor_steps": 20, "extraction_queries": 300}
    result = km.audit(model, (x, y), (x_test[:200], y_test[:200]), budget=budget, verbose=0)
    directory = tmp_path_factory.mktemp("audit")
    return result, result.save_html(str(directory))
