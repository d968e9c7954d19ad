"""Empirical privacy auditing: statistical lower bounds on the epsilon of a training run.

Two conversions of a membership test into an epsilon lower bound, and a canary audit:

* `epsilon_lower_bound(tp, positives, fp, negatives, ...)`: a test that says
  "member" on `tp` of `positives` members and `fp` of `negatives`
  non-members. (epsilon, delta)-DP forces TPR <= e^eps FPR + delta and
  1 - FPR <= e^eps (1 - TPR) + delta (Kairouz et al. 2015), so with
  Clopper-Pearson bounds TPR_low, FPR_high (two-sided interval at
  `confidence`, as in Jagielski et al. 2020)
  eps >= max(log((TPR_low - delta) / FPR_high), log((1 - FPR_high - delta) / (1 - TPR_low))).
  Needs independent trials: one training run per (member, non-member) test.
* `one_run_epsilon_lower_bound(num_canaries, num_guesses, num_correct, ...)`:
  Steinke, Nasr and Jagielski 2023. Each of m canaries is inserted
  independently with probability 1/2 in ONE training run; an auditor
  guesses in/out for r of them and gets v right. Their Theorem 3.1: if the
  training is (eps, delta)-DP then, with q = e^eps / (1 + e^eps) and
  W' ~ Binomial(r, q),
  P[v correct] <= P[W' >= v] + 2 m delta max_{1<=i<=v} P[v - i <= W' < v] / i.
  The bound returned is the largest eps whose p-value is still <= 1 - confidence
  (bisection; the p-value grows with eps).
* `audit_epsilon(train_fn, data, canaries, ...)`: runs the one-run audit:
  draws the in/out coin of each canary, trains once through `train_fn`,
  ranks the canaries by the trained model's loss and guesses the
  `num_guesses / 2` lowest-loss canaries IN and the `num_guesses / 2`
  highest-loss OUT.

`craft_canaries` makes easy-to-memorize canaries: random-noise inputs or
mislabeled copies of real examples, both with random labels.
`clopper_pearson`, `one_run_p_value` and the argument checks are in `_audit_stats`.

Reference:
    Kairouz, Oh and Viswanath 2015, "The Composition Theorem for Differential Privacy".
    Jagielski, Ullman and Oprea 2020, "Auditing Differentially Private Machine Learning:
    How Private is Private SGD?". Steinke, Nasr and Jagielski 2023, "Privacy Auditing
    with One (1) Training Run".
"""

import math

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.privacy._audit_stats import (_check_confidence, _check_count, _check_delta,
                                              clopper_pearson, one_run_p_value)
from keras_mlsec.privacy.audit_report import AuditReport

_MAX_EPSILON = 100.0


def epsilon_lower_bound(true_positives, num_members, false_positives, num_non_members, *,
                        delta=0.0, confidence=0.95):
    """Epsilon lower bound from a membership test's counts (Clopper-Pearson intervals).

    Args:
        true_positives: members the test called "member".
        num_members: members tested (> 0).
        false_positives: non-members the test called "member".
        num_non_members: non-members tested (> 0).
        delta: the delta of the guarantee being audited, in [0, 1).
        confidence: confidence of the Clopper-Pearson interval, in (0, 1).

    Returns:
        The lower bound on epsilon, >= 0 (0 when the counts prove nothing).

    Raises:
        ValueError: for negative counts, counts above their totals, empty
            totals, or `delta`/`confidence` out of range.

    Example:
        >>> epsilon_lower_bound(100, 100, 0, 100)  # perfect test, 100 + 100 trials
        3.2813...

    Reference:
        Jagielski, Ullman and Oprea 2020, "Auditing Differentially Private Machine
        Learning: How Private is Private SGD?".
    """
    num_members = v.check_positive_int(num_members, "num_members")
    num_non_members = v.check_positive_int(num_non_members, "num_non_members")
    true_positives = _check_count(true_positives, "true_positives", num_members, "num_members")
    false_positives = _check_count(false_positives, "false_positives", num_non_members,
                                   "num_non_members")
    delta, confidence = _check_delta(delta), _check_confidence(confidence)
    tpr_low, _ = clopper_pearson(true_positives, num_members, confidence=confidence)
    _, fpr_high = clopper_pearson(false_positives, num_non_members, confidence=confidence)
    bounds = [0.0]
    if tpr_low - delta > 0 and fpr_high > 0:
        bounds.append(math.log((tpr_low - delta) / fpr_high))
    if 1 - fpr_high - delta > 0 and tpr_low < 1:
        bounds.append(math.log((1 - fpr_high - delta) / (1 - tpr_low)))
    return max(bounds)


def one_run_epsilon_lower_bound(num_canaries, num_guesses, num_correct, *, delta=0.0,
                                confidence=0.95):
    """Epsilon lower bound of the one-run audit (Steinke, Nasr and Jagielski 2023).

    Each of `num_canaries` canaries was inserted independently with
    probability 1/2 in a single training run; `num_correct` of
    `num_guesses` in/out guesses were right. Returns the largest epsilon
    that the observation rules out at `confidence`: the supremum of the
    epsilons whose p-value (`one_run_p_value`) is <= 1 - confidence, found
    by bisection to 1e-6; 0 when even epsilon = 0 is not ruled out.

    Args:
        num_canaries: m, canaries drawn (> 0).
        num_guesses: r <= m, canaries guessed on (the rest abstained on).
        num_correct: v <= r, right guesses.
        delta: delta of the audited guarantee, in [0, 1).
        confidence: confidence of the bound, in (0, 1).

    Returns:
        The lower bound on epsilon (>= 0).

    Raises:
        ValueError: for counts out of order or `delta`/`confidence` out of range.

    Example:
        >>> one_run_epsilon_lower_bound(10, 10, 10)  # 10/10 right: q**10 = 0.05
        1.0517...

    Reference:
        Steinke, Nasr and Jagielski 2023, "Privacy Auditing with One (1) Training Run".
    """
    num_canaries = v.check_positive_int(num_canaries, "num_canaries")
    num_guesses = _check_count(num_guesses, "num_guesses", num_canaries, "num_canaries")
    num_correct = _check_count(num_correct, "num_correct", num_guesses, "num_guesses")
    delta, confidence = _check_delta(delta), _check_confidence(confidence)
    beta = 1.0 - confidence

    def p_value(eps):
        return one_run_p_value(num_canaries, num_guesses, num_correct, epsilon=eps, delta=delta)

    if num_correct == 0 or p_value(0.0) > beta:
        return 0.0
    low, high = 0.0, _MAX_EPSILON
    if p_value(high) <= beta:
        return high
    while high - low > 1e-6:
        middle = (low + high) / 2
        low, high = (middle, high) if p_value(middle) <= beta else (low, middle)
    return low


def craft_canaries(x_reference, num_canaries, *, num_classes, kind="random", seed=None):
    """Makes canaries that a non-private model memorizes, each with a random label.

    Args:
        x_reference: real inputs; they give the canaries' shape and value range.
        num_canaries: canaries to make (> 0).
        num_classes: number of classes of the labels.
        kind: "random" (uniform noise in the value range of `x_reference`:
            out of distribution) or "mislabeled" (copies of random examples
            of `x_reference`, whose random label is wrong with probability
            1 - 1/num_classes).
        seed: seed of the draws.

    Returns:
        `(x, y)`: float32 inputs and int32 labels.

    Raises:
        ValueError: for a bad `kind`, `num_canaries` or `num_classes`.
    """
    x_reference = v.check_inputs(x_reference, name="x_reference")
    num_canaries = v.check_positive_int(num_canaries, "num_canaries")
    num_classes = v.check_positive_int(num_classes, "num_classes")
    rng = np.random.default_rng(seed)
    if kind == "random":
        x = rng.uniform(x_reference.min(), x_reference.max(),
                        size=(num_canaries,) + x_reference.shape[1:])
    elif kind == "mislabeled":
        x = x_reference[rng.integers(0, len(x_reference), size=num_canaries)]
    else:
        raise ValueError(f'Expected `kind` "random" or "mislabeled". Received: kind={kind!r}')
    return x.astype(np.float32), rng.integers(0, num_classes, size=num_canaries).astype(np.int32)


def canary_losses(model, x, y, *, batch_size=256):
    """Per-canary loss scores log p_y of `model` (of its inner `.model` for a wrapper)."""
    from keras_mlsec._core import membership_scores as s

    return s.loss_scores(s.predict_logits(model, x, batch_size), y)


def audit_epsilon(train_fn, data, canaries, *, num_guesses=None, delta=0.0, confidence=0.95,
                  epsilon_accountant=None, batch_size=256, seed=None):
    """One-run canary audit: a lower bound on the epsilon of `train_fn`'s training.

    Each canary goes into the training set with probability 1/2 (independent
    coins), `train_fn` trains once on `data` plus the chosen canaries
    (shuffled), and the trained model's loss on every canary ranks them:
    the `num_guesses // 2` lowest-loss canaries are guessed IN, the
    `num_guesses - num_guesses // 2` highest-loss OUT, the others abstained
    on. `one_run_epsilon_lower_bound` turns the right guesses into the bound.

    For the bound to be valid `train_fn` must be the audited mechanism: a
    DP training sized for `len(data[0]) + number of canaries inserted`
    examples, whose accountant epsilon you pass as `epsilon_accountant` to
    see both side by side (with the same `delta`).

    Args:
        train_fn: `train_fn(x, y) -> keras.Model`, trains a fresh model on
            `(x, y)` and returns it (a `DPModel` is fine: its inner model is
            scored).
        data: `(x, y)` ordinary training examples, always included.
        canaries: `(x, y)` canaries, e.g. from `craft_canaries`.
        num_guesses: canaries guessed on (default: all); fewer, more
            confident guesses often give a higher bound.
        delta: delta of the audited guarantee; 0 audits pure epsilon-DP (the
            bound is then a bound on epsilon at delta = 0, which is larger
            than epsilon at delta > 0, so compare it with care).
        confidence: confidence of the bound.
        epsilon_accountant: the accountant's epsilon, reported alongside.
        batch_size: prediction batch size.
        seed: seed of the in/out coins and the shuffle.

    Returns:
        An `AuditReport`.

    Raises:
        ValueError: for malformed `data`/`canaries`, bad counts, `delta`
            or `confidence`.
        TypeError: when `train_fn` is not callable.

    Example:
        >>> canaries = craft_canaries(x_train, 200, num_classes=10, seed=0)
        >>> def train_fn(x, y):
        ...     private = make_private(build(), l2_norm_clip=1.0, noise_multiplier=1.1,
        ...                            delta=1e-5, epochs=10, batch_size=128,
        ...                            num_examples=len(x))
        ...     private.fit(x, y, epochs=10, batch_size=128, verbose=0)
        ...     return private
        >>> report = audit_epsilon(train_fn, (x_train, y_train), canaries, delta=1e-5,
        ...                        epsilon_accountant=eps)

    Reference:
        Steinke, Nasr and Jagielski 2023, "Privacy Auditing with One (1) Training Run".
    """
    if not callable(train_fn):
        raise TypeError("Expected `train_fn` to be a callable train_fn(x, y) -> model. "
                        f"Received: train_fn of type {type(train_fn).__name__}")
    x_data, y_data = v.check_pair(data, "data")
    x_can, y_can = v.check_pair(canaries, "canaries")
    if x_data.shape[1:] != x_can.shape[1:]:
        raise ValueError("Expected `canaries` inputs shaped like `data` inputs "
                         f"{x_data.shape[1:]}. Received: {x_can.shape[1:]}")
    m = len(x_can)
    num_guesses = m if num_guesses is None else v.check_positive_int(num_guesses,
                                                                     "num_guesses")
    if num_guesses > m:
        raise ValueError(f"Expected `num_guesses` <= the number of canaries ({m}). "
                         f"Received: num_guesses={num_guesses}")
    delta, confidence = _check_delta(delta), _check_confidence(confidence)
    rng = np.random.default_rng(seed)
    inside = rng.random(m) < 0.5
    x_train = np.concatenate([x_data, x_can[inside]])
    y_train = np.concatenate([y_data, y_can[inside]])
    order = rng.permutation(len(x_train))
    model = train_fn(x_train[order], y_train[order])
    scores = canary_losses(model, x_can, y_can, batch_size=batch_size)
    ranking = np.argsort(-scores, kind="stable")  # most member-like first
    guess_in, guess_out = ranking[:num_guesses // 2], ranking[m - (num_guesses - num_guesses // 2):]
    true_in = int(inside[guess_in].sum())
    num_correct = true_in + int((~inside[guess_out]).sum())
    num_in = int(inside.sum())
    bound = one_run_epsilon_lower_bound(m, num_guesses, num_correct, delta=delta,
                                        confidence=confidence)
    return AuditReport(epsilon_lower_bound=bound, delta=delta, confidence=confidence,
                       tpr=true_in / max(num_in, 1),
                       fpr=(len(guess_in) - true_in) / max(m - num_in, 1),
                       num_canaries=m, num_guesses=num_guesses, num_correct=num_correct,
                       epsilon_accountant=epsilon_accountant, method="one-run")
