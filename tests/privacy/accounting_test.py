import math

import dp_accounting
import pytest
from dp_accounting import pld, rdp

from keras_mlsec.privacy import compute_epsilon, noise_multiplier_for

SETUP = dict(num_examples=60000, batch_size=256, epochs=15, delta=1e-5)


def _reference(accountant, q, sigma, steps, delta):
    account = rdp.RdpAccountant() if accountant == "rdp" else pld.PLDAccountant()
    account.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps))
    return account.get_epsilon(delta)


@pytest.mark.parametrize("num_examples,batch_size,epochs,sigma,delta", [
    (60000, 256, 15, 1.1, 1e-5),
    (1000, 100, 3, 0.8, 1e-4),
    (50000, 500, 1, 2.0, 1e-6),
])
def test_rdp_epsilon_matches_dp_accounting(num_examples, batch_size, epochs, sigma, delta):
    steps = epochs * math.ceil(num_examples / batch_size)
    expected = _reference("rdp", batch_size / num_examples, sigma, steps, delta)
    ours = compute_epsilon(num_examples=num_examples, batch_size=batch_size, epochs=epochs,
                           noise_multiplier=sigma, delta=delta)
    assert ours == pytest.approx(expected, rel=1e-9)


def test_pld_epsilon_matches_dp_accounting_and_is_tighter():
    steps = 3 * math.ceil(1000 / 100)
    expected = _reference("pld", 0.1, 1.0, steps, 1e-4)
    ours = compute_epsilon(num_examples=1000, batch_size=100, epochs=3, noise_multiplier=1.0,
                           delta=1e-4, accountant="pld")
    assert ours == pytest.approx(expected, rel=1e-9)
    assert ours < compute_epsilon(num_examples=1000, batch_size=100, epochs=3,
                                  noise_multiplier=1.0, delta=1e-4)


def test_known_value_abadi_mnist_setting():
    # The classic MNIST setting (sigma 1.1, 60 epochs, q = 256/60000) is about eps 3 by RDP.
    eps = compute_epsilon(num_examples=60000, batch_size=256, epochs=60,
                          noise_multiplier=1.1, delta=1e-5)
    assert 2.5 < eps < 3.5


def test_monotonic_in_noise_and_epochs():
    by_noise = [compute_epsilon(**SETUP, noise_multiplier=s) for s in (0.7, 1.0, 1.5, 3.0)]
    assert all(a > b for a, b in zip(by_noise, by_noise[1:]))
    setup = dict(SETUP)
    by_epochs = []
    for epochs in (1, 5, 20):
        setup["epochs"] = epochs
        by_epochs.append(compute_epsilon(**setup, noise_multiplier=1.1))
    assert all(a < b for a, b in zip(by_epochs, by_epochs[1:]))


def test_zero_noise_is_infinite_epsilon():
    assert compute_epsilon(**SETUP, noise_multiplier=0.0) == math.inf


@pytest.mark.parametrize("target", [1.0, 3.0, 8.0])
def test_noise_multiplier_for_round_trips(target):
    sigma = noise_multiplier_for(target, **SETUP)
    eps = compute_epsilon(**SETUP, noise_multiplier=sigma)
    assert eps <= target
    assert eps == pytest.approx(target, rel=1e-2)
    # A slightly smaller noise overshoots the target: sigma is (nearly) the smallest.
    assert compute_epsilon(**SETUP, noise_multiplier=sigma * 0.99) > target


def test_noise_multiplier_for_unreachable_target():
    with pytest.raises(ValueError, match="target_epsilon"):
        noise_multiplier_for(1e-9, **SETUP)


@pytest.mark.parametrize("override,match", [
    (dict(noise_multiplier=-0.1), "noise_multiplier"),
    (dict(delta=1e-3, num_examples=1000), "delta"),
    (dict(delta=0.0), "delta"),
    (dict(batch_size=70000), "batch_size"),
    (dict(epochs=0), "epochs"),
    (dict(accountant="moments"), "accountant"),
])
def test_bad_input(override, match):
    kwargs = dict(SETUP, noise_multiplier=1.0)
    kwargs.update(override)
    with pytest.raises(ValueError, match=match):
        compute_epsilon(**kwargs)


def test_bad_target_epsilon():
    with pytest.raises(ValueError, match="target_epsilon"):
        noise_multiplier_for(-1.0, **SETUP)
    with pytest.raises(ValueError, match="delta"):
        noise_multiplier_for(1.0, num_examples=100, batch_size=10, epochs=1, delta=0.5)
