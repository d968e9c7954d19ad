import subprocess
import sys

import pytest

import keras_mlsec


def test_import_is_light():
    code = ("import sys, keras_mlsec; heavy = [m for m in ('tensorflow', 'keras', 'cleverhans', "
            "'shap', 'aif360', 'model_signing', 'matplotlib') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(keras_mlsec.__all__))
def test_every_public_name_resolves(name):
    assert getattr(keras_mlsec, name) is not None
    assert name in dir(keras_mlsec)


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        keras_mlsec.nope  # noqa: B018


@pytest.mark.parametrize("package", ["audit", "callbacks", "federated", "integrity", "privacy",
                                     "responsible", "training"])
def test_subpackage_exports_resolve(package):
    module = getattr(keras_mlsec, package)
    for name in module.__all__:
        assert getattr(module, name) is not None
