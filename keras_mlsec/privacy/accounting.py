"""Privacy accounting for DP-SGD, through Google's `dp_accounting`.

DP-SGD on `num_examples` examples with batches of `batch_size` is accounted
as the Poisson-subsampled Gaussian mechanism (Abadi et al. 2016), composed
once per optimizer step:

* sampling rate ``q = batch_size / num_examples``;
* ``steps = epochs * ceil(num_examples / batch_size)``;
* noise multiplier ``sigma``: the noise std divided by the clipping norm.

The accounting assumes Poisson sampling of each batch, the convention of
tensorflow-privacy and Opacus; Keras' shuffled fixed-size batches are the
usual stand-in. The "rdp" accountant uses Renyi DP (Mironov 2017) over
dp_accounting's default orders; "pld" uses privacy loss distributions, which
give tighter (smaller) epsilons at a higher cost.
"""

import math
import numbers

from keras_mlsec._core import validation as v

ACCOUNTANTS = ("rdp", "pld")
_MAX_NOISE_MULTIPLIER = 1e4


def _check_accountant(accountant):
    if isinstance(accountant, str) and accountant.lower() in ACCOUNTANTS:
        return accountant.lower()
    raise ValueError(
        f'Expected `accountant` to be "rdp" or "pld". Received: accountant={accountant!r}')


def check_training_setup(*, num_examples, batch_size, epochs, delta):
    """Checks the data/batch/epochs/delta description of a DP-SGD run.

    Returns:
        `(num_examples, batch_size, epochs, delta)` as (int, int, number, float).

    Raises:
        ValueError: for a batch larger than the data, a non-positive epoch
            count, or `delta` outside (0, 1 / num_examples).
    """
    num_examples = v.check_positive_int(num_examples, "num_examples")
    batch_size = v.check_positive_int(batch_size, "batch_size")
    if batch_size > num_examples:
        raise ValueError(
            f"Expected `batch_size` <= num_examples ({num_examples}): a batch cannot be "
            f"larger than the data. Received: batch_size={batch_size}")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Real) or not epochs > 0:
        raise ValueError(f"Expected `epochs` to be a number > 0. Received: epochs={epochs!r}")
    delta = v.check_positive(delta, "delta")
    if delta >= 1.0 / num_examples:
        raise ValueError(
            f"Expected `delta` < 1/num_examples = {1.0 / num_examples:.3g}: a larger delta "
            "allows releasing whole records. Use e.g. delta=1/(10 * num_examples). "
            f"Received: delta={delta}")
    return num_examples, batch_size, epochs, delta


def sampling_rate_and_steps(*, num_examples, batch_size, epochs):
    """Returns `(q, steps)`: `batch_size / num_examples` and the optimizer step count."""
    # The 1e-9 keeps a float epoch count such as 0.1 * 1000 = 100.00000000000001 at 100.
    steps = int(math.ceil(epochs * math.ceil(num_examples / batch_size) - 1e-9))
    return batch_size / num_examples, steps


def dp_sgd_event(q, noise_multiplier, steps):
    """The `dp_accounting` event of `steps` Poisson-subsampled Gaussian steps."""
    import dp_accounting

    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(noise_multiplier)),
        steps)


def epsilon_for_event(q, noise_multiplier, steps, delta, accountant="rdp"):
    """Epsilon of `steps` subsampled Gaussian steps; `inf` without noise."""
    from dp_accounting import pld, rdp

    if noise_multiplier == 0:
        return math.inf
    account = rdp.RdpAccountant() if accountant == "rdp" else pld.PLDAccountant()
    account.compose(dp_sgd_event(q, noise_multiplier, steps))
    return float(account.get_epsilon(delta))


def compute_epsilon(*, num_examples, batch_size, epochs, noise_multiplier, delta,
                    accountant="rdp"):
    """The (epsilon, delta)-DP guarantee of a DP-SGD run.

    Args:
        num_examples: size of the training set.
        batch_size: expected batch size (sampling rate `batch_size / num_examples`).
        epochs: passes over the data; steps are `epochs * ceil(num_examples / batch_size)`.
        noise_multiplier: noise std divided by `l2_norm_clip` (`sigma`), >= 0.
        delta: target delta, in (0, 1 / num_examples).
        accountant: "rdp" (Renyi DP) or "pld" (privacy loss distribution).

    Returns:
        Epsilon as a float; `inf` when `noise_multiplier` is 0.

    Raises:
        ValueError: for a negative `noise_multiplier`, `delta >= 1/num_examples`,
            a batch larger than the data or an unknown accountant.

    Example:
        >>> compute_epsilon(num_examples=60000, batch_size=256, epochs=15,
        ...                 noise_multiplier=1.1, delta=1e-5)

    Reference:
        Abadi et al. 2016, "Deep Learning with Differential Privacy";
        Mironov 2017, "Renyi Differential Privacy".
    """
    noise_multiplier = v.check_non_negative(noise_multiplier, "noise_multiplier")
    q, steps, delta, accountant = _run_setup(num_examples, batch_size, epochs, delta, accountant)
    return epsilon_for_event(q, noise_multiplier, steps, delta, accountant)


def _run_setup(num_examples, batch_size, epochs, delta, accountant):
    """Checks a training run; returns `(q, steps, delta, accountant)` for the accountant."""
    accountant = _check_accountant(accountant)
    num_examples, batch_size, epochs, delta = check_training_setup(
        num_examples=num_examples, batch_size=batch_size, epochs=epochs, delta=delta)
    q, steps = sampling_rate_and_steps(
        num_examples=num_examples, batch_size=batch_size, epochs=epochs)
    return q, steps, delta, accountant


def noise_multiplier_for(target_epsilon, *, num_examples, batch_size, epochs, delta,
                         accountant="rdp", tolerance=1e-3):
    """The smallest noise multiplier whose DP-SGD run stays within `target_epsilon`.

    Bisection on the noise multiplier: the result's epsilon is at most
    `target_epsilon`, and the noise is within a relative `tolerance` of the
    smallest such noise.

    Args:
        target_epsilon: the epsilon to reach, > 0.
        num_examples: as in `compute_epsilon`.
        batch_size: as in `compute_epsilon`.
        epochs: as in `compute_epsilon`.
        delta: as in `compute_epsilon`.
        accountant: as in `compute_epsilon`.
        tolerance: relative precision of the returned noise multiplier.

    Returns:
        The noise multiplier as a float.

    Raises:
        ValueError: for bad arguments, or a target unreachable with a noise
            multiplier up to 1e4.

    Example:
        >>> sigma = noise_multiplier_for(3.0, num_examples=60000, batch_size=256,
        ...                              epochs=15, delta=1e-5)
    """
    target_epsilon = v.check_positive(target_epsilon, "target_epsilon")
    tolerance = v.check_positive(tolerance, "tolerance")
    q, steps, delta, accountant = _run_setup(num_examples, batch_size, epochs, delta, accountant)

    return smallest_noise_multiplier(
        lambda sigma: epsilon_for_event(q, sigma, steps, delta, accountant), target_epsilon,
        tolerance=tolerance, setting=f"for {steps} steps at sampling rate {q:.3g}",
        advice="Raise the target, train fewer epochs or use larger data.")


def smallest_noise_multiplier(epsilon, target_epsilon, *, tolerance, setting, advice):
    """Bisection for the smallest noise multiplier with `epsilon(sigma) <= target_epsilon`.

    `epsilon` decreases with the noise multiplier; the result is within a
    relative `tolerance` of the smallest such one. `setting` and `advice`
    complete the error message when no noise multiplier up to 1e4 reaches
    the target.
    """
    low, high = 0.0, 1.0
    while epsilon(high) > target_epsilon:
        low, high = high, high * 2.0
        if high > _MAX_NOISE_MULTIPLIER:
            raise ValueError(
                f"Expected a `target_epsilon` reachable with noise_multiplier <= "
                f"{_MAX_NOISE_MULTIPLIER:g} {setting}. "
                f"Received: target_epsilon={target_epsilon}. {advice}")
    while high - low > tolerance * high:
        middle = 0.5 * (low + high)
        if epsilon(middle) > target_epsilon:
            low = middle
        else:
            high = middle
    return high
