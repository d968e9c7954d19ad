"""Property tests: defense layers keep shape, dtype and range and never emit NaN."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from keras_mlsec.defenses import FeatureSqueezing, JPEGCompression, MedianFilter

SETTINGS = settings(max_examples=10, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
UNIT = st.floats(0.0, 1.0, width=32, allow_nan=False)


def image_batches(channels):
    return st.tuples(st.integers(1, 3), st.integers(2, 12), st.integers(2, 12),
                     st.sampled_from(channels)).flatmap(lambda s: arrays(np.float32, s,
                                                                         elements=UNIT))


def assert_kept(out, x, low=0.0, high=1.0):
    out = np.asarray(out)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert np.all(np.isfinite(out))
    assert out.min() >= low and out.max() <= high


@SETTINGS
@given(x=image_batches([1, 3]), quality=st.integers(1, 100))
def test_jpeg_keeps_shape_dtype_range(x, quality):
    assert_kept(JPEGCompression(quality=quality)(x), x)


@SETTINGS
@given(x=image_batches([1, 2, 3]), size=st.sampled_from([1, 3, 5]))
def test_median_keeps_shape_dtype_range_and_takes_input_values(x, size):
    out = MedianFilter(size=size)(x).numpy()
    assert_kept(out, x, x.min(), x.max())
    assert np.all(np.isin(out, x))


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4), bit_depth=st.integers(1, 16),
       # float32 bounds without subnormals: TensorFlow flushes those to zero on CPU.
       low=st.floats(-5.0, 5.0, width=32, allow_subnormal=False), width=st.floats(0.01, 10.0),
       seed=st.integers(0, 2 ** 16))
def test_squeezing_keeps_shape_dtype_range_on_any_shape(shape, bit_depth, low, width, seed):
    high = low + width
    x = np.random.default_rng(seed).uniform(low - 1, high + 1, shape).astype(np.float32)
    out = FeatureSqueezing(bit_depth=bit_depth, clip=(low, high))(x).numpy()
    assert_kept(out, x, np.float32(low), np.float32(high))
    assert len(np.unique(out)) <= 2 ** bit_depth
