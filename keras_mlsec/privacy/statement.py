"""The human-readable privacy statement of a DP-SGD run, by tensorflow-privacy.

tensorflow-privacy's Keras optimizers and `DPModel` need Keras 2, so this
package trains with its own `train_step`; its accounting library runs on
Keras 3 and writes the statement reviewers know. It reports two epsilons:
one assuming Poisson sampling (what `compute_epsilon` and `PrivacyBudget`
report, exact when training used `poisson_dataset`) and a conservative one for
shuffled batches in which every example occurs once per epoch (what a plain
`fit` on shuffled data is, strictly).
"""

import sys

from keras_mlsec._core import validation as v
from keras_mlsec.privacy.accounting import check_training_setup


def privacy_statement(*, num_examples, batch_size, epochs, noise_multiplier, delta,
                      max_examples_per_user=None):
    """tensorflow-privacy's statement of the (epsilon, delta) guarantee of a DP-SGD run.

    Args:
        num_examples: size of the training set.
        batch_size: (expected) examples per step.
        epochs: passes over the data.
        noise_multiplier: noise std divided by the clipping norm, > 0.
        delta: target delta, in (0, 1 / num_examples).
        max_examples_per_user: an upper bound on the examples one person
            contributes, for a user-level guarantee; None for none.

    Returns:
        The multi-line statement as a string, with the epsilon for shuffled
        batches (each example once per epoch) and for Poisson sampling.

    Raises:
        ValueError: for the bad arguments `compute_epsilon` refuses, or a
            `noise_multiplier` that is not > 0.

    Example:
        >>> print(privacy_statement(num_examples=60000, batch_size=256, epochs=15,
        ...                         noise_multiplier=1.1, delta=1e-5))
    """
    num_examples, batch_size, epochs, delta = check_training_setup(
        num_examples=num_examples, batch_size=batch_size, epochs=epochs, delta=delta)
    noise_multiplier = v.check_positive(noise_multiplier, "noise_multiplier")
    if max_examples_per_user is not None:
        max_examples_per_user = v.check_positive_int(max_examples_per_user,
                                                     "max_examples_per_user")
    # tensorflow_privacy/__init__ imports tensorflow_estimator, absent on TF >= 2.16;
    # its accounting submodules import fine once this flag is set (../shared/STACK.md).
    sys.skip_tf_privacy_import = True
    from tensorflow_privacy.privacy.analysis import compute_dp_sgd_privacy_lib

    return compute_dp_sgd_privacy_lib.compute_dp_sgd_privacy_statement(
        number_of_examples=num_examples, batch_size=batch_size, num_epochs=epochs,
        noise_multiplier=noise_multiplier, delta=delta, used_microbatching=False,
        max_examples_per_user=max_examples_per_user)
