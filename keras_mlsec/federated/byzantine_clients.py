"""Malicious federated clients for simulations: weight tampering and data poisoning."""

import numbers

import numpy as np

from keras_mlsec._core import validation as v

KINDS = ("noise", "sign_flip", "scale", "label_flip", "model_replacement")
_DEFAULT_SCALE = {"noise": 1.0, "sign_flip": 5.0, "scale": 20.0, "label_flip": 1.0,
                  "model_replacement": 5.0}


class Byzantine:
    """Which clients misbehave, and how; given to `client_app(..., byzantine=...)`.

    Kinds (the update is `local - global`, where `local` is what honest
    training on the client's data produced):

    * "noise": sends `global + N(0, scale^2)` noise instead of its update;
    * "sign_flip": sends `global - scale * update`;
    * "scale": sends `global + scale * update`;
    * "label_flip": trains on labels `(y + 1) mod num_classes`, sends honestly;
    * "model_replacement": trains on its data plus copies stamped with a
      trigger (`apply_trigger`) and labelled `target`, then boosts its update
      by `scale` (about the number of clients, so that it survives
      averaging: Bagdasaryan et al. 2020).

    Args:
        kind: one of `KINDS`.
        clients: partition ids of the malicious clients.
        scale: strength (see above); None takes the kind's default (noise 1,
            sign_flip 5, scale 20, model_replacement 5).
        target: backdoor target class ("model_replacement").
        trigger_size: side of the square trigger patch set to `trigger_value`
            in the top-left corner (images) or count of leading features set
            (flat inputs).
        trigger_value: value written by the trigger.
        poison_fraction: triggered copies added, as a fraction of the client's data.
        seed: seed of the noise.

    Reference:
        Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine
        Tolerant Gradient Descent"; Bagdasaryan et al. 2020, "How To Backdoor
        Federated Learning".
    """

    def __init__(self, kind, *, clients, scale=None, target=0, trigger_size=2,
                 trigger_value=1.0, poison_fraction=0.5, seed=None):
        self.kind = v.check_choice(kind, KINDS, "kind")
        self.clients = _check_clients(clients)
        self.scale = _DEFAULT_SCALE[kind] if scale is None else v.check_positive(scale, "scale")
        if isinstance(target, bool) or not isinstance(target, numbers.Integral) or target < 0:
            raise ValueError(f"Expected `target` to be a class index >= 0. Received: "
                             f"target={target!r}")
        self.target = int(target)
        self.trigger_size = v.check_positive_int(trigger_size, "trigger_size")
        self.trigger_value = float(trigger_value)
        self.poison_fraction = v.check_positive(poison_fraction, "poison_fraction")
        self.seed = v.check_seed(seed)

    def is_malicious(self, partition_id):
        """Whether the client with this partition id misbehaves."""
        return int(partition_id) in self.clients

    def apply_trigger(self, x):
        """A copy of `x` with the backdoor trigger stamped on every example."""
        x = np.array(x, dtype=np.float32, copy=True)
        size = self.trigger_size
        if x.ndim >= 3:
            x[:, :size, :size, ...] = self.trigger_value
        else:
            x[:, :size] = self.trigger_value
        return x

    def poison(self, x, y, num_classes, rng=None):
        """The training data a malicious client uses (unchanged for weight attacks)."""
        y = np.asarray(y)
        if self.kind == "label_flip":
            return x, (y.astype(np.int64) + 1) % num_classes
        if self.kind != "model_replacement":
            return x, y
        if self.target >= num_classes:
            raise ValueError(f"Expected `target` < num_classes ({num_classes}). Received: "
                             f"target={self.target}")
        rng = rng or np.random.default_rng(self.seed)
        count = max(1, int(round(self.poison_fraction * len(x))))
        chosen = rng.choice(len(x), size=count, replace=count > len(x))
        x_bad = self.apply_trigger(np.asarray(x)[chosen])
        y_bad = np.full(count, self.target, dtype=y.dtype)
        return (np.concatenate([np.asarray(x, dtype=np.float32), x_bad]),
                np.concatenate([y, y_bad]))

    def tamper(self, local_weights, global_weights, rng=None):
        """The weights a malicious client sends after training to `local_weights`."""
        rng = rng or np.random.default_rng(self.seed)
        sent = []
        for local, old in zip(local_weights, global_weights):
            local, old = np.asarray(local), np.asarray(old)
            if self.kind == "noise":
                new = old + rng.normal(0.0, self.scale, size=old.shape)
            elif self.kind == "sign_flip":
                new = old - self.scale * (local - old)
            elif self.kind in ("scale", "model_replacement"):
                new = old + self.scale * (local - old)
            else:
                new = local
            sent.append(np.asarray(new, dtype=old.dtype))
        return sent

    def get_config(self):
        """The constructor arguments, as a dict."""
        return {"kind": self.kind, "clients": sorted(self.clients), "scale": self.scale,
                "target": self.target, "trigger_size": self.trigger_size,
                "trigger_value": self.trigger_value, "poison_fraction": self.poison_fraction,
                "seed": self.seed}


def byzantine(kind, *, clients, **kwargs):
    """Malicious clients for a simulation: `Byzantine(kind, clients=..., **kwargs)`.

    Args:
        kind: "noise", "sign_flip", "scale", "label_flip" or "model_replacement".
        clients: partition ids of the malicious clients (an int or a list).
        **kwargs: `scale`, `target`, `trigger_size`, `trigger_value`,
            `poison_fraction`, `seed` (see `Byzantine`).

    Returns:
        A `Byzantine`, to pass as `client_app(..., byzantine=...)`.

    Raises:
        ValueError: for an unknown kind or bad client ids.

    Example:
        >>> attack = byzantine("sign_flip", clients=[1])
        >>> app = client_app(model_fn, load_partition, byzantine=attack)
    """
    return Byzantine(kind, clients=clients, **kwargs)


def _check_clients(clients):
    ids = [clients] if isinstance(clients, numbers.Integral) else clients
    try:
        ids = list(ids)
    except TypeError:
        raise TypeError(f"Expected `clients` to be a partition id or a list of them. "
                        f"Received: clients={clients!r}") from None
    if not ids or any(isinstance(i, bool) or not isinstance(i, numbers.Integral) or i < 0
                      for i in ids):
        raise ValueError(f"Expected `clients` to be partition ids (integers >= 0), at least "
                         f"one. Received: clients={clients!r}")
    return frozenset(int(i) for i in ids)
