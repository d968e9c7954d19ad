"""Preprocessing defenses as Keras layers.

Each defense is a `keras.layers.Layer` placed in front of a classifier::

    defended = keras.Sequential([FeatureSqueezing(bit_depth=4), classifier])

`JPEGCompression`, `MedianFilter` and `FeatureSqueezing` are deterministic and
non-differentiable; they pass gradients straight through (BPDA), so attacks
such as `keras_mlsec.attacks.pgd` see through them, and the robustness they
report is not an artefact of hidden gradients. `RandomizedSmoothing` adds
Gaussian noise (`stochastic = True`; evaluate it with EOT) and `certify`
returns a certified L2 radius (Cohen et al. 2019).
"""

from keras_mlsec.defenses.feature_squeezing import FeatureSqueezing
from keras_mlsec.defenses.jpeg_compression import JPEGCompression
from keras_mlsec.defenses.median_filter import MedianFilter
from keras_mlsec.defenses.randomized_smoothing import RandomizedSmoothing, certify

__all__ = ["FeatureSqueezing", "JPEGCompression", "MedianFilter", "RandomizedSmoothing",
           "certify"]

from keras_mlsec.defenses.squeezing_detector import (  # noqa: E402
    FeatureSqueezingDetector, adaptive_pgd)

__all__ += ["FeatureSqueezingDetector", "adaptive_pgd"]
