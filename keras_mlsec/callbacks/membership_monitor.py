"""MembershipMonitor: membership-inference leakage (AUC, TPR at low FPR) per epoch."""

import keras
import numpy as np

from keras_mlsec._core import validation as v

CHEAP_METHODS = ("threshold", "loss", "entropy")
LOG_KEYS = ("membership_auc", "membership_advantage", "membership_tpr_at_1pct_fpr")


def _check_method(method):
    key = method.lower() if isinstance(method, str) else None
    if key in ("shadow", "lira"):
        raise ValueError(
            f"Expected a cheap `method` in {list(CHEAP_METHODS)}: 'shadow' and 'lira' train "
            "shadow models, far too slow for every epoch. Run "
            "keras_mlsec.attacks.membership_inference(..., method='lira') after training "
            f"instead. Received: method={method!r}")
    if key not in CHEAP_METHODS:
        raise ValueError(f"Expected `method` in {list(CHEAP_METHODS)}. "
                         f"Received: method={method!r}")
    return key


def _subset(pair, max_samples, rng):
    x, y = pair
    keep = np.sort(rng.permutation(len(x))[:max_samples])
    return x[keep], y[keep]


class MembershipMonitor(keras.callbacks.Callback):
    """Measures how much the model in training leaks membership, every few epochs.

    At the end of every `every`-th epoch a cheap membership inference attack
    (`keras_mlsec.attacks.membership_inference` with `method`) scores (a
    seeded subset of at most `max_samples` of) the `members` (examples the
    model trains on) and `non_members` (held-out examples of the same
    distribution), and three numbers go into the epoch logs (History,
    TensorBoard, CSVLogger and later callbacks see them; list this callback
    before them):

    * `membership_auc`: area under the attack's ROC (0.5 = no leakage);
    * `membership_advantage`: max over thresholds of TPR - FPR (Yeom et al. 2018);
    * `membership_tpr_at_1pct_fpr`: TPR at 1% FPR (Carlini et al. 2022); with
      fewer than 100 non-members it is the TPR at zero false positives.

    Skipped epochs log nothing. For a wrapper being trained (`DPModel`,
    `AdversarialModel`) the inner `.model` is attacked: it is the network
    whose weights are trained, and its logits are used directly.

    Args:
        members: `(x, y)` training examples (sparse or one-hot labels).
        non_members: `(x, y)` examples the model never trains on.
        method: "loss" (default), "threshold" or "entropy". "shadow" and
            "lira" are refused: they train shadow models.
        every: attack every `every` epochs (1 = every epoch).
        max_samples: largest number of members, and of non-members, scored
            per check (seeded random subsets, fixed for the whole training).
        batch_size: prediction batch size.
        seed: seed of the subsets.
        verbose: 1 prints one line per check.

    Attributes:
        history: list of `(epoch, MembershipReport)` of the checks so far.

    Raises:
        ValueError: for a bad `method`, `every` or `max_samples`, or
            malformed `members`/`non_members`.
        TypeError: for non-numeric inputs.

    Example:
        >>> monitor = MembershipMonitor((x_train[:500], y_train[:500]), (x_test, y_test))
        >>> history = model.fit(x_train, y_train, epochs=30, callbacks=[monitor])
        >>> history.history["membership_auc"]

    Reference:
        Yeom et al. 2018, "Privacy Risk in Machine Learning: Analyzing the Connection to
        Overfitting". Carlini et al. 2022, "Membership Inference Attacks From First
        Principles".
    """

    def __init__(self, members, non_members, *, method="loss", every=1, max_samples=1000,
                 batch_size=256, seed=0, verbose=0):
        super().__init__()
        self.method = _check_method(method)
        self.every = v.check_positive_int(every, "every")
        self.max_samples = v.check_positive_int(max_samples, "max_samples")
        self.batch_size = v.check_positive_int(batch_size, "batch_size")
        self.seed = seed
        self.verbose = verbose
        members = v.check_pair(members, "members")
        non_members = v.check_pair(non_members, "non_members")
        if members[0].shape[1:] != non_members[0].shape[1:]:
            raise ValueError("Expected `members` and `non_members` inputs of the same shape "
                             f"per example. Received: {members[0].shape[1:]} and "
                             f"{non_members[0].shape[1:]}")
        rng = np.random.default_rng(seed)
        self._members = _subset(members, self.max_samples, rng)
        self._non_members = _subset(non_members, self.max_samples, rng)
        self.history = []

    def on_train_begin(self, logs=None):
        self.history = []

    def attacked_model(self):
        """The network whose leakage is measured: the inner model of a wrapper."""
        from keras_mlsec._core.models import inner_model

        return inner_model(self.model)

    def measure(self, model=None):
        """Runs the attack on `model` (default: the model being trained).

        Returns:
            A `keras_mlsec.attacks.MembershipReport`.
        """
        from keras_mlsec.attacks.privacy.membership import membership_inference

        return membership_inference(model if model is not None else self.attacked_model(),
                                    self._members, self._non_members, method=self.method,
                                    batch_size=self.batch_size)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        report = self.measure()
        self.history.append((epoch, report))
        values = dict(zip(LOG_KEYS, (report.auc, report.advantage, report.tpr_at_fpr[0.01])))
        if logs is not None:
            logs.update(values)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: " + ", ".join(f"{k}={val:.4f}"
                                                    for k, val in values.items()))
