"""User-level privacy accounting for DP-FedAvg rounds, through `dp_accounting`.

One round of DP-FedAvg (McMahan et al. 2018) samples `clients_per_round` of
`num_clients` clients, clips each sampled client's update to L2 norm `C`,
averages and adds Gaussian noise of std `noise_multiplier * C /
clients_per_round`: a subsampled Gaussian mechanism on the sum of clipped
updates, with one *client* (all of its data) as the unit of privacy.

* ``sampling="poisson"``: every client joins a round independently with
  probability ``q = clients_per_round / num_clients``; add-or-remove-one
  neighbours; dp_accounting's ``PoissonSampledDpEvent``.
* ``sampling="fixed"``: exactly ``clients_per_round`` clients are drawn
  without replacement (Flower's own sampling). With every client in every
  round this is the plain Gaussian mechanism (add-or-remove-one). With a
  strict subset it is dp_accounting's ``SampledWithoutReplacementDpEvent``,
  which is defined for replace-one neighbours; replacing a client moves the
  clipped sum by up to ``2 C``, so the event gets ``noise_multiplier / 2``.

Rounds compose (``SelfComposedDpEvent``); the "rdp" accountant (Renyi DP,
Mironov 2017) or the tighter "pld" (privacy loss distributions) gives epsilon.
"""

import math

from keras_mlsec._core import validation as v
from keras_mlsec.privacy.accounting import smallest_noise_multiplier

SAMPLINGS = ("fixed", "poisson")
ACCOUNTANTS = ("rdp", "pld")


def check_population(clients_per_round, num_clients):
    """Checks `1 <= clients_per_round <= num_clients`; returns both as ints."""
    clients_per_round = v.check_positive_int(clients_per_round, "clients_per_round")
    num_clients = v.check_positive_int(num_clients, "num_clients")
    if clients_per_round > num_clients:
        raise ValueError(
            f"Expected `clients_per_round` <= num_clients ({num_clients}): a round cannot "
            f"sample more clients than exist. Received: clients_per_round={clients_per_round}")
    return clients_per_round, num_clients


def round_event(noise_multiplier, *, clients_per_round, num_clients, sampling="fixed"):
    """The dp_accounting event of one DP-FedAvg round and its neighbouring relation.

    Returns:
        `(event, neighboring_relation)`.
    """
    import dp_accounting

    relation = dp_accounting.NeighboringRelation
    gaussian = dp_accounting.GaussianDpEvent(noise_multiplier)
    if clients_per_round >= num_clients:
        return gaussian, relation.ADD_OR_REMOVE_ONE
    if sampling == "poisson":
        return (dp_accounting.PoissonSampledDpEvent(clients_per_round / num_clients, gaussian),
                relation.ADD_OR_REMOVE_ONE)
    return (dp_accounting.SampledWithoutReplacementDpEvent(
        num_clients, clients_per_round, dp_accounting.GaussianDpEvent(noise_multiplier / 2.0)),
        relation.REPLACE_ONE)


def federated_epsilon(*, rounds, noise_multiplier, clients_per_round, num_clients, delta,
                      sampling="fixed", accountant="rdp"):
    """Epsilon of `rounds` DP-FedAvg rounds at user level.

    Args:
        rounds: number of aggregated rounds (0 gives 0.0).
        noise_multiplier: noise std divided by the clipping norm, >= 0.
        clients_per_round: clients sampled per round (expected count for Poisson).
        num_clients: size of the client population.
        delta: target delta in (0, 1).
        sampling: "fixed" (Flower's sampling without replacement) or "poisson".
        accountant: "rdp" or "pld".

    Returns:
        Epsilon as a float; `inf` without noise.

    Raises:
        ValueError: for bad arguments.

    Example:
        >>> federated_epsilon(rounds=20, noise_multiplier=1.0, clients_per_round=10,
        ...                   num_clients=100, delta=1e-5, sampling="poisson")

    Reference:
        McMahan, Ramage, Talwar and Zhang 2018, "Learning Differentially
        Private Recurrent Language Models".
    """
    from dp_accounting import SelfComposedDpEvent, pld, rdp

    rounds = int(rounds)
    if rounds < 0:
        raise ValueError(f"Expected `rounds` >= 0. Received: rounds={rounds}")
    noise_multiplier = v.check_non_negative(noise_multiplier, "noise_multiplier")
    clients_per_round, num_clients = check_population(clients_per_round, num_clients)
    delta = _check_delta(delta)
    v.check_choice(sampling, SAMPLINGS, "sampling")
    v.check_choice(accountant, ACCOUNTANTS, "accountant")
    if rounds == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    event, relation = round_event(noise_multiplier, clients_per_round=clients_per_round,
                                  num_clients=num_clients, sampling=sampling)
    if accountant == "rdp":
        account = rdp.RdpAccountant(neighboring_relation=relation)
    else:
        account = pld.PLDAccountant(neighboring_relation=relation)
    account.compose(SelfComposedDpEvent(event, rounds))
    return float(account.get_epsilon(delta))


def max_rounds(target_epsilon, *, noise_multiplier, clients_per_round, num_clients, delta,
               sampling="fixed", accountant="rdp", limit=100000):
    """The most rounds whose epsilon stays within `target_epsilon` (0 if none does)."""
    target_epsilon = v.check_positive(target_epsilon, "target_epsilon")

    def fits(rounds):
        return federated_epsilon(rounds=rounds, noise_multiplier=noise_multiplier,
                                 clients_per_round=clients_per_round, num_clients=num_clients,
                                 delta=delta, sampling=sampling,
                                 accountant=accountant) <= target_epsilon

    if not fits(1):
        return 0
    low, high = 1, 2
    while high <= limit and fits(high):
        low, high = high, high * 2
    if high > limit:
        return limit
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def noise_multiplier_for_rounds(target_epsilon, *, rounds, clients_per_round, num_clients,
                                delta, sampling="fixed", accountant="rdp", tolerance=1e-3):
    """The smallest noise multiplier keeping `rounds` rounds within `target_epsilon`.

    Bisection (relative `tolerance`); the result's epsilon is at most the target.

    Raises:
        ValueError: for bad arguments or a target needing noise above 1e4.

    Example:
        >>> sigma = noise_multiplier_for_rounds(3.0, rounds=20, clients_per_round=5,
        ...                                     num_clients=5, delta=1e-3)
    """
    target_epsilon = v.check_positive(target_epsilon, "target_epsilon")

    def epsilon(sigma):
        return federated_epsilon(rounds=rounds, noise_multiplier=sigma,
                                 clients_per_round=clients_per_round, num_clients=num_clients,
                                 delta=delta, sampling=sampling, accountant=accountant)

    return smallest_noise_multiplier(epsilon, target_epsilon, tolerance=tolerance,
                                     setting=f"over {rounds} rounds",
                                     advice="Raise the target or run fewer rounds.")


def _check_delta(delta):
    delta = v.check_positive(delta, "delta")
    if delta >= 1:
        raise ValueError(f"Expected `delta` in (0, 1). Received: delta={delta}")
    return delta
