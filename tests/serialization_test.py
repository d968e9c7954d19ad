"""Everything keras_mlsec registers with Keras' serialization round-trips.

The test walks the whole package, collects every class registered under the
"keras_mlsec" package, and checks `from_config(get_config())` for each. Layers
and models also go through a `.keras` file and must give the same outputs.
A newly registered class fails `test_every_registered_class_has_an_example`
until it gets an example below: nothing registered goes untested.
"""

import importlib
import pkgutil

import keras
import numpy as np
import pytest

import keras_mlsec


def _import_everything():
    for info in pkgutil.walk_packages(keras_mlsec.__path__, "keras_mlsec."):
        if ".cli" in info.name:
            continue  # command modules: no registered classes, some import optional extras
        importlib.import_module(info.name)


_import_everything()
REGISTERED = {name: cls for name, cls in keras.saving.get_custom_objects().items()
              if name.startswith("keras_mlsec>")}


def _mlp(output="logits"):
    from keras_mlsec.datasets import reference_model

    return reference_model("mlp", (64,), 10, output=output, seed=0)


def _wrappers():
    from keras_mlsec.privacy import DPModel
    from keras_mlsec.training import AdversarialModel

    from keras_mlsec.responsible import AdversarialDebiasingModel

    return (AdversarialModel, DPModel, AdversarialDebiasingModel)  # wrap an MLP on 64 features


_WRAPPERS = _wrappers()


def _image_model(layer):
    inputs = keras.Input((8, 8, 1))
    hidden = layer(inputs)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(hidden))
    return keras.Model(inputs, outputs)


def _examples():
    from keras_mlsec import attacks, callbacks, defenses, privacy, training

    return {
        # attacks: configuration objects
        "FGSM": lambda: attacks.FGSM(eps=0.1, norm="l2"),
        "PGD": lambda: attacks.PGD(eps=0.05, steps=3, seed=1),
        "BIM": lambda: attacks.BIM(eps=0.05, steps=3),
        "MIM": lambda: attacks.MIM(eps=0.05, steps=3, decay_factor=0.5),
        "APGD": lambda: attacks.APGD(eps=0.05, steps=3, loss="dlr"),
        "SquareAttack": lambda: attacks.SquareAttack(eps=0.05, steps=10),
        "FAB": lambda: attacks.FAB(norm="l2", steps=3, num_target_classes=2),
        "CarliniWagnerL2": lambda: attacks.CarliniWagnerL2(steps=3, confidence=1.0),
        # layers: inside a model, through a .keras file
        "FeatureSqueezing": lambda: _image_model(defenses.FeatureSqueezing(bit_depth=3)),
        "JPEGCompression": lambda: _image_model(defenses.JPEGCompression(quality=60)),
        "MedianFilter": lambda: _image_model(defenses.MedianFilter(size=3)),
        "RandomizedSmoothing": lambda: _image_model(
            defenses.RandomizedSmoothing(sigma=0.25, seed=3)),
        "OutputHardening": lambda: _served_model(defenses.OutputHardening("top_k", k=2)),
        # training wrappers: models
        "AdversarialModel": lambda: training.AdversarialModel(
            _mlp(), attack=attacks.PGD(eps=0.1, steps=2), seed=0),
        "DPModel": lambda: privacy.DPModel(_mlp(), l2_norm_clip=1.0, noise_multiplier=1.0,
                                           seed=0),
        "AdversarialDebiasingModel": lambda: _debiasing(),
        # callbacks without data arrays
        "PrivacyBudget": lambda: callbacks.PrivacyBudget(target_epsilon=3.0, delta=1e-5,
                                                         noise_multiplier=1.1),
        "SignedModelCheckpoint": lambda: _signed_checkpoint(),
    }


def _debiasing():
    from keras_mlsec.datasets import reference_model
    from keras_mlsec.responsible import AdversarialDebiasingModel

    return AdversarialDebiasingModel(reference_model("mlp", (64,), 2, seed=0), protected=0,
                                     fairness="equalized_odds", adversary_weight=0.5)


def _served_model(layer):
    inputs = keras.Input((6,))
    return keras.Model(inputs, layer(keras.layers.Dense(3, activation="softmax")(inputs)))


def _signed_checkpoint():
    import tempfile

    from keras_mlsec import callbacks, integrity

    directory = tempfile.mkdtemp()
    key, _ = integrity.generate_keypair(f"{directory}/key.pem")
    return callbacks.SignedModelCheckpoint(f"{directory}/model.keras", private_key=key,
                                           monitor="loss")


def test_the_walk_finds_the_registered_classes():
    assert {"keras_mlsec>PGD", "keras_mlsec>DPModel", "keras_mlsec>FeatureSqueezing"} <= set(
        REGISTERED)


def test_every_registered_class_has_an_example():
    missing = sorted(name.split(">", 1)[1] for name in REGISTERED)
    missing = [name for name in missing if name not in _examples()]
    assert not missing, f"registered with Keras but not round-trip tested here: {missing}"


@pytest.mark.parametrize("name", sorted(name.split(">", 1)[1] for name in REGISTERED))
def test_round_trip(name, tmp_path):
    example = _examples()[name]()
    cls = REGISTERED[f"keras_mlsec>{name}"]
    if isinstance(example, keras.Model):
        _check_model_round_trip(example, tmp_path)
        if issubclass(cls, keras.Model):
            return
        example = next(layer for layer in example.layers if type(layer) is cls)
    assert isinstance(example, cls)
    config = example.get_config()
    clone = cls.from_config(config)
    assert type(clone) is cls
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(example))
    assert type(restored) is cls and restored.get_config() == config


def _check_model_round_trip(model, tmp_path):
    shape = (64,) if isinstance(model, _WRAPPERS) else model.input_shape[1:]
    x = np.random.default_rng(0).uniform(0, 1, (4, *shape)).astype("float32")
    expected = model.predict(x, verbose=0)
    clone = type(model).from_config(model.get_config())
    assert type(clone) is type(model)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded) is type(model)
    for restored, saved in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    if any(getattr(layer, "stochastic", False) for layer in model.layers):
        return  # a random layer (noise): equal weights and configs, outputs differ by design
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
