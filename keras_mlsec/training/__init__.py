"""Robust training: adversarial training (PGD-AT, TRADES, FGSM-RS) as a Keras `train_step`.

    import keras_mlsec as km

    robust = km.training.AdversarialModel(model, attack=km.attacks.PGD(eps=0.1, steps=7))
    robust.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    robust.fit(x, y, epochs=10)

Imported lazily: TensorFlow loads on first use.
"""

from keras_mlsec._core.lazy import lazy_exports

_EXPORTS = {
    "AdversarialModel": "keras_mlsec.training.adversarial_model",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
