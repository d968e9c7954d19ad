"""Turning the `attacks` argument of `evaluate_robustness` into attack specs.

What an attack is (fixed budget or minimum norm, its norms, whether it takes
EOT) is read from the class attributes it declares (`keras_mlsec.attacks.base`).
Constructor signatures are read only to check `attack_params` keys.
"""

import functools
import inspect

from keras_mlsec import attacks as attack_lib
from keras_mlsec._core import validation as v
from keras_mlsec.attacks.base import MINIMUM_NORM
from keras_mlsec.evaluation import presets

DEFAULT_STANDALONE = ("fgsm", "pgd")


def _eot_override(attack, eot):
    """`{"eot_samples": eot}` for an attack that takes it and was not given its own."""
    if eot > 1 and type(attack).supports_eot and getattr(attack, "eot_samples", None) is None:
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
            for s in specs if not s["class"].supports_eot]


def _accepted(cls):
    """Names of the keyword arguments the attack class's constructor takes."""
    params = inspect.signature(cls.__init__).parameters
    return {n for n, p in params.items() if n != "self" and p.kind != p.VAR_POSITIONAL}


def default_attacks(random_outputs):
    """FGSM and PGD reference rows plus AutoAttack (its "rand" version for random models)."""
    preset = presets.AUTOATTACK_RAND if random_outputs else presets.AUTOATTACK
    return list(DEFAULT_STANDALONE) + [preset]


def _split(attacks):
    """`(entries, preset)`: the attack entries and the one preset name among them (or None)."""
    if isinstance(attacks, (str, attack_lib.Attack)):
        attacks = [attacks]
    try:
        attacks = list(attacks)
    except TypeError:
        raise TypeError("Expected `attacks` to be an attack name, a preset name, an `Attack` "
                        f"or a list of them. Received: attacks={attacks!r}") from None
    if not attacks:
        raise ValueError(
            f"Expected at least one attack in `attacks`. Received: attacks={attacks!r}")
    named = [a for a in attacks if isinstance(a, str) and a.lower() in presets.PRESETS]
    if len(named) > 1:
        raise ValueError(
            f"Expected at most one preset in `attacks` (one cascade per evaluation). "
            f"Received: attacks={attacks!r} with presets {named}. Evaluate them separately.")
    entries = [a for a in attacks if not (isinstance(a, str) and a.lower() in presets.PRESETS)]
    return entries, (named[0].lower() if named else None)


def _attack_specs(attacks, attack_params, norm, clip, batch_size, seed, num_classes=None):
    """Returns `(specs, notes)`: standalone specs, then the cascade's stages (if any)."""
    entries, preset = _split(attacks)
    if not isinstance(attack_params, dict):
        raise TypeError("Expected `attack_params` to be a dict {attack name: {parameter: value}}. "
                        f"Received: attack_params={attack_params!r}")
    stage_list, notes = ([], [])
    if preset is not None:
        stage_list, notes = presets.stages(preset, norm=norm,
                                           num_classes=num_classes if num_classes else 10)
    names = [str(a).lower() for a in entries if isinstance(a, str)]
    names += [label for label, _, _ in stage_list]
    for key, params in attack_params.items():
        if str(key).lower() in presets.PRESETS:
            raise ValueError(
                f"Expected `attack_params` keys naming attacks, not a preset. Received: "
                f"attack_params key {key!r}; to change a stage of {key!r}, name the stage: "
                f"one of {[label for label, _, _ in stage_list] or 'its stages'}")
        if str(key).lower() not in names or not isinstance(params, dict):
            raise ValueError(
                "Expected `attack_params` keys among the attack names given in `attacks` "
                f"({names}) with dict values. Received: attack_params={attack_params!r}")
    params_by_name = {str(k).lower(): p for k, p in attack_params.items()}
    shared = {"norm": norm, "clip": clip, "batch_size": batch_size, "seed": seed}
    specs, labels = [], set()
    for entry in entries:
        if isinstance(entry, attack_lib.Attack):
            spec = _object_spec(entry, norm)
        elif isinstance(entry, str):
            key = entry.lower()
            if key not in attack_lib.ATTACKS:
                raise ValueError(
                    f"Expected every name in `attacks` to be one of {sorted(attack_lib.ATTACKS)} "
                    f"or a preset in {list(presets.PRESETS)}. Received: attacks={attacks!r} "
                    f"with unknown name {entry!r}")
            spec = _named_spec(key, attack_lib.ATTACKS[key], {}, params_by_name.get(key, {}),
                               shared, norm)
        else:
            raise TypeError(
                f"Expected each entry of `attacks` to be an attack name from "
                f"{sorted(attack_lib.ATTACKS)}, a preset in {list(presets.PRESETS)} or an "
                f"`Attack` object. Received: {entry!r} of type {type(entry).__name__}")
        specs.append(spec)
    for index, (label, cls, defaults) in enumerate(stage_list, start=1):
        spec = _named_spec(label, cls, defaults, params_by_name.get(label, {}), shared, norm)
        spec.update(cascade=preset, stage=index)
        specs.append(spec)
    for spec in specs:  # unique labels, the cascade's stage labels kept as they are
        base, n = spec["label"], 2
        while spec["label"] in labels:
            spec["label"], n = f"{base}_{n}", n + 1
        labels.add(spec["label"])
    if num_classes is not None:
        for spec in specs:
            _check_target_classes(spec, num_classes)
    return specs, notes


def _spec(label, cls, attack, build, params):
    return {"label": label, "class": cls, "attack": attack, "build": build, "params": params,
            "minimum_norm": cls.kind == MINIMUM_NORM, "cascade": None, "stage": None}


def _object_spec(entry, norm):
    cls = type(entry)
    if cls.kind != MINIMUM_NORM:
        _check_threat_model(cls, entry.get_config().get("norm", cls.norms[0]), norm)
    return _spec(getattr(entry, "name", cls.__name__.lower()), cls, entry,
                 functools.partial(_same, entry), {})


def _named_spec(label, cls, defaults, params, shared, norm):
    accepted = _accepted(cls)
    unknown = sorted(set(params) - accepted) + (["eps"] if "eps" in params else [])
    if unknown:
        raise ValueError(
            f"Expected `attack_params[{label!r}]` to hold hyper-parameters of "
            f"{cls.__name__} other than eps ({sorted(accepted - {'eps'})}). "
            f"Received: unknown or reserved keys {unknown}")
    config = {k: val for k, val in shared.items() if k in accepted}
    config.update(defaults)
    config.update(params)
    if cls.kind == MINIMUM_NORM:
        attack = cls(**config)
        return _spec(label, cls, attack, functools.partial(_same, attack), params)
    _check_threat_model(cls, config.get("norm", cls.norms[0]), norm)
    cls(eps=0.0, **config)  # a bad hyper-parameter fails here, before any attack runs
    return _spec(label, cls, None, functools.partial(_build, cls, config), params)


def _check_target_classes(spec, num_classes):
    config = spec["attack"].get_config() if spec["attack"] is not None else \
        spec["build"](0.0).get_config()
    wanted = config.get("num_target_classes")
    if wanted is not None and wanted > num_classes - 1:
        raise ValueError(
            f"Expected `num_target_classes` <= {num_classes - 1} (the classes of the model "
            f"other than the true one). Received: num_target_classes={wanted} for "
            f"{spec['label']!r} (set through `attack_params` or the attack object)")


def _check_threat_model(cls, attack_norm, norm):
    """An eps-bounded attack must search the ball the report measures in."""
    attack_norm = v.check_norm(attack_norm)
    if attack_norm != norm or norm not in cls.norms:
        raise ValueError(
            f"Expected every eps-bounded attack to use norm={norm!r}, the norm of the "
            f"evaluation. Received: {cls.__name__} with norm={attack_norm!r} (it supports "
            f"{list(cls.norms)}). Pass norm={attack_norm!r} or evaluate that attack separately.")


def _build(cls, config, eps):
    return cls(eps=eps, **config)


def _same(attack, eps):
    return attack
