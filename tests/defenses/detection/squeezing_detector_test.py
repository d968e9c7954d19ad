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


def _undetected_success(detector, model, x_adv, y):
    fooled = np.argmax(model.predict(np.asarray(x_adv), verbose=0), -1) != y
    flags, _ = detector.detect(x_adv)
    return float(np.mean(fooled & ~flags))


def test_adaptive_attack_bypasses_the_detector_far_more_often_than_pgd():
    model, x, y = _setup()
    detector = _fitted(model, x)
    xt, yt = x[200:300], y[200:300]
    plain = _undetected_success(detector, model, pgd(model, xt, yt, eps=EPS, steps=20, seed=0),
                                yt)
    x_adv = adaptive_pgd(detector, xt, yt, eps=EPS, targets=1, steps=60, seed=0)
    assert x_adv.shape == xt.shape and x_adv.dtype == np.float32
    assert np.abs(x_adv - xt).max() <= EPS + 1e-6
    assert 0.0 <= x_adv.min() and x_adv.max() <= 1.0
    adaptive = _undetected_success(detector, model, x_adv, yt)
    assert plain <= 0.3  # the detector catches most plain PGD examples...
    assert adaptive >= 0.5 and adaptive >= plain + 0.3  # ...and few adaptive ones


def test_adaptive_attack_l2_one_hot_labels_and_unfitted_detector():
    model, x, y = _setup()
    xt, yt = x[200:240], y[200:240]
    detector = FeatureSqueezingDetector(model)  # not fitted: the lowest score is kept
    x_adv = adaptive_pgd(detector, xt, np.eye(10)[yt], eps=1.5, norm="l2", steps=10,
                         targets=2, restarts=2, clip=None, seed=0)
    norms = np.sqrt(((x_adv - xt) ** 2).reshape(len(xt), -1).sum(-1))
    assert norms.max() <= 1.5 + 1e-4
    assert np.mean(np.argmax(model.predict(x_adv, verbose=0), -1) != yt) > 0.5
    assert detector.threshold is None


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
    for name, value in (("detector_weight", -1.0), ("confidence", -0.5), ("targets", 0),
                        ("targets", 10), ("targets", 1.5), ("restarts", 0), ("steps", 0),
                        ("step_size", 0.0), ("eps", -0.1)):
        with pytest.raises(ValueError, match=f"Received: {name}="):
            adaptive_pgd(detector, x[:4], y[:4], **{"eps": 0.1, name: value})
