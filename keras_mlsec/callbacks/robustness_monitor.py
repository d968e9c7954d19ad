"""RobustnessMonitor: robust accuracy under attack at the end of training epochs."""

import numbers

import keras
import numpy as np

from keras_mlsec._core import validation as v


class RobustnessMonitor(keras.callbacks.Callback):
    """Measures robust accuracy on a validation subset during `fit`, and guards it.

    Every `every` epochs the attack is run against the current model on (a
    seeded subset of at most `max_samples` of) `x_val`, and the accuracy on
    the adversarial examples goes into the epoch logs as `val_robust_accuracy`
    (History, TensorBoard and later callbacks see it; list this callback
    before them). Epochs that are skipped log nothing.

    It also watches for catastrophic overfitting (robust accuracy collapsing
    within an epoch, typical of FGSM training): the best robust accuracy so
    far and its weights are kept. Training stops when robust accuracy has not
    improved on the best by more than `min_delta` for `patience` checks, or
    (`stop_on_collapse`) as soon as it falls more than `collapse_drop` below
    the best. With `restore_best_weights` the weights of the best check are
    put back when training stops (and at the end of training).

    Args:
        x_val: validation inputs inside the attack's clip range.
        y_val: their sparse or one-hot labels.
        attack: a keras_mlsec attack object; default
            `keras_mlsec.attacks.PGD(eps=eps, steps=10, seed=seed)`.
        eps: budget of the default attack (ignored when `attack` is given).
        every: check every `every` epochs (1 = every epoch).
        max_samples: examples attacked per check (a seeded random subset).
        patience: checks without improvement before stopping; None never
            stops for lack of improvement.
        min_delta: smallest robust-accuracy gain counted as an improvement.
        stop_on_collapse: stop as soon as robust accuracy collapses.
        collapse_drop: drop below the best that counts as a collapse.
        restore_best_weights: restore the weights of the best check when
            training stops or ends.
        seed: seed of the subset (and of the default attack).
        verbose: 1 prints one line per check.

    Attributes:
        best: the best robust accuracy seen; `best_epoch` its epoch (0-based).
        stopped_epoch: the epoch training was stopped at, or None.
        collapsed: whether a collapse was detected.

    Raises:
        ValueError: for empty or mismatched `x_val`/`y_val`, or bad `every`,
            `max_samples`, `patience`, `min_delta`, `collapse_drop`.
        TypeError: when `attack` is not an attack object.

    Example:
        >>> monitor = RobustnessMonitor(x_val, y_val, eps=0.1, stop_on_collapse=True,
        ...                             restore_best_weights=True)
        >>> model.fit(x, y, epochs=20, callbacks=[monitor])
        >>> model.history.history["val_robust_accuracy"]

    Reference:
        Wong, Rice and Kolter, "Fast is better than free: Revisiting adversarial
        training", ICLR 2020 (catastrophic overfitting and early stopping on
        PGD accuracy).
    """

    def __init__(self, x_val, y_val, *, attack=None, eps=0.1, every=1, max_samples=256,
                 patience=None, min_delta=0.0, stop_on_collapse=False, collapse_drop=0.2,
                 restore_best_weights=False, seed=0, verbose=0):
        super().__init__()
        from keras_mlsec.attacks import PGD, Attack

        x_val = v.check_inputs(x_val, name="x_val")
        labels = v.check_labels(y_val, len(x_val), name="y_val")
        if attack is None:
            attack = PGD(eps=eps, steps=10, seed=seed)
        if not isinstance(attack, Attack):
            raise TypeError("Expected `attack` to be a keras_mlsec attack object or None. "
                            f"Received: attack={v._short(attack)}")
        self.x_val, self.y_val, self.attack, self.eps = x_val, labels, attack, eps
        self.every = v.check_positive_int(every, "every")
        self.max_samples = v.check_positive_int(max_samples, "max_samples")
        self.patience = None if patience is None else _check_patience(patience)
        self.min_delta = v.check_non_negative(min_delta, "min_delta")
        self.stop_on_collapse = bool(stop_on_collapse)
        self.collapse_drop = v.check_positive(collapse_drop, "collapse_drop")
        self.restore_best_weights = bool(restore_best_weights)
        self.seed = seed
        self.verbose = verbose
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.permutation(len(x_val))[:self.max_samples])
        self._x, self._y = x_val[keep], labels[keep]
        self._reset()

    def _reset(self):
        self.best, self.best_epoch, self.best_weights = -np.inf, None, None
        self.wait, self.stopped_epoch, self.collapsed = 0, None, False
        self.history = []

    def on_train_begin(self, logs=None):
        self._reset()

    def robust_accuracy(self, model=None):
        """Accuracy of `model` (default: the trained model) on attacked validation data."""
        from keras_mlsec._core.models import inner_model

        model = inner_model(model or self.model)  # a wrapper is attacked through its network
        x_adv = np.asarray(self.attack(model, self._x, self._y))
        predictions = np.argmax(model.predict(x_adv, verbose=0, batch_size=256), axis=-1)
        return float(np.mean(predictions == self._y))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        accuracy = self.robust_accuracy()
        self.history.append((epoch, accuracy))
        if logs is not None:
            logs["val_robust_accuracy"] = accuracy
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: val_robust_accuracy={accuracy:.4f} (best {self.best:.4f})")
        if accuracy > self.best + self.min_delta:
            self.best, self.best_epoch, self.wait = accuracy, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        collapse = self.best - accuracy > self.collapse_drop
        self.collapsed = self.collapsed or collapse
        if (collapse and self.stop_on_collapse) or (
                self.patience is not None and self.wait >= self.patience):
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                reason = "collapsed" if collapse else "stopped improving"
                print(f"Robust accuracy {reason} at epoch {epoch + 1}; stopping.")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring the weights of epoch {self.best_epoch + 1} "
                      f"(val_robust_accuracy={self.best:.4f}).")
            self.model.set_weights(self.best_weights)


def _check_patience(patience):
    if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1:
        raise ValueError(f"Expected `patience` to be an int >= 1 or None. "
                         f"Received: patience={patience!r}")
    return int(patience)
