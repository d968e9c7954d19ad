"""`evaluate_robustness`: every attack at every budget, in one call."""

import numbers
import platform
import time
import warnings

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.evaluation._attack_specs import _attack_specs, _eot_override, _no_eot_notes
from keras_mlsec.evaluation.report import WORST_CASE, RobustnessReport

DEFAULT_EPS = (0.05, 0.1, 0.2)


def evaluate_robustness(model, x, y, *, attacks=("fgsm", "pgd"), eps=DEFAULT_EPS, norm="linf",
                        clip=(0.0, 1.0), batch_size=256, seed=0, verbose=1, attack_params=None,
                        eot_samples=10, checks=True):
    """Runs every attack at every budget and reports accuracy, worst case and cost.

    Robust (adversarial) accuracy counts an example only when the model
    classifies it correctly both clean and after the attack: an example the
    model already gets wrong is never robust. The "worst_case" row of each
    eps takes, per example, the strongest of all attacks (robust only if no
    attack fooled it), so it is never above any single attack's accuracy.

    Minimum-norm attacks, whose constructor has no `eps` (e.g. "cw"), run once
    without a budget; an example then counts as robust at `eps` when the
    attack failed on it or needed a perturbation larger than `eps` (measured
    in `norm`). Their rows report, per eps, only the perturbations that fit
    the budget (others count as 0), so every row is comparable and joins the
    worst case; the time of their single run is split evenly over their rows.

    Honest evaluation: the defense layers of `keras_mlsec.defenses` found in
    the model (nested models included) are listed in `report.config
    ["defenses"]`. Deterministic ones are attacked through their
    straight-through (BPDA) gradient; when a random layer (`stochastic =
    True`) is present, FGSM, BIM and PGD average every step's gradient over
    `eot_samples` passes (EOT) and their rows' config records it; attacks
    that cannot (MIM, APGD, Square, CW) still run, with a `UserWarning` and a
    line in `report.config["notes"]` saying their rows may overstate
    robustness (the worst case still includes the EOT attacks). With
    `checks`, `report.checks` holds the gradient-masking checks of
    `keras_mlsec.evaluation.masking_checks` (extra cost: about 4 PGD runs on
    100 examples).

    Args:
        model: a single-output `keras.Model` classifier (logits or softmax).
        x: inputs inside `clip`, shape `(n, ...)`.
        y: true labels, sparse `(n,)` or one-hot `(n, classes)`. Required.
        attacks: names from `keras_mlsec.attacks.ATTACKS` (built with
            `keras_mlsec.attacks.get`) and/or `Attack` objects (their own
            hyper-parameters, with `eps` replaced by each budget).
        eps: one budget or a list of budgets, each >= 0, in `norm`.
        norm: "linf" or "l2": the threat model handed to attacks built by
            name, and the norm in which perturbations are measured.
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed handed to the attacks that take one.
        verbose: 1 prints one line per (attack, eps); 0 is silent.
        attack_params: optional `{name: {hyper-parameter: value}}` for the
            attacks given by name, e.g. `{"pgd": {"steps": 20}}`.

    Returns:
        A `RobustnessReport`.

    Raises:
        ValueError: for an unknown attack name, a negative eps, labels of
            the wrong length, inputs outside `clip`, or bad `attack_params`.
        TypeError: when `model` is not a `keras.Model` or an entry of
            `attacks` is neither a name nor an `Attack`.

    Example:
        >>> report = evaluate_robustness(model, x_test, y_test, eps=[0.05, 0.1],
        ...                              attacks=["fgsm", "pgd"])
        >>> print(report)
        >>> report.save("mlsec-report")
    """
    from keras_mlsec._core import models
    from keras_mlsec._core.models import num_classes_of, predict_labels
    from keras_mlsec.evaluation import masking_checks
    from keras_mlsec.evaluation._defenses import find_defenses

    model = v.check_model(model)
    norm = v.check_norm(norm)
    clip = v.check_clip(clip)
    batch_size = v.check_positive_int(batch_size, "batch_size")
    eps_values = _check_eps(eps)
    eot_samples = v.check_positive_int(eot_samples, "eot_samples")
    defenses = find_defenses(model)
    eot = eot_samples if any(d["stochastic"] for d in defenses) else 1
    for d in defenses:
        d["gradient"] += f" over {eot} samples" if d["stochastic"] else ""
    if y is None:
        raise ValueError("Expected labels `y` to measure accuracy. Received: y=None")
    x = v.check_inputs(x, model=model, clip=clip)
    logits_fn = models.logits_function(model)
    num_classes = num_classes_of(model, logits_fn, x)
    labels = v.check_labels(y, len(x), num_classes)
    specs = _attack_specs(attacks, attack_params or {}, norm, clip, batch_size, seed)
    notes = _no_eot_notes(specs, defenses, eot)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    # Build every attack now, so a bad hyper-parameter fails before any attack runs.
    built = {(s["label"], e): s["build"](e) for s in specs if not s["minimum_norm"]
             for e in eps_values}

    clean_correct = predict_labels(logits_fn, x, batch_size) == labels
    rows, outcomes = [], {}
    total = len(specs) * len(eps_values)
    done = 0
    for spec in specs:
        if spec["minimum_norm"]:
            start = time.perf_counter()
            x_adv = _numpy(spec["attack"](model, x, labels))
            seconds = time.perf_counter() - start
            norms = _norms(x_adv - x, norm)
            fooled = predict_labels(logits_fn, x_adv, batch_size) != labels
        for e in eps_values:
            if spec["minimum_norm"]:
                inside = fooled & (norms <= e * (1 + 1e-5) + 1e-7)
                correct, row_norms = ~inside, np.where(inside, norms, 0.0)
                row_seconds, config = seconds / len(eps_values), spec["attack"].get_config()
            else:
                attack = built[spec["label"], e]
                overrides = {"eps": e, **_eot_override(attack, eot)}
                start = time.perf_counter()
                x_adv = _numpy(attack(model, x, labels, **overrides))
                row_seconds = time.perf_counter() - start
                correct = predict_labels(logits_fn, x_adv, batch_size) == labels
                row_norms = _norms(x_adv - x, norm)
                config = {**attack.get_config(), **overrides}
            robust = clean_correct & correct
            outcomes[spec["label"], e] = (robust, row_norms)
            rows.append(_row(spec["label"], e, robust, clean_correct, row_norms, row_seconds,
                             minimum_norm=spec["minimum_norm"], config=config))
            done += 1
            if verbose:
                print(f"[{done}/{total}] {spec['label']} eps={e:g}: adversarial accuracy "
                      f"{rows[-1]['adversarial_accuracy']:.1%} ({row_seconds:.2f} s)")
    for e in eps_values:
        rows.append(_worst_case_row(e, [s["label"] for s in specs], outcomes, clean_correct, rows))

    config = {
        "attacks": [s["label"] for s in specs],
        "eps": list(eps_values), "norm": norm, "clip": list(clip) if clip else None,
        "batch_size": batch_size, "seed": seed, "attack_params": attack_params or {},
        "num_examples": int(len(x)), "input_shape": list(x.shape[1:]),
        "model_name": getattr(model, "name", type(model).__name__),
        "versions": _versions(), "defenses": defenses, "eot_samples": eot, "notes": notes,
    }
    found = None
    if checks:
        from keras_mlsec.attacks import PGD

        # The steps given to "pgd" by name (any spelling), else the masking checks' default.
        pgd_params = next((s["params"] for s in specs if s["class"] is PGD and s["params"]), {})
        pgd_steps = pgd_params.get("steps", 20)
        measured = masking_checks.measure(model, x, labels, eps=eps_values[-1], norm=norm,
                                          clip=clip, steps=pgd_steps, seed=seed,
                                          batch_size=batch_size, eot_samples=eot)
        found = masking_checks.run_checks(rows, measured, eot_samples=eot,
                                          num_classes=num_classes)
    return RobustnessReport(clean_accuracy=float(np.mean(clean_correct)), results=rows,
                            config=config, num_examples=len(x), norm=norm, checks=found)


def _check_eps(eps):
    values = [eps] if isinstance(eps, (numbers.Number, str)) else eps
    try:
        values = list(values)
    except TypeError:
        raise TypeError("Expected `eps` to be a number or a list of numbers. "
                        f"Received: eps={eps!r}") from None
    if not values:
        raise ValueError(f"Expected at least one budget in `eps`. Received: eps={eps!r}")
    return sorted({v.check_non_negative(e, "eps") for e in values})


def _numpy(x_adv):
    return np.asarray(x_adv.numpy() if hasattr(x_adv, "numpy") else x_adv, dtype=np.float32)


def _norms(delta, norm):
    flat = delta.reshape(len(delta), -1).astype(np.float64)
    if norm == "linf":
        return np.abs(flat).max(axis=1)
    return np.sqrt((flat ** 2).sum(axis=1))


def _row(attack, eps, robust, clean_correct, norms, seconds, *, minimum_norm=False, config=None):
    clean = float(np.mean(clean_correct))
    adversarial = float(np.mean(robust))
    num_correct = int(np.sum(clean_correct))
    fooled = int(np.sum(clean_correct & ~robust))
    return {
        "attack": attack, "eps": float(eps),
        "adversarial_accuracy": adversarial,
        "robustness_gap": clean - adversarial,
        "success_rate": fooled / num_correct if num_correct else None,
        "mean_perturbation": float(np.mean(norms)),
        "max_perturbation": float(np.max(norms)),
        "seconds": float(seconds),
        "num_robust": int(np.sum(robust)),
        "minimum_norm": bool(minimum_norm),
        "config": config or {},
    }


def _worst_case_row(eps, labels, outcomes, clean_correct, rows):
    """Per example, the first attack that fooled it (else the first attack) wins."""
    robust = np.stack([outcomes[label, eps][0] for label in labels])
    norms = np.stack([outcomes[label, eps][1] for label in labels])
    worst = np.all(robust, axis=0)
    chosen = np.argmax(~robust, axis=0)  # 0 when nothing fooled the example
    worst_norms = norms[chosen, np.arange(robust.shape[1])]
    seconds = sum(r["seconds"] for r in rows if r["eps"] == float(eps))
    return _row(WORST_CASE, eps, worst & clean_correct, clean_correct, worst_norms, seconds,
                config={"attacks": list(labels)})


def _versions():
    import keras
    import tensorflow as tf

    import keras_mlsec

    return {"keras_mlsec": keras_mlsec.__version__, "keras": keras.__version__,
            "tensorflow": tf.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "backend": keras.backend.backend()}
