"""FeatureSqueezingDetector: threshold from clean data, detection, adaptive attack, errors."""

import numpy as np
import pytest

from keras_mlsec.attacks import fgsm, pgd
from keras_mlsec.defenses import (FeatureSqueezing, FeatureSqueezingDetector, MedianFilter,
                                  adaptive_pgd)
from test_case import digits, trained_model

EPS = 0.1


def _setup():
    model = trained_model("mlp", 28, epochs=5)
    _, (x, y) = digits(28)
    return model, x, y


def _fitted(model, x):
    return FeatureSqueezingDetector(model).fit(x[:200], false_positive_rate=0.05)


def _detected_share(detector, model, x_adv, y):
    fooled = np.argmax(model.predict(np.asarray(x_adv), verbose=0), -1) != y
    flags, _ = detector.detect(x_adv)
    return float(np.mean(flags[fooled])), fooled


def test_threshold_gives_about_the_requested_false_positive_rate():
    model, x, _ = _setup()
    detector = _fitted(model, x)
    assert [type(s) for s in detector.squeezers] == [FeatureSqueezing, MedianFilter]
    flags, scores = detector.detect(x[200:])  # held-out clean examples
    assert flags.dtype == bool and scores.shape == (len(x) - 200,)
    assert 0.0 <= scores.min() and scores.max() <= 2.0
    assert abs(float(np.mean(flags)) - 0.05) <= 0.04
    fit_flags, _ = detector.detect(x[:200])
    assert abs(float(np.mean(fit_flags)) - 0.05) <= 0.011  # the quantile itself


def test_detects_most_fgsm_and_pgd_adversarials():
    model, x, y = _setup()
    detector = _fitted(model, x)
    xt, yt = x[200:], y[200:]
    for x_adv in (fgsm(model, xt, yt, eps=EPS), pgd(model, xt, yt, eps=EPS, steps=20, seed=0)):
        rate, fooled = _detected_share(detector, model, x_adv, yt)
        assert fooled.mean() > 0.5
        assert rate >= 0.6


def test_adaptive_attack_lowers_the_detection_rate():
    model, x, y = _setup()
    detector = _fitted(model, x)
    xt, yt = x[200:], y[200:]
    naive, _ = _detected_share(detector, model, pgd(model, xt, yt, eps=EPS, steps=20, seed=0), yt)
    x_adv = adaptive_pgd(detector, xt, yt, eps=EPS, detector_weight=1.0, steps=20, seed=0)
    assert x_adv.shape == xt.shape and np.abs(x_adv - xt).max() <= EPS + 1e-6
    adaptive, fooled = _detected_share(detector, model, x_adv, yt)
    assert fooled.mean() > 0.5
    assert adaptive < naive


def test_callable_squeezers_and_flat_inputs():
    model = trained_model("mlp", 8)
    _, (x, _) = digits(8)
    detector = FeatureSqueezingDetector(model, squeezers=[lambda t: t * 0 + 0.5])
    detector.fit(x[:50], false_positive_rate=0.1)
    flags, scores = detector.detect(x[:50])
    assert scores.shape == (50,) and np.mean(flags) <= 0.12
    assert len(FeatureSqueezingDetector(model).fit(x[:20]).squeezers) == 1  # no median on 8x8


def test_bad_inputs():
    model = trained_model("mlp", 8)
    _, (x, y) = digits(8)
    with pytest.raises(TypeError, match="Expected"):
        FeatureSqueezingDetector("model")
    with pytest.raises(ValueError, match="Received: squeezers"):
        FeatureSqueezingDetector(model, squeezers=[])
    with pytest.raises(TypeError, match="Expected every squeezer"):
        FeatureSqueezingDetector(model, squeezers=[3])
    detector = FeatureSqueezingDetector(model)
    with pytest.raises(ValueError, match="call `fit"):
        detector.detect(x[:4])
    for rate in (0.0, 1.0, -0.1, True, "0.05"):
        with pytest.raises(ValueError, match="false_positive_rate"):
            detector.fit(x[:10], false_positive_rate=rate)
    with pytest.raises(TypeError, match="FeatureSqueezingDetector"):
        adaptive_pgd(model, x[:4], y[:4], eps=0.1)
    with pytest.raises(ValueError, match="detector_weight"):
        adaptive_pgd(detector, x[:4], y[:4], eps=0.1, detector_weight=-1.0)
