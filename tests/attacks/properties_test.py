"""Property tests: no attack returns NaN or leaves the eps ball or the clip range."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from keras_mlsec import attacks
from test_case import max_norm, trained_model

IMAGES = arrays(np.float32, (3, 8, 8, 1),
                elements=st.floats(0.0, 1.0, width=32, allow_nan=False))
SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(x=IMAGES, eps=st.floats(0.0, 0.5), name=st.sampled_from(["fgsm", "pgd", "bim", "mim"]),
       norm=st.sampled_from(["linf", "l2"]), targeted=st.booleans(),
       labels=st.lists(st.integers(0, 9), min_size=3, max_size=3))
def test_attack_output_is_finite_inside_ball_and_domain(x, eps, name, norm, targeted, labels):
    model = trained_model()
    config = {"eps": eps, "norm": norm, "targeted": targeted}
    if name != "fgsm":
        config["steps"] = 3
    x_adv = attacks.get(name, **config)(model, x, np.array(labels)).numpy()
    assert np.all(np.isfinite(x_adv))
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert max_norm(x_adv, x, norm) <= eps * (1 + 1e-5) + 1e-6


@SETTINGS
@given(low=st.floats(-2.0, 0.0), width=st.floats(0.5, 3.0), eps=st.floats(0.0, 0.5),
       seed=st.integers(0, 2 ** 16))
def test_pgd_respects_any_clip_domain(low, width, eps, seed):
    rng = np.random.default_rng(seed)
    high = low + width
    x = rng.uniform(low, high, (4, 8, 8, 1)).astype(np.float32)
    x_adv = attacks.pgd(trained_model(), x, eps=eps, steps=2, clip=(low, high), seed=seed).numpy()
    assert np.all(np.isfinite(x_adv))
    assert x_adv.min() >= np.float32(low) and x_adv.max() <= np.float32(high)
    assert max_norm(x_adv, x) <= eps * (1 + 1e-5) + 1e-6
