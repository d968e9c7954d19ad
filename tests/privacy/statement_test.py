import re

import pytest

from keras_mlsec.privacy import compute_epsilon, privacy_statement

SETUP = dict(num_examples=60000, batch_size=256, epochs=15, noise_multiplier=1.1, delta=1e-5)


def _epsilons(text):
    shuffled = float(re.search(r"once per epoch:\s+([\d.]+)", text).group(1))
    poisson = float(re.search(r"Poisson sampling \(\*\):\s+([\d.]+)", text).group(1))
    return shuffled, poisson


def test_poisson_epsilon_matches_our_accountant_and_shuffling_costs_more():
    text = privacy_statement(**SETUP)
    shuffled, poisson = _epsilons(text)
    assert poisson == pytest.approx(compute_epsilon(**SETUP), abs=2e-3)  # printed to 3 decimals
    assert shuffled > 5 * poisson  # the conservative bound for shuffled batches is far larger
    assert "60000 examples" in text and "without microbatching" in text


def test_user_level_bound_is_reported():
    text = privacy_statement(**SETUP, max_examples_per_user=3)
    assert "User-level DP" in text or "user-level" in text.lower()
    assert "No user-level privacy guarantee" not in text


@pytest.mark.parametrize("kwargs, match", [
    (dict(noise_multiplier=0.0), r"Expected `noise_multiplier`.*Received: noise_multiplier=0.0"),
    (dict(delta=0.1), r"Expected `delta` < 1/num_examples"),
    (dict(batch_size=70000), r"Expected `batch_size` <= num_examples"),
    (dict(max_examples_per_user=0), r"max_examples_per_user"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        privacy_statement(**{**SETUP, **kwargs})
