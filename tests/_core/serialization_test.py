import warnings

import keras
import numpy as np
import pytest
from test_case import digits

from keras_mlsec.attacks import PGD
from keras_mlsec.datasets import reference_model
from keras_mlsec.privacy import DPModel
from keras_mlsec.training import AdversarialModel


@pytest.mark.parametrize("wrap", [
    lambda base: AdversarialModel(base, attack=PGD(eps=0.1, steps=2), seed=0),
    lambda base: DPModel(base, l2_norm_clip=1.0, noise_multiplier=1.0, seed=0),
], ids=["AdversarialModel", "DPModel"])
def test_wrapping_a_compiled_model_saves_and_loads_without_optimizer_warnings(tmp_path, wrap):
    (x_train, y_train), _ = digits()
    base = reference_model("mlp", x_train.shape[1:], 10, output="softmax", seed=0)
    assert base.compiled  # compiled by the user with its own optimizer, never used
    model = wrap(base)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x_train[:128], y_train[:128], epochs=1, batch_size=64, verbose=0)
    model.save(tmp_path / "wrapped.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.models.load_model(tmp_path / "wrapped.keras")
    assert not [w for w in caught if "variable loading" in str(w.message)]
    # The optimizer that trained (the wrapper's) is restored with its state.
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables) > 2
    for restored, trained in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_allclose(restored.numpy(), trained.numpy())
