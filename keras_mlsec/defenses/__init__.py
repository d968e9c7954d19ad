"""Preprocessing defenses as Keras layers.

Each defense is a `keras.layers.Layer` placed in front of a classifier::

    defended = keras.Sequential([FeatureSqueezing(bit_depth=4), classifier])

`JPEGCompression`, `MedianFilter` and `FeatureSqueezing` are deterministic and
non-differentiable; they pass gradients straight through (BPDA), so attacks
such as `keras_mlsec.attacks.pgd` see through them, and the robustness they
report is not an artefact of hidden gradients. `RandomizedSmoothing` adds
Gaussian noise (`stochastic = True`; evaluate it with EOT) and `certify`
returns a certified L2 radius (Cohen et al. 2019).

Against model extraction: `OutputHardening` (a layer reducing what the
served model reveals), `QueryMonitor` (PRADA) and `GuardedModel` (per-client
budgets and monitoring, raising `ExtractionAlert`).
"""

from keras_mlsec.defenses.certification.randomized_smoothing import RandomizedSmoothing, certify
from keras_mlsec.defenses.detection.adaptive_pgd import adaptive_pgd
from keras_mlsec.defenses.detection.backdoor_scan import BackdoorScan
from keras_mlsec.defenses.detection.detect_poison import detect_poison
from keras_mlsec.defenses.detection.neural_cleanse import neural_cleanse
from keras_mlsec.defenses.detection.poison_report import PoisonReport
from keras_mlsec.defenses.detection.repair_backdoor import repair_backdoor
from keras_mlsec.defenses.detection.query_monitor import QueryMonitor
from keras_mlsec.defenses.extraction_alert import ExtractionAlert
from keras_mlsec.defenses.guarded_model import GuardedModel
from keras_mlsec.defenses.output_hardening import OutputHardening
from keras_mlsec.defenses.detection.squeezing_detector import FeatureSqueezingDetector
from keras_mlsec.defenses.detection.strip import STRIP
from keras_mlsec.defenses.preprocessing.feature_squeezing import FeatureSqueezing
from keras_mlsec.defenses.preprocessing.jpeg_compression import JPEGCompression
from keras_mlsec.defenses.preprocessing.median_filter import MedianFilter

__all__ = ["FeatureSqueezing", "JPEGCompression", "MedianFilter", "RandomizedSmoothing",
           "certify"]
__all__ += ["FeatureSqueezingDetector", "adaptive_pgd"]
__all__ += ["BackdoorScan", "PoisonReport", "STRIP", "detect_poison", "neural_cleanse",
            "repair_backdoor"]  # training-time poisoning: detection, filtering, repair
__all__ += ["ExtractionAlert", "GuardedModel", "OutputHardening", "QueryMonitor"]
