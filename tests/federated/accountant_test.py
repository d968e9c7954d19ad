import math

import dp_accounting
import pytest
from dp_accounting import rdp

from keras_mlsec.federated import DPFedAvg, federated_epsilon, noise_multiplier_for_rounds
from keras_mlsec.federated.accountant import max_rounds


def _direct(event, rounds, relation, delta):
    account = rdp.RdpAccountant(neighboring_relation=relation)
    account.compose(dp_accounting.SelfComposedDpEvent(event, rounds))
    return account.get_epsilon(delta)


def test_poisson_rounds_match_dp_accounting():
    ours = federated_epsilon(rounds=50, noise_multiplier=1.1, clients_per_round=10,
                             num_clients=100, delta=1e-5, sampling="poisson")
    event = dp_accounting.PoissonSampledDpEvent(0.1, dp_accounting.GaussianDpEvent(1.1))
    assert ours == pytest.approx(_direct(event, 50, dp_accounting.NeighboringRelation
                                         .ADD_OR_REMOVE_ONE, 1e-5), rel=1e-9)


def test_full_participation_is_the_gaussian_mechanism():
    ours = federated_epsilon(rounds=20, noise_multiplier=5.0, clients_per_round=5,
                             num_clients=5, delta=1e-3)
    direct = _direct(dp_accounting.GaussianDpEvent(5.0), 20,
                     dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE, 1e-3)
    assert ours == pytest.approx(direct, rel=1e-9)


def test_fixed_size_sampling_uses_replace_one_with_twice_the_sensitivity():
    ours = federated_epsilon(rounds=10, noise_multiplier=2.0, clients_per_round=3,
                             num_clients=30, delta=1e-4)
    event = dp_accounting.SampledWithoutReplacementDpEvent(
        30, 3, dp_accounting.GaussianDpEvent(1.0))
    assert ours == pytest.approx(_direct(event, 10, dp_accounting.NeighboringRelation
                                         .REPLACE_ONE, 1e-4), rel=1e-9)


def test_epsilon_grows_with_rounds_and_edge_cases():
    values = [federated_epsilon(rounds=r, noise_multiplier=1.0, clients_per_round=2,
                                num_clients=10, delta=1e-5, sampling="poisson")
              for r in (0, 1, 5, 20)]
    assert values[0] == 0.0 and values[1] < values[2] < values[3]
    assert math.isinf(federated_epsilon(rounds=1, noise_multiplier=0.0, clients_per_round=2,
                                        num_clients=10, delta=1e-5))


def test_max_rounds_and_noise_search_agree_with_epsilon():
    common = {"clients_per_round": 5, "num_clients": 5, "delta": 1e-3}
    sigma = noise_multiplier_for_rounds(3.0, rounds=20, **common)
    assert federated_epsilon(rounds=20, noise_multiplier=sigma, **common) <= 3.0
    assert federated_epsilon(rounds=20, noise_multiplier=sigma * 0.99, **common) > 3.0
    allowed = max_rounds(3.0, noise_multiplier=sigma, **common)
    assert allowed >= 20
    assert federated_epsilon(rounds=allowed + 1, noise_multiplier=sigma, **common) > 3.0
    assert max_rounds(0.01, noise_multiplier=0.5, **common) == 0


def test_dp_fedavg_caps_the_rounds():
    dp = DPFedAvg(noise_multiplier=4.0, clipping_norm=1.0, clients_per_round=5,
                  target_epsilon=2.0, delta=1e-3, num_clients=5)
    allowed = dp.rounds_allowed(100)
    assert 0 < allowed < 100
    assert dp.epsilon(allowed) <= 2.0 < dp.epsilon(allowed + 1)
    assert dp.rounds_allowed(1) == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"clients_per_round": 6, "num_clients": 5}, "clients_per_round"),
    ({"delta": 1.5}, "delta"),
    ({"sampling": "uniform"}, "sampling"),
    ({"accountant": "gdp"}, "accountant"),
    ({"noise_multiplier": -1.0}, "noise_multiplier"),
])
def test_bad_accountant_arguments(kwargs, match):
    args = {"rounds": 3, "noise_multiplier": 1.0, "clients_per_round": 2, "num_clients": 5,
            "delta": 1e-5, **kwargs}
    with pytest.raises(ValueError, match=match):
        federated_epsilon(**args)
