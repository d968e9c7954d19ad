"""Running the attacks of an evaluation: standalone rows, the cascade, the worst case."""

import time

import numpy as np

from keras_mlsec._core.models import predict_labels
from keras_mlsec.evaluation._attack_specs import _eot_override
from keras_mlsec.evaluation.report import WORST_CASE
from keras_mlsec.evaluation.result_row import ResultRow

CLEAN = "clean"  # `broken_by` of an example the model misclassifies without attack


def numpy(x_adv):
    return np.asarray(x_adv.numpy() if hasattr(x_adv, "numpy") else x_adv, dtype=np.float32)


def norms_of(delta, norm):
    flat = delta.reshape(len(delta), -1).astype(np.float64)
    if norm == "linf":
        return np.abs(flat).max(axis=1)
    return np.sqrt((flat ** 2).sum(axis=1))


def within(norms, eps):
    return norms <= eps * (1 + 1e-5) + 1e-7


def make_row(label, eps, robust, clean_correct, norms, seconds, *, spec=None, config=None,
             **fields):
    """A `ResultRow` from per-example robustness and perturbation norms."""
    clean = float(np.mean(clean_correct))
    adversarial = float(np.mean(robust))
    num_correct = int(np.sum(clean_correct))
    fooled = int(np.sum(clean_correct & ~robust))
    declared = {}
    if spec is not None:
        cls = spec["class"]
        declared = {"kind": cls.kind, "uses_gradients": bool(cls.uses_gradients),
                    "iterative": bool(cls.iterative)}
    return ResultRow(
        attack=label, eps=float(eps), adversarial_accuracy=adversarial,
        robustness_gap=clean - adversarial,
        success_rate=fooled / num_correct if num_correct else None,
        mean_perturbation=float(np.mean(norms)), max_perturbation=float(np.max(norms)),
        seconds=float(seconds), num_robust=int(np.sum(robust)),
        minimum_norm=bool(spec["minimum_norm"]) if spec else False, config=config or {},
        **declared, **fields)


class Runner:
    """Holds what every attack run needs; reports each finished (attack, eps) stage."""

    def __init__(self, model, x, labels, clean_correct, logits_fn, *, norm, batch_size, eot,
                 on_stage):
        self.model, self.x, self.labels = model, x, labels
        self.clean_correct, self.logits_fn = clean_correct, logits_fn
        self.norm, self.batch_size, self.eot = norm, batch_size, eot
        self.on_stage = on_stage
        self.outcomes = {}  # (label, eps) -> (robust, norms)

    def _fooled(self, x_adv, index):
        return predict_labels(self.logits_fn, x_adv, self.batch_size) != self.labels[index]

    def _fixed_budget(self, spec, eps, index):
        """Runs an eps-bounded attack on `x[index]`: (fooled, norms, seconds, config)."""
        attack = spec["build"](eps)
        overrides = {"eps": eps, **_eot_override(attack, self.eot)}
        config = {**attack.get_config(), **overrides}
        if len(index) == 0:
            return np.zeros(0, bool), np.zeros(0), 0.0, config
        start = time.perf_counter()
        x_adv = numpy(attack(self.model, self.x[index], self.labels[index], **overrides))
        seconds = time.perf_counter() - start
        return (self._fooled(x_adv, index), norms_of(x_adv - self.x[index], self.norm), seconds,
                config)

    def _minimum_norm(self, spec, index):
        """Runs a minimum-norm attack on `x[index]`: (fooled, norms, seconds)."""
        start = time.perf_counter()
        x_adv = numpy(spec["attack"](self.model, self.x[index], self.labels[index]))
        seconds = time.perf_counter() - start
        return (self._fooled(x_adv, index), norms_of(x_adv - self.x[index], self.norm), seconds)

    def standalone(self, spec, eps_values):
        """One row per eps of an attack run on every example."""
        rows, n = [], len(self.x)
        everything = np.arange(n)
        if spec["minimum_norm"]:
            fooled, norms, seconds = self._minimum_norm(spec, everything)
            config = spec["attack"].get_config()
        for e in eps_values:
            if spec["minimum_norm"]:
                inside = fooled & within(norms, e)
                correct, row_norms = ~inside, np.where(inside, norms, 0.0)
                row_seconds = seconds / len(eps_values)
            else:
                row_fooled, row_norms, row_seconds, config = self._fixed_budget(
                    spec, e, everything)
                correct = ~row_fooled
            robust = self.clean_correct & correct
            self.outcomes[spec["label"], e] = (robust, row_norms)
            rows.append(make_row(spec["label"], e, robust, self.clean_correct, row_norms,
                                 row_seconds, spec=spec, config=config))
            self.on_stage(rows[-1])
        return rows

    def cascade(self, stages, eps_values):
        """AutoAttack's scheme: each stage attacks only what every stage before left robust.

        Budgets run from the smallest: at a larger eps the cascade starts from
        the examples still robust at the smaller one (an adversarial example
        inside a ball is inside every larger ball). A minimum-norm stage runs
        once per example; its norm is compared with each later eps.

        Returns:
            `(rows, broken_by)`: one row per (stage, eps) whose accuracy is the
            share robust after that stage, and per eps an array naming for
            each example the stage that broke it (CLEAN, or None if robust).
        """
        n = len(self.x)
        robust = self.clean_correct.copy()
        broken_by = np.where(self.clean_correct, None, CLEAN).astype(object)
        found = {}  # minimum-norm stage label -> (attacked, fooled, norms) over all examples
        rows, history = [], {}
        for e in eps_values:
            for spec in stages:
                index = np.flatnonzero(robust)
                row_norms = np.zeros(n)
                if spec["minimum_norm"]:
                    attacked, fooled_all, norms_all = found.setdefault(
                        spec["label"], (np.zeros(n, bool), np.zeros(n, bool), np.zeros(n)))
                    todo = index[~attacked[index]]
                    seconds = 0.0
                    if len(todo):
                        fooled_todo, norms_todo, seconds = self._minimum_norm(spec, todo)
                        attacked[todo], fooled_all[todo], norms_all[todo] = (
                            True, fooled_todo, norms_todo)
                    hit = fooled_all[index] & within(norms_all[index], e)
                    row_norms[index[hit]] = norms_all[index[hit]]
                    config = spec["attack"].get_config()
                else:
                    fooled, norms, seconds, config = self._fixed_budget(spec, e, index)
                    hit = fooled
                    row_norms[index[hit]] = norms[hit]
                robust[index[hit]] = False
                broken_by[index[hit]] = spec["label"]
                self.outcomes[spec["label"], e] = (robust.copy(), row_norms)
                rows.append(make_row(spec["label"], e, robust.copy(), self.clean_correct,
                                     row_norms, seconds, spec=spec, config=config,
                                     cascade=spec["cascade"], stage=spec["stage"],
                                     num_broken=int(np.sum(hit))))
                self.on_stage(rows[-1])
            history[e] = broken_by.copy()
        return rows, history

    def worst_case(self, eps, labels, rows, broken_by=None):
        """Per example the strongest attack: robust only if every attack left it robust."""
        robust = np.stack([self.outcomes[label, eps][0] for label in labels])
        norms = np.stack([self.outcomes[label, eps][1] for label in labels])
        worst = np.all(robust, axis=0) & self.clean_correct
        chosen = np.argmax(~robust, axis=0)  # 0 when nothing fooled the example
        worst_norms = norms[chosen, np.arange(robust.shape[1])]
        names = np.where(self.clean_correct, None, CLEAN).astype(object)
        first = np.asarray(labels, dtype=object)[chosen]
        names = np.where(self.clean_correct & ~worst, first, names)
        if broken_by is not None:  # the cascade's stage wins where the cascade broke it
            names = np.where(self.clean_correct & (broken_by != None), broken_by, names)  # noqa: E711
        seconds = sum(r.seconds for r in rows if r.eps == float(eps))
        return make_row(WORST_CASE, eps, worst, self.clean_correct, worst_norms, seconds,
                        config={"attacks": list(labels)}, broken_by=list(names))
