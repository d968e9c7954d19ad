"""AdversarialModel runs the attack it was given: each accepted attack, as defined, in the graph."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import digits

from keras_mlsec._core import models, perturbation
from keras_mlsec.attacks import (APGD, BIM, FGSM, MIM, PGD, CarliniWagnerL2, SquareAttack, bim,
                                 fgsm, mim, pgd)
from keras_mlsec.attacks.evasion.apgd import _run_builder, checkpoints
from keras_mlsec.datasets import reference_model
from keras_mlsec.training import AdversarialModel
from keras_mlsec.training import _adversarial as adv

EPS = 0.1
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture(scope="module")
def model_and_batch():
    (x, y), _ = digits()
    model = reference_model("mlp", x.shape[1:], 10, seed=0)
    model.fit(x[:512], y[:512], epochs=3, batch_size=64, verbose=0)
    return model, x[:48].astype("float32"), y[:48]


def _in_graph(model, attack, x, y, method="madry"):
    """The batch AdversarialModel's train step builds (compiled, as in `fit`)."""
    settings = adv.attack_settings(adv.check_attack(attack, method), method)
    random = perturbation.make_generator(0)
    build = tf.function(lambda xb, yb: adv.adversarial_batch(model, xb, yb, settings, method,
                                                             random))
    return build(tf.constant(x), tf.constant(y)).numpy(), settings


@pytest.mark.parametrize("attack, reference", [
    (FGSM(eps=EPS), lambda m, x, y: fgsm(m, x, y, eps=EPS)),
    (PGD(eps=EPS, steps=5, rand_init=False), lambda m, x, y: pgd(m, x, y, eps=EPS, steps=5,
                                                                 rand_init=False)),
    (BIM(eps=EPS, steps=5), lambda m, x, y: bim(m, x, y, eps=EPS, steps=5)),
    (MIM(eps=EPS, steps=5), lambda m, x, y: mim(m, x, y, eps=EPS, steps=5)),
    (MIM(eps=EPS, steps=4, decay_factor=0.5, norm="l2"),
     lambda m, x, y: mim(m, x, y, eps=EPS, steps=4, decay_factor=0.5, norm="l2")),
])
def test_deterministic_attacks_match_the_attack_function(model_and_batch, attack, reference):
    model, x, y = model_and_batch
    got, _ = _in_graph(model, attack, x, y)
    expected = np.asarray(reference(model, x, y))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    moved = perturbation.lp_norm(tf.constant(got - x), attack.norm).numpy()
    assert moved.max() > 0.5 * EPS  # the attack moved the inputs


def test_bim_uses_bims_step_and_mim_its_momentum():
    bim_settings = adv.attack_settings(adv.check_attack(BIM(eps=0.1, steps=10)), "madry")
    assert bim_settings["step_size"] == pytest.approx(0.0125)  # 1.25 * eps / steps
    assert not bim_settings["rand_init"]
    mim_settings = adv.attack_settings(adv.check_attack(MIM(eps=0.1, steps=10)), "madry")
    assert (mim_settings["kind"], mim_settings["step_size"]) == ("MIM", pytest.approx(0.01))


def test_apgd_checkpoints_and_run_match_the_apgd_attack(model_and_batch):
    for steps in (1, 7, 20, 100):
        assert perturbation.apgd_checkpoints(steps) == list(checkpoints(steps))
    model, x, y = model_and_batch
    logits_fn = models.logits_function(model)
    xt, yt = tf.constant(x), tf.constant(y, tf.int32)
    x0 = tf.clip_by_value(xt + 0.05, 0.0, 1.0)
    run = _run_builder(logits_fn, "linf", "ce", "untargeted", (0.0, 1.0))()
    expected, _, _ = run(xt, yt, yt, x0, tf.constant(EPS), tf.constant(0.75),
                         tf.constant(checkpoints(12)))
    got = perturbation.perturb_apgd(logits_fn, xt, yt, eps=EPS, norm="linf", steps=12,
                                    clip=(0.0, 1.0), start=x0)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_apgd_in_training_keeps_its_schedule_and_beats_one_fixed_step(model_and_batch):
    model, x, y = model_and_batch
    got, settings = _in_graph(model, APGD(eps=EPS, steps=10), x, y)
    assert settings["kind"] == "APGD" and settings["rand_init"]
    assert np.abs(got - x).max() <= EPS + 1e-6
    loss = lambda xb: LOSS(y, model(xb)).numpy()  # noqa: E731
    one_step, _ = _in_graph(model, FGSM(eps=EPS), x, y)
    assert loss(got) > loss(x)
    assert loss(got) >= loss(one_step) - 1e-3


@pytest.mark.parametrize("attack", [
    FGSM(eps=EPS, rand_init=True), PGD(eps=EPS, steps=3, restarts=2), BIM(eps=EPS, steps=3),
    MIM(eps=EPS, steps=3), APGD(eps=EPS, steps=3, loss="dlr", restarts=2),
])
def test_each_accepted_attack_trains(attack):
    (x, y), _ = digits()
    base = reference_model("mlp", x.shape[1:], 10, seed=0)
    model = AdversarialModel(base, attack=attack, seed=0)
    model.compile(optimizer="adam", loss=LOSS, metrics=["accuracy"])
    before = [w.copy() for w in base.get_weights()]
    history = model.fit(x[:128], y[:128], epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["adversarial_loss"][0])
    assert any(np.abs(a - b).max() > 0 for a, b in zip(base.get_weights(), before))


@pytest.mark.parametrize("attack, method, match", [
    (SquareAttack(eps=EPS), "madry", "SquareAttack is not one of them"),
    (CarliniWagnerL2(), "madry", "CarliniWagnerL2 is not one of them"),
    (APGD(eps=EPS, num_target_classes=3), "madry", "APGD-T"),
    (PGD(eps=EPS, eot_samples=4), "madry", "eot_samples"),
    (MIM(eps=EPS), "fgsm_rs", "FGSM or PGD"),
    (APGD(eps=EPS), "fgsm_rs", "FGSM or PGD"),
])
def test_attacks_it_cannot_run_as_defined_are_refused(attack, method, match):
    base = reference_model("mlp", (8, 8, 1), 10, seed=0)
    with pytest.raises(ValueError, match=match):
        AdversarialModel(base, attack=attack, method=method)
