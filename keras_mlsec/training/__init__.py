"""Robust training: adversarial training as a Keras `train_step`."""

from keras_mlsec.training.adversarial_model import AdversarialModel

__all__ = ["AdversarialModel"]
