"""Gradient-masking checks (Carlini et al. 2019 checklist; AutoAttack's flags).

A defense that only hides gradients looks robust to gradient attacks and is
not. Each check reads the rows of a robustness report (plus a few cheap extra
measurements from `measure`) and returns `{"name", "verdict", "reason"}` with
verdict "pass", "warn", "fail" or "skipped" (the check needs an attack or a
measurement that was not run; nothing is faked), as a `CheckResult`.
Which rows are single-step, iterative, white-box or black-box is read from
what each attack class declares (`uses_gradients`, `iterative`, copied into
the rows), never from attack names.

Extra cost of `measure` (on at most `sample` examples, 100 by default): one
input-gradient pass, two repeated predictions, PGD at a large eps (20 steps)
and PGD at one eps with `steps` and with `2 * steps`: about 4x one PGD run
on 100 examples (times the EOT samples for random models).
"""

import numpy as np

from keras_mlsec.evaluation.check_result import CheckResult

TOLERANCE = 0.02  # accuracy differences below this are noise on a few hundred examples
# Targeted DLR (APGD-T) breaking this share of all examples more than CE: warn / fail.
DLR_GAP_WARN, DLR_GAP_FAIL = 0.05, 0.15


def _check(name, verdict, reason):
    return CheckResult(name, verdict, reason)


# What a row is, read from what its attack class declares (never from its name).
def _gradient(row):
    return row.get("uses_gradients") is not False and row["attack"] != "worst_case"


def _single_step(row):
    return _gradient(row) and row.get("iterative") is False and not row.get("cascade")


def _iterative(row):
    """A white-box iterative attack alone: a standalone row or a cascade's first stage."""
    return (_gradient(row) and row.get("iterative") is not False
            and (not row.get("cascade") or row.get("stage") == 1))


def _black_box(row):
    return row.get("uses_gradients") is False


def _config(row):
    return row.get("config") or {}


def _ce(row):
    c = _config(row)
    return c.get("loss") == "ce" and not c.get("targeted") and not c.get("num_target_classes")


def _targeted_dlr(row):
    c = _config(row)
    return c.get("loss") == "dlr" and bool(c.get("num_target_classes"))


def _by_eps(rows, keep):
    """{eps: lowest adversarial accuracy among the rows `keep(row)` accepts}."""
    out = {}
    for r in rows:
        if keep(r):
            out[r["eps"]] = min(out.get(r["eps"], 1.0), r["adversarial_accuracy"])
    return out


def _stage_drops(rows, keep):
    """{eps: largest accuracy drop of a cascade stage `keep` accepts, after the first stage}.

    The drop is the share of all examples the stage broke that every earlier
    stage of its cascade had left robust.
    """
    before = {(r.get("cascade"), r["eps"], r.get("stage")): r["adversarial_accuracy"]
              for r in rows if r.get("cascade")}
    out = {}
    for r in rows:
        if r.get("cascade") and keep(r) and (r.get("stage") or 0) > 1:
            previous = before.get((r["cascade"], r["eps"], r["stage"] - 1))
            if previous is not None:
                drop = previous - r["adversarial_accuracy"]
                out[r["eps"]] = max(out.get(r["eps"], 0.0), drop)
    return out


def iterative_beats_single_step(rows):
    """Iterative white-box attacks must be at least as strong as single-step ones (FGSM)."""
    name = "iterative beats single-step"
    single, iterative = _by_eps(rows, _single_step), _by_eps(rows, _iterative)
    common = sorted(set(single) & set(iterative))
    if not common:
        return _check(name, "skipped", "needs a single-step attack (FGSM) and an iterative "
                      "white-box attack (PGD, BIM, MIM, APGD...) at the same eps; add them to "
                      "`attacks`")
    worst = max(common, key=lambda e: iterative[e] - single[e])
    gap = iterative[worst] - single[worst]
    detail = (f"at eps={worst:g}: single-step {single[worst]:.1%}, iterative "
              f"{iterative[worst]:.1%}")
    if gap > 2 * TOLERANCE:
        return _check(name, "fail", f"single-step is stronger than iterative {detail}: the "
                      "iterative attack is stuck, a sign of masked or noisy gradients")
    if gap > TOLERANCE:
        return _check(name, "warn", f"single-step is slightly stronger {detail}")
    return _check(name, "pass", f"iterative at least as strong as single-step ({detail})")


def accuracy_falls_with_eps(rows, large_eps=None, chance=None):
    """Worst-case accuracy decreases with eps and reaches about chance at a large eps.

    Args:
        rows: report rows (uses the "worst_case" rows).
        large_eps: optional `{"eps", "accuracy"}` from PGD at a very large budget.
        chance: chance accuracy (1 / classes), needed with `large_eps`.
    """
    name = "accuracy falls toward chance as eps grows"
    curve = sorted((r["eps"], r["adversarial_accuracy"]) for r in rows
                   if r["attack"] == "worst_case")
    rises = [(a, b) for a, b in zip(curve, curve[1:]) if b[1] > a[1] + TOLERANCE]
    if rises:
        (e0, a0), (e1, a1) = rises[0]
        return _check(name, "fail", f"worst-case accuracy rises from {a0:.1%} at eps={e0:g} to "
                      f"{a1:.1%} at eps={e1:g}: a larger budget should never help the model")
    if large_eps is None or chance is None:
        return _check(name, "skipped", "no attack at a large eps was run; the accuracy curve "
                      "alone does not rise")
    accuracy = large_eps["accuracy"]
    detail = f"PGD at eps={large_eps['eps']:g}: {accuracy:.1%} (chance {chance:.1%})"
    if accuracy > chance + 0.3:
        return _check(name, "fail", f"{detail}: an unbounded attack should succeed, so "
                      "gradients do not lead the attack")
    if accuracy > chance + 0.1:
        return _check(name, "warn", f"{detail}: above chance at a very large budget")
    return _check(name, "pass", f"accuracy does not rise with eps and {detail}")


def more_steps_change_little(rerun):
    """Doubling PGD's steps must not lower accuracy much (else the attack had not converged).

    Args:
        rerun: `{"eps", "steps", "accuracy", "accuracy_2x"}` on the same sample, or None.
    """
    name = "doubling steps changes little"
    if rerun is None:
        return _check(name, "skipped", "no 2x-steps PGD rerun was measured")
    drop = rerun["accuracy"] - rerun["accuracy_2x"]
    detail = (f"PGD at eps={rerun['eps']:g}: {rerun['accuracy']:.1%} with {rerun['steps']} "
              f"steps, {rerun['accuracy_2x']:.1%} with {2 * rerun['steps']}")
    if drop > 0.1:
        return _check(name, "fail", f"{detail}: the reported numbers overestimate robustness; "
                      "use more steps or restarts")
    if drop > 0.05:
        return _check(name, "warn", f"{detail}: not fully converged")
    return _check(name, "pass", detail)


def black_box_not_stronger(rows):
    """The black-box Square attack must not beat the white-box attacks.

    Standalone rows: Square's accuracy against the best white-box row. In a
    cascade (black-box stage after gradient stages): the share of examples
    Square broke that every gradient attack before it missed.
    """
    name = "black-box does not beat white-box"
    black = _by_eps([r for r in rows if not r.get("cascade")], _black_box)
    white = _by_eps([r for r in rows if not r.get("cascade")], _gradient)
    drops = _stage_drops(rows, _black_box)
    if not black and not drops:
        return _check(name, "skipped", "no black-box attack was run; add 'square' to "
                      "`attacks` to compare black-box and white-box")
    if drops:
        worst = max(drops, key=drops.get)
        detail = (f"at eps={worst:g} the black-box stage broke {drops[worst]:.1%} of the "
                  "examples the gradient attacks before it left robust")
        if drops[worst] > TOLERANCE:
            return _check(name, "fail", f"{detail}: gradients are masked")
        return _check(name, "pass", detail)
    common = sorted(set(black) & set(white))
    if not common:
        return _check(name, "skipped", "no white-box attack at the eps of the black-box attack")
    worst = max(common, key=lambda e: white[e] - black[e])
    gap = white[worst] - black[worst]
    detail = (f"at eps={worst:g}: black-box {black[worst]:.1%}, best white-box "
              f"{white[worst]:.1%}")
    if gap > TOLERANCE:
        return _check(name, "fail", f"a gradient-free attack is stronger {detail}: gradients "
                      "are masked")
    return _check(name, "pass", detail)


def targeted_dlr_not_much_stronger(rows):
    """Targeted DLR (APGD-T) must not break many more examples than CE (APGD-CE).

    A large gap flags a loss landscape where the cross-entropy's gradients
    lead nowhere (e.g. saturated or rescaled logits) while the scale-free
    targeted DLR loss still finds adversarial examples: attacks that rely on
    the cross-entropy (FGSM, PGD, most adversarial-training attacks) then
    overstate robustness (Croce and Hein 2020).
    """
    name = "targeted DLR not much stronger than CE"
    ce = _by_eps([r for r in rows if not r.get("cascade") or r.get("stage") == 1], _ce)
    standalone_t = _by_eps([r for r in rows if not r.get("cascade")], _targeted_dlr)
    gaps = {e: ce[e] - standalone_t[e] for e in set(ce) & set(standalone_t)}
    for e, drop in _stage_drops(rows, _targeted_dlr).items():
        if e in ce:
            gaps[e] = max(gaps.get(e, drop), drop)
    if not gaps:
        return _check(name, "skipped", "needs APGD with the cross-entropy and APGD-T (targeted "
                      "DLR) at the same eps, e.g. the default attacks or attacks='autoattack'")
    worst = max(gaps, key=gaps.get)
    detail = (f"at eps={worst:g} targeted DLR broke {gaps[worst]:.1%} of the examples more "
              f"than CE (CE alone: {ce[worst]:.1%} robust)")
    if gaps[worst] > DLR_GAP_FAIL:
        return _check(name, "fail", f"{detail}: the cross-entropy's gradients are misleading; "
                      "trust only the targeted-DLR and worst-case rows")
    if gaps[worst] > DLR_GAP_WARN:
        return _check(name, "warn", f"{detail}: CE-based attacks overstate robustness here")
    return _check(name, "pass", detail)


def gradients_informative(stats):
    """Share of examples whose input gradient is all zero, and of NaN gradient values.

    Args:
        stats: `{"zero_fraction", "nan_fraction", "num_examples"}`, or None.
    """
    name = "input gradients are non-zero and finite"
    if stats is None:
        return _check(name, "skipped", "input gradients were not measured")
    zero, nan = stats["zero_fraction"], stats["nan_fraction"]
    detail = (f"{zero:.1%} of {stats['num_examples']} examples have an all-zero input "
              f"gradient, {nan:.1%} of gradient values are NaN")
    if nan > 0 or zero > 0.5:
        return _check(name, "fail", f"{detail}: gradients are masked (shattered or "
                      "non-differentiable layer without BPDA)")
    if zero > 0.1:
        return _check(name, "warn", detail)
    return _check(name, "pass", detail)


def randomness_handled(stats, eot_samples=1):
    """Random outputs make single-sample gradients noisy; they need EOT.

    Args:
        stats: `{"changed_fraction", "max_difference"}` from two predictions, or None.
        eot_samples: EOT samples the evaluation used (1: none).
    """
    name = "randomness in the model's outputs"
    if stats is None:
        return _check(name, "skipped", "outputs were not compared across repeated predictions")
    changed, diff = stats["changed_fraction"], stats["max_difference"]
    if diff <= 1e-6:
        return _check(name, "pass", "outputs are deterministic (repeated predictions agree)")
    detail = (f"repeated predictions differ (largest logit difference {diff:.3g}, "
              f"{changed:.1%} of predicted classes change)")
    if eot_samples > 1:
        return _check(name, "pass", f"{detail}; attacked with EOT over {eot_samples} samples")
    return _check(name, "fail" if changed > 0.05 else "warn",
                  f"{detail} and no EOT was used: gradient attacks see one random sample")


def run_checks(rows, measurements=None, *, num_classes=None, eot_samples=1):
    """All checks, in order, from report rows and `measure` output."""
    m = measurements or {}
    chance = 1.0 / num_classes if num_classes else None
    return [iterative_beats_single_step(rows),
            accuracy_falls_with_eps(rows, m.get("large_eps"), chance),
            more_steps_change_little(m.get("rerun")),
            black_box_not_stronger(rows),
            targeted_dlr_not_much_stronger(rows),
            gradients_informative(m.get("gradients")),
            randomness_handled(m.get("randomness"), eot_samples)]


def measure(model, x, labels, *, eps, norm, clip, steps=20, sample=100, seed=0,
            batch_size=256, eot_samples=1):
    """The extra measurements of the checks, on the first `sample` examples.

    The PGD re-runs average each step over `eot_samples` passes, as the
    evaluation's own PGD rows do.

    Returns:
        `{"gradients", "randomness", "large_eps", "rerun"}` (see the checks).
    """
    import tensorflow as tf

    from keras_mlsec._core import models, perturbation
    from keras_mlsec.attacks import pgd

    x, labels = x[:sample], labels[:sample]
    logits_fn = models.logits_function(model)
    xt = tf.constant(x)
    gradient, _, first = perturbation.input_gradient(logits_fn, xt, tf.constant(labels))
    grad = np.zeros_like(x) if gradient is None else gradient.numpy()
    flat = grad.reshape(len(x), -1)
    out = {"gradients": {"zero_fraction": float(np.mean(~np.any(flat != 0, axis=1))),
                         "nan_fraction": float(np.mean(np.isnan(flat))),
                         "num_examples": int(len(x))}}
    first, second = first.numpy(), logits_fn(xt).numpy()
    out["randomness"] = {"max_difference": float(np.max(np.abs(first - second))),
                         "changed_fraction": float(np.mean(first.argmax(-1) != second.argmax(-1)))}

    if gradient is None:  # nothing for PGD to follow: its checks cannot run
        return {**out, "large_eps": None, "rerun": None}

    def accuracy(x_adv):
        return float(np.mean(np.argmax(logits_fn(tf.constant(x_adv)).numpy(), -1) == labels))

    common = dict(norm=norm, clip=clip, seed=seed, batch_size=batch_size,
                  eot_samples=eot_samples)
    width = (clip[1] - clip[0]) if clip else 1.0
    large = 0.5 * width if norm == "linf" else 0.5 * width * float(np.sqrt(x[0].size))
    out["large_eps"] = {"eps": large, "accuracy": accuracy(
        pgd(model, x, labels, eps=large, steps=20, **common).numpy())}
    base = accuracy(pgd(model, x, labels, eps=eps, steps=steps, **common).numpy())
    doubled = accuracy(pgd(model, x, labels, eps=eps, steps=2 * steps, **common).numpy())
    out["rerun"] = {"eps": eps, "steps": steps, "accuracy": base, "accuracy_2x": doubled}
    return out
