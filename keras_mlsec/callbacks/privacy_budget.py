"""PrivacyBudget: live (epsilon, delta) accounting of DP-SGD, stopping at a budget."""

import math
import numbers
import warnings

import keras

from keras_mlsec._core import validation as v
from keras_mlsec.integrity.audit_log import check_audit_log, log_event


@keras.saving.register_keras_serializable(package="keras_mlsec")
class PrivacyBudget(keras.callbacks.Callback):
    """Accounts the privacy DP-SGD spends during `fit` and stops before a budget.

    Every epoch's logs get `epsilon`, the (epsilon, `delta`) guarantee of the
    optimizer steps taken so far (History, TensorBoard and later callbacks
    see it: list this callback before them). Training stops *before* the
    step that would take epsilon over `target_epsilon`: after each step, the
    callback sets `model.stop_training` when the next step (or the next
    `steps_per_execution` steps) would exceed the budget, and Keras checks it
    before taking another step. The largest step count within budget is
    found once, at the start of training (one accountant call when the
    planned run fits the budget, else a bisection over step counts), so the
    per-step cost is an integer comparison.

    The guarantee (epsilon, delta, accountant, sampling, steps, noise
    multiplier, sampling rate) is written to `model.privacy_metadata` at every
    epoch end; for a `DPModel` it is part of `get_config`, so `model.save`
    stores it in the `.keras` file (config.json) and `keras.saving.load_model`
    gives it back.

    The accountant assumes Poisson sampling of each batch (each example in
    independently with probability `batch_size / num_examples`): train on
    `keras_mlsec.privacy.poisson_dataset(...)`. With other batching (Keras'
    shuffled fixed-size batches) a warning says the epsilon is computed as if
    batches were Poisson samples, and `sampling` is recorded as "shuffle".

    Steps accumulate over successive `fit` calls with the same callback.

    Args:
        target_epsilon: the budget, > 0.
        delta: the delta of the guarantee, in (0, 1 / num_examples).
        accountant: "rdp" or "pld".
        noise_multiplier: noise std / clipping norm; default: the model's
            `noise_multiplier` (a `DPModel`).
        num_examples: training-set size; default: read from `DPModel.fit`'s
            data (the Poisson dataset, or the arrays).
        batch_size: expected batch size; default: as `num_examples`.
        verbose: 1 prints a line when training is stopped for the budget.
        audit_log: optional `keras_mlsec.integrity.AuditLog` receiving a
            `privacy_budget_stop` record when training is stopped for the
            budget. Not serialized.

    Attributes:
        steps: optimizer steps accounted so far.
        max_steps: the most steps within budget, or the planned step count
            when the whole `fit` fits the budget (set when training begins).
        epsilon: the epsilon of `steps` (after each epoch).
        stopped: whether training was stopped for the budget.

    Raises:
        ValueError: for bad arguments; when training begins, when the
            noise multiplier or data size cannot be found, or when not even
            one more step fits in the budget.

    Example:
        >>> private = make_private(model, l2_norm_clip=1.0, noise_multiplier=1.1,
        ...                        delta=1e-5, epochs=30, batch_size=256, num_examples=len(x))
        >>> budget = PrivacyBudget(target_epsilon=3.0, delta=1e-5)
        >>> private.fit(poisson_dataset(x, y, batch_size=256, seed=0), epochs=30,
        ...             callbacks=[budget])
        >>> private.privacy_metadata["epsilon"]

    Reference:
        Abadi et al. 2016, "Deep Learning with Differential Privacy".
    """

    def __init__(self, target_epsilon, delta, *, accountant="rdp", noise_multiplier=None,
                 num_examples=None, batch_size=None, verbose=0, audit_log=None):
        super().__init__()
        self.audit_log = check_audit_log(audit_log)
        from keras_mlsec.privacy import accounting

        self.target_epsilon = v.check_positive(target_epsilon, "target_epsilon")
        self.delta = v.check_positive(delta, "delta")
        self.accountant = accounting._check_accountant(accountant)
        self.noise_multiplier = (None if noise_multiplier is None else
                                 v.check_non_negative(noise_multiplier, "noise_multiplier"))
        self.num_examples = (None if num_examples is None
                             else v.check_positive_int(num_examples, "num_examples"))
        self.batch_size = (None if batch_size is None
                           else v.check_positive_int(batch_size, "batch_size"))
        if not isinstance(verbose, numbers.Integral):
            raise ValueError(f"Expected `verbose` to be 0 or 1. Received: verbose={verbose!r}")
        self.verbose = int(verbose)
        self.steps = 0
        self.max_steps = None
        self.epsilon = 0.0
        self.stopped = False
        self._plan_fits = False
        self._cache = {}
        self._setup = None

    def _epsilon(self, steps):
        from keras_mlsec.privacy import accounting

        if steps <= 0:
            return 0.0
        if steps not in self._cache:
            q, sigma = self._setup["sampling_rate"], self._setup["noise_multiplier"]
            self._cache[steps] = accounting.epsilon_for_event(
                q, sigma, steps, self.delta, self.accountant)
        return self._cache[steps]

    def _max_steps(self, planned=None):
        """The largest step count with epsilon <= target, searched up to `planned` steps.

        When the planned run fits, that is the answer (one accountant call);
        otherwise bisection (after an exponential search when the plan is unknown).
        """
        if planned is not None and self._epsilon(planned) <= self.target_epsilon:
            return planned
        if self._epsilon(1) > self.target_epsilon:
            return 0
        low, high = 1, planned
        if high is None:
            high = 2
            while self._epsilon(high) <= self.target_epsilon:
                low, high = high, high * 2
                if high > 2 ** 40:
                    return math.inf
        while high - low > 1:
            middle = (low + high) // 2
            if self._epsilon(middle) <= self.target_epsilon:
                low = middle
            else:
                high = middle
        return low

    def _resolve_setup(self):
        from keras_mlsec.privacy import accounting

        fit = getattr(self.model, "fit_sampling", None) or {}
        sigma = self.noise_multiplier
        if sigma is None:
            sigma = getattr(self.model, "noise_multiplier", None)
        if sigma is None:
            raise ValueError(
                "Expected a `noise_multiplier`: pass it to PrivacyBudget or train a DPModel. "
                f"Received: noise_multiplier=None and a model of type {type(self.model).__name__}")
        num_examples = self.num_examples or fit.get("num_examples")
        batch_size = self.batch_size or fit.get("batch_size")
        if num_examples is None or batch_size is None:
            raise ValueError(
                "Expected `num_examples` and `batch_size` (pass them to PrivacyBudget when "
                "fitting a DPModel on a plain dataset or a non-DPModel). Received: "
                f"num_examples={num_examples}, batch_size={batch_size}")
        accounting.check_training_setup(num_examples=num_examples, batch_size=batch_size,
                                        epochs=1, delta=self.delta)
        sampling = fit.get("sampling", "unknown")
        if sampling != "poisson":
            warnings.warn(
                "PrivacyBudget: the epsilon assumes Poisson sampling (each example in each "
                f"batch independently with probability batch_size/num_examples), but this "
                f"fit uses {sampling!r} batching (e.g. Keras' shuffled fixed-size batches), "
                "whose guarantee is not the one computed. Train on "
                "keras_mlsec.privacy.poisson_dataset(x, y, batch_size=..., seed=...) for an "
                "exact account.", UserWarning, stacklevel=2)
        setup = {"noise_multiplier": float(sigma), "num_examples": int(num_examples),
                 "batch_size": int(batch_size), "sampling": sampling,
                 "sampling_rate": batch_size / num_examples}
        if setup != self._setup:
            self._setup, self._cache = setup, {}

    def on_train_begin(self, logs=None):
        self._resolve_setup()
        params = self.params or {}
        planned = None
        if params.get("epochs") is not None and params.get("steps") is not None:
            planned = self.steps + int(params["epochs"]) * int(params["steps"])
        self.max_steps = self._max_steps(max(planned, 1) if planned is not None else None)
        # `_max_steps` returns the planned count only when its epsilon is within the target.
        self._plan_fits = planned is not None and self.max_steps == max(planned, 1)
        self.stopped = False
        self._epoch_start = self.steps
        if self.steps + self._steps_per_call() > self.max_steps:
            raise ValueError(
                f"Expected room for at least one more step within target_epsilon="
                f"{self.target_epsilon}: {self.steps} step(s) done, at most {self.max_steps} "
                f"fit (epsilon of one more: {self._epsilon(self.steps + 1):.4g}). Received: "
                f"target_epsilon={self.target_epsilon}. Raise the noise or the budget.")

    def _steps_per_call(self):
        return max(int(getattr(self.model, "steps_per_execution", 1) or 1), 1)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.steps

    def on_train_batch_end(self, batch, logs=None):
        self.steps = self._epoch_start + int(batch) + 1
        if not self._plan_fits and self.steps + self._steps_per_call() > self.max_steps:
            self.model.stop_training = True
            if not self.stopped and self.verbose:
                print(f"PrivacyBudget: stopping after {self.steps} steps, epsilon="
                      f"{self._epsilon(self.steps):.4g} (target {self.target_epsilon}).")
            if not self.stopped:
                log_event(self.audit_log, "privacy_budget_stop", self.metadata())
            self.stopped = True

    def on_epoch_end(self, epoch, logs=None):
        self.epsilon = self._epsilon(self.steps)
        if logs is not None:
            logs["epsilon"] = self.epsilon
        self.model.privacy_metadata = self.metadata()

    def metadata(self):
        """The guarantee so far as a JSON-ready dict (what goes into the saved model)."""
        setup = self._setup or {}
        return {"epsilon": float(self._epsilon(self.steps)) if setup else 0.0,
                "delta": self.delta, "target_epsilon": self.target_epsilon,
                "accountant": self.accountant, "sampling": setup.get("sampling"),
                "steps": int(self.steps), "noise_multiplier": setup.get("noise_multiplier"),
                "sampling_rate": setup.get("sampling_rate"),
                "num_examples": setup.get("num_examples"),
                "batch_size": setup.get("batch_size")}

    def get_config(self):
        return {"target_epsilon": self.target_epsilon, "delta": self.delta,
                "accountant": self.accountant, "noise_multiplier": self.noise_multiplier,
                "num_examples": self.num_examples, "batch_size": self.batch_size,
                "verbose": self.verbose}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
