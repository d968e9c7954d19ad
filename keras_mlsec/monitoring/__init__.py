"""Production monitoring: distribution-drift tests (pure NumPy/SciPy, no Keras).

`detect_drift(reference, current, test="ks" | "psi" | "chi2" | "mmd")` returns
a `DriftReport`; `keras_mlsec.callbacks.DriftMonitor` runs it during `fit`
and on production traffic.
"""

from keras_mlsec.monitoring.statistics import adjust_p_values
from keras_mlsec.monitoring.drift import detect_drift
from keras_mlsec.monitoring.statistics import mmd_test
from keras_mlsec.monitoring.statistics import population_stability_index
from keras_mlsec.monitoring.drift_report import DriftReport

__all__ = [
    "DriftReport",
    "adjust_p_values",
    "detect_drift",
    "mmd_test",
    "population_stability_index",
]
