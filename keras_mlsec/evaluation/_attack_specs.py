"""Turning the `attacks` argument of `evaluate_robustness` into attack specs."""

import functools
import inspect

from keras_mlsec._core import validation as v


def _eot_override(attack, eot):
    """`{"eot_samples": eot}` for an attack that takes it and was not given its own."""
    if eot > 1 and "eot_samples" in _accepted(type(attack)) and attack.eot_samples is None:
        return {"eot_samples": eot}
    return {}


def _no_eot_notes(specs, defenses, eot):
    """One note per attack that cannot average its gradients over the model's random layers."""
    if eot <= 1:
        return []
    random_layers = ", ".join(d["class"] for d in defenses if d["stochastic"])
    return [f"{s['label']} cannot average its gradients over the random layers "
            f"({random_layers}) with EOT: it sees one random draw per query, so its rows may "
            "overstate robustness."
            for s in specs if "eot_samples" not in _accepted(s["class"])]


def _accepted(cls):
    """Names of the keyword arguments the attack class's constructor takes."""
    params = inspect.signature(cls.__init__).parameters
    return {n for n, p in params.items() if n != "self" and p.kind != p.VAR_POSITIONAL}


def _attack_specs(attacks, attack_params, norm, clip, batch_size, seed):
    from keras_mlsec import attacks as attack_lib

    if isinstance(attacks, (str, attack_lib.Attack)):
        attacks = [attacks]
    attacks = list(attacks)
    if not attacks:
        raise ValueError(
            f"Expected at least one attack in `attacks`. Received: attacks={attacks!r}")
    if not isinstance(attack_params, dict):
        raise TypeError("Expected `attack_params` to be a dict {attack name: {parameter: value}}. "
                        f"Received: attack_params={attack_params!r}")
    names = [str(a).lower() for a in attacks if isinstance(a, str)]
    for key, params in attack_params.items():
        if str(key).lower() not in names or not isinstance(params, dict):
            raise ValueError(
                "Expected `attack_params` keys among the attack names given in `attacks` "
                f"({names}) with dict values. Received: attack_params={attack_params!r}")
    params_by_name = {str(k).lower(): p for k, p in attack_params.items()}
    specs, labels = [], set()
    shared = {"norm": norm, "clip": clip, "batch_size": batch_size, "seed": seed}
    for entry in attacks:
        if isinstance(entry, attack_lib.Attack):
            base_name = getattr(entry, "name", type(entry).__name__.lower())
            minimum_norm = "eps" not in entry.get_config()
            if not minimum_norm:
                _check_threat_model(entry, entry.get_config().get("norm", "linf"), norm)
            build = functools.partial(_same, entry)  # eps is passed per call
            attack, cls, params = entry, type(entry), {}
        elif isinstance(entry, str):
            base_name = entry.lower()
            if base_name not in attack_lib.ATTACKS:
                raise ValueError(
                    f"Expected every name in `attacks` to be one of {sorted(attack_lib.ATTACKS)}. "
                    f"Received: attacks={attacks!r} with unknown name {entry!r}")
            cls = attack_lib.ATTACKS[base_name]
            accepted = _accepted(cls)
            params = params_by_name.get(base_name, {})
            unknown = sorted(set(params) - accepted) + (["eps"] if "eps" in params else [])
            if unknown:
                raise ValueError(
                    f"Expected `attack_params[{base_name!r}]` to hold hyper-parameters of "
                    f"{cls.__name__} other than eps ({sorted(accepted - {'eps'})}). "
                    f"Received: unknown or reserved keys {unknown}")
            config = {k: val for k, val in shared.items() if k in accepted}
            config.update(params)
            minimum_norm = "eps" not in accepted
            if not minimum_norm:
                _check_threat_model(cls, config.get("norm", "linf"), norm)
            build = functools.partial(_build, base_name, config)
            attack = attack_lib.get(base_name, **config) if minimum_norm else None
        else:
            raise TypeError(
                f"Expected each entry of `attacks` to be an attack name from "
                f"{sorted(attack_lib.ATTACKS)} or an `Attack` object. Received: {entry!r} "
                f"of type {type(entry).__name__}")
        label, n = base_name, 2
        while label in labels:
            label, n = f"{base_name}_{n}", n + 1
        labels.add(label)
        specs.append({"label": label, "build": build, "attack": attack, "class": cls,
                      "params": params, "minimum_norm": minimum_norm})
    return specs


def _check_threat_model(attack, attack_norm, norm):
    """An eps-bounded attack must search the ball the report measures in.

    Attacks without a `norm` hyper-parameter (e.g. Square) are L-inf attacks.
    """
    if v.check_norm(attack_norm) != norm:
        name = getattr(attack, "__name__", type(attack).__name__)
        raise ValueError(
            f"Expected every eps-bounded attack to use norm={norm!r}, the norm of the "
            f"evaluation. Received: {name} with norm={attack_norm!r}. Pass norm={attack_norm!r} "
            "or evaluate that attack separately.")


def _build(name, config, eps):
    from keras_mlsec import attacks as attack_lib

    return attack_lib.get(name, eps=eps, **config)


def _same(attack, eps):
    return attack
