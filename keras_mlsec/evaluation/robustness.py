"""`evaluate_robustness`: every attack at every budget, in one call."""

import numbers
import platform
import sys
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_mlsec._core import models
from keras_mlsec._core import validation as v
from keras_mlsec._core.models import num_classes_of, predict_labels
from keras_mlsec.attacks import PGD
from keras_mlsec.evaluation import masking_checks
from keras_mlsec.evaluation._attack_specs import _attack_specs, _no_eot_notes, default_attacks
from keras_mlsec.evaluation._defenses import find_defenses
from keras_mlsec.evaluation._runs import Runner
from keras_mlsec.evaluation.presets import AUTOATTACK, AUTOATTACK_RAND, RAND_EOT_SAMPLES
from keras_mlsec.evaluation.report import RobustnessReport

DEFAULT_EPS = (0.05, 0.1, 0.2)


def evaluate_robustness(model, x, y, *, attacks=None, eps=DEFAULT_EPS, norm="linf",
                        clip=(0.0, 1.0), batch_size=256, seed=0, verbose=1, attack_params=None,
                        eot_samples=10, checks=True, cascade=True):
    """Runs every attack at every budget and reports accuracy, worst case and cost.

    Robust (adversarial) accuracy counts an example only when the model
    classifies it correctly both clean and after the attack: an example the
    model already gets wrong is never robust. The "worst_case" row of each
    eps takes, per example, the strongest of all attacks (robust only if no
    attack fooled it), so it is never above any single attack's accuracy.

    By default (`attacks=None`) the worst case is at least as strong as
    AutoAttack's standard version (Croce and Hein 2020): the "autoattack"
    preset runs APGD-CE, APGD-T (targeted DLR, 9 target classes), FAB-T and
    Square (5,000 queries) as a cascade, next to the familiar standalone FGSM
    and PGD reference rows. When the model's outputs are random (a random
    defense layer, or two predictions that differ), the default runs
    "autoattack-rand" instead (APGD-CE and APGD-DLR, each averaging over 20
    random passes) and `report.notes` says so.

    Cascade: the stages of a preset attack only the examples every stage
    before them left robust, so a stage's row reports the robust accuracy
    after it (and the stages before). Budgets run from the smallest; at a
    larger eps the cascade starts from the examples still robust at the
    smaller eps (an adversarial example inside a ball is inside every larger
    one). The worst-case rows list per example the attack that broke it
    (`broken_by`). Standalone attacks (names or objects outside the preset)
    run on every example and keep their usual meaning. `cascade=False` runs
    the preset's attacks standalone too (same rows, every attack on every
    example: slower, for comparison).

    Minimum-norm attacks (declared `kind = "minimum_norm"`, e.g. "cw", "fab")
    run without a budget; an example then counts as robust at `eps` when the
    attack failed on it or needed a perturbation larger than `eps` (measured
    in `norm`). Standalone, they run once and their time is split evenly over
    their rows; in a cascade, once per example.

    Honest evaluation: the defense layers of `keras_mlsec.defenses` found in
    the model (nested models included) are listed in `report.config
    ["defenses"]`. Deterministic ones are attacked through their
    straight-through (BPDA) gradient; when a random layer (`stochastic =
    True`) is present, the attacks that declare `supports_eot` (FGSM, BIM,
    PGD, APGD) average every step's gradient over `eot_samples` passes (EOT);
    other gradient attacks (MIM, FAB, CW) still run, with a `UserWarning` and
    a line in `report.config["notes"]`. With `checks`, `report.checks` holds
    the gradient-masking checks of `keras_mlsec.evaluation.masking_checks`
    (extra cost: about 4 PGD runs on 100 examples).

    Args:
        model: a single-output `keras.Model` classifier (logits or softmax).
        x: inputs inside `clip`, shape `(n, ...)`.
        y: true labels, sparse `(n,)` or one-hot `(n, classes)`. Required.
        attacks: None (the default: "fgsm", "pgd" and the "autoattack"
            preset, or "autoattack-rand" for random models), or names from
            `keras_mlsec.attacks.ATTACKS`, at most one preset name
            ("autoattack", "autoattack-rand") and/or `Attack` objects (their
            own hyper-parameters, with `eps` replaced by each budget).
        eps: one budget or a list of budgets, each >= 0, in `norm`.
        norm: "linf" or "l2": the threat model handed to attacks built by
            name, and the norm in which perturbations are measured.
        clip: `(min, max)` input domain, or None.
        batch_size: examples per batch.
        seed: seed handed to the attacks that take one.
        verbose: 0 silent, 1 a `keras.utils.Progbar` over the (attack, eps)
            stages, 2 one line per finished row.
        attack_params: optional `{name: {hyper-parameter: value}}` for the
            attacks given by name and the stages of a preset (by stage
            label: "apgd-ce", "apgd-t", "fab-t", "square", "apgd-dlr"), e.g.
            `{"pgd": {"steps": 20}, "square": {"steps": 1000}}`.
        eot_samples: EOT passes for attacks that support it, used only when
            the model holds a random defense layer.
        checks: run the gradient-masking checks.
        cascade: run a preset's attacks as a cascade (True) or each on every
            example (False).

    Returns:
        A `RobustnessReport`.

    Raises:
        ValueError: for an unknown attack or preset name, two presets, a
            negative eps, labels of the wrong length, inputs outside `clip`,
            bad `attack_params` (also keyed by a preset name), or
            `num_target_classes` larger than the classes minus one.
        TypeError: when `model` is not a `keras.Model` or an entry of
            `attacks` is neither a name nor an `Attack`.

    Example:
        >>> report = evaluate_robustness(model, x_test, y_test, eps=[0.05, 0.1])
        >>> print(report)
        >>> report.save("mlsec-report")
    """
    model = v.check_model(model)
    norm = v.check_norm(norm)
    clip = v.check_clip(clip)
    batch_size = v.check_positive_int(batch_size, "batch_size")
    eps_values = _check_eps(eps)
    eot_samples = v.check_positive_int(eot_samples, "eot_samples")
    verbose = _check_verbose(verbose)
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
    random_outputs = bool(eot > 1 or _outputs_vary(logits_fn, x))
    notes = []
    if attacks is None:
        attacks = default_attacks(random_outputs)
        if random_outputs:
            notes.append(f"The model's outputs are random, so the default evaluation ran "
                         f"{AUTOATTACK_RAND!r} (APGD-CE and APGD-DLR, each averaging its "
                         f"gradients over {RAND_EOT_SAMPLES} random passes) instead of "
                         f"{AUTOATTACK!r}.")
    elif random_outputs and _names(attacks, AUTOATTACK):
        notes.append(f"The model's outputs are random: {AUTOATTACK!r} sees one random draw per "
                     f"query and may overstate robustness; use attacks={AUTOATTACK_RAND!r}.")
    specs, preset_notes = _attack_specs(attacks, attack_params or {}, norm, clip, batch_size,
                                        seed, num_classes)
    notes += preset_notes + _no_eot_notes(specs, defenses, eot)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    for spec in specs:  # every attack is built now, so bad values fail before any attack runs
        if not spec["minimum_norm"]:
            spec["build"](eps_values[0])

    preset = next((s["cascade"] for s in specs if s["cascade"]), None)
    cascaded = [s for s in specs if s["cascade"]] if cascade else []
    alone = [s for s in specs if s not in cascaded]
    for s in specs if not cascade else []:
        s["cascade"], s["stage"] = None, None
    progress = _progress(verbose, (len(alone) + len(cascaded)) * len(eps_values))
    clean_correct = predict_labels(logits_fn, x, batch_size) == labels
    runner = Runner(model, x, labels, clean_correct, logits_fn, norm=norm,
                    batch_size=batch_size, eot=eot, on_stage=progress)
    rows = []
    for spec in alone:
        rows += runner.standalone(spec, eps_values)
    broken_by = {}
    if cascaded:
        cascade_rows, broken_by = runner.cascade(cascaded, eps_values)
        rows += cascade_rows
    order = [s["label"] for s in cascaded] + [s["label"] for s in alone]
    for e in eps_values:
        rows.append(runner.worst_case(e, order, rows, broken_by.get(e)))

    config = {
        "attacks": [s["label"] for s in specs],
        "preset": preset, "cascade": [s["label"] for s in cascaded],
        "random_outputs": random_outputs,
        "eps": list(eps_values), "norm": norm, "clip": list(clip) if clip else None,
        "batch_size": batch_size, "seed": seed, "attack_params": attack_params or {},
        "num_examples": int(len(x)), "input_shape": list(x.shape[1:]),
        "model_name": getattr(model, "name", type(model).__name__),
        "versions": _versions(), "defenses": defenses, "eot_samples": eot, "notes": notes,
    }
    found = None
    if checks:
        # The steps given to PGD by name (any spelling), else the masking checks' default.
        pgd_params = next((s["params"] for s in specs if s["class"] is PGD and s["params"]), {})
        measured = masking_checks.measure(model, x, labels, eps=eps_values[-1], norm=norm,
                                          clip=clip, steps=pgd_params.get("steps", 20),
                                          seed=seed, batch_size=batch_size, eot_samples=eot)
        found = masking_checks.run_checks(rows, measured, eot_samples=eot,
                                          num_classes=num_classes)
    return RobustnessReport(clean_accuracy=float(np.mean(clean_correct)), results=rows,
                            config=config, num_examples=len(x), norm=norm, checks=found)


def _names(attacks, name):
    entries = [attacks] if isinstance(attacks, str) else attacks
    try:
        return any(isinstance(a, str) and a.lower() == name for a in entries)
    except TypeError:
        return False


def _outputs_vary(logits_fn, x, sample=16):
    """Whether two predictions of the same inputs differ (a model with random outputs)."""
    xt = tf.constant(x[:sample])
    return float(np.max(np.abs(logits_fn(xt).numpy() - logits_fn(xt).numpy()))) > 1e-6


def _check_verbose(verbose):
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"Expected `verbose` to be 0, 1 or 2. Received: verbose={verbose!r}")
    return verbose


def _progress(verbose, total):
    """The callback run after each (attack, eps) stage: a Progbar (1) or one line (2)."""
    if verbose == 0:
        return lambda row: None
    if verbose == 1:
        bar = keras.utils.Progbar(total, unit_name="stage")
        count = [0]

        def advance(row):
            count[0] += 1
            bar.update(count[0])

        return advance
    count = [0]

    def line(row):
        count[0] += 1
        stage = f" (cascade stage {row.stage})" if row.stage else ""
        print(f"[{count[0]}/{total}] {row.attack} eps={row.eps:g}{stage}: adversarial accuracy "
              f"{row.adversarial_accuracy:.1%} ({row.seconds:.2f} s)")
        sys.stdout.flush()

    return line


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


def _versions():
    import keras_mlsec  # the package's own version (the package imports this module lazily)

    return {"keras_mlsec": keras_mlsec.__version__, "keras": keras.__version__,
            "tensorflow": tf.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "backend": keras.backend.backend()}
