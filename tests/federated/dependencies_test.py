"""The lock's one accepted conflict, and the tensorflow-privacy parts we use, beside flwr."""

import subprocess
import sys

import pytest

ALLOWED = ("tensorflow-privacy 0.9.0 has requirement packaging~=22.0, but you have "
           "packaging 25.0.")


@pytest.mark.slow
def test_pip_check_reports_only_the_packaging_conflict():
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                            text=True, timeout=300)
    assert result.stdout.strip().splitlines() == [ALLOWED], result.stdout + result.stderr


def test_flower_and_protobuf_versions_from_the_lock():
    import flwr
    import google.protobuf
    import packaging

    assert flwr.__version__ == "1.42.0"
    assert google.protobuf.__version__.startswith("6.33.")
    assert packaging.__version__ == "25.0"


def test_tensorflow_privacy_parts_we_use_still_work():
    import dp_accounting
    import numpy as np
    import tensorflow as tf

    sys.skip_tf_privacy_import = True
    from tensorflow_privacy.privacy.analysis import compute_dp_sgd_privacy_lib
    from tensorflow_privacy.privacy.dp_query import gaussian_query

    from keras_mlsec.privacy import accounting

    ours = accounting.compute_epsilon(num_examples=60000, batch_size=256, epochs=15,
                                      noise_multiplier=1.1, delta=1e-5)
    account = dp_accounting.rdp.RdpAccountant()
    account.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(
        256 / 60000, dp_accounting.GaussianDpEvent(1.1)), 15 * 235))
    assert ours == pytest.approx(account.get_epsilon(1e-5), rel=1e-9)
    statement = compute_dp_sgd_privacy_lib.compute_dp_sgd_privacy_statement(
        number_of_examples=60000, batch_size=256, num_epochs=15, noise_multiplier=1.1,
        delta=1e-5)
    assert "Epsilon" in statement
    # gaussian_query is the module that reads packaging.version (now 25.0).
    query = gaussian_query.GaussianSumQuery(l2_norm_clip=1.0, stddev=0.0)
    params = query.derive_sample_params(query.initial_global_state())
    record = query.preprocess_record(params, tf.constant([3.0, 4.0]))
    np.testing.assert_allclose(record.numpy(), [0.6, 0.8], rtol=1e-6)
