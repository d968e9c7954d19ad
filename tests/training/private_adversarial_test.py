"""Adversarial training under DP-SGD: AdversarialModel(DPModel(...), attack=...)."""

import keras
import numpy as np
import pytest
from test_case import digits

from keras_mlsec.attacks import BIM, PGD, pgd
from keras_mlsec.callbacks import PrivacyBudget
from keras_mlsec.datasets import reference_model
from keras_mlsec.privacy import DPModel, compute_epsilon, noise_multiplier_for, poisson_dataset
from keras_mlsec.training import AdversarialModel

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
EPS = 0.1


def _net(seed=0):
    return reference_model("mlp", (8, 8, 1), 10, seed=seed)


def _composed(clipping, *, clip=1.0, sigma=0.0, lr=0.1, **kwargs):
    private = DPModel(_net(), l2_norm_clip=clip, noise_multiplier=sigma, seed=0,
                      clipping=clipping)
    model = AdversarialModel(private, attack=kwargs.pop("attack", BIM(eps=EPS, steps=3)),
                             seed=0, **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(lr), loss=LOSS, metrics=["accuracy"])
    return model


def _update(model, x, y):
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    return np.concatenate([(a - b).ravel() for a, b in zip(model.get_weights(), before)])


@pytest.mark.parametrize("clipping", ["ghost", "per_example"])
@pytest.mark.parametrize("method, weight", [("madry", 1.0), ("madry", 0.5), ("trades", 1.0)])
def test_without_noise_or_clipping_it_is_plain_adversarial_training(clipping, method, weight):
    (x, y), _ = digits()
    x, y = x[:32], y[:32]
    private = _composed(clipping, clip=1e6, method=method, adversarial_weight=weight)
    plain = AdversarialModel(_net(), attack=BIM(eps=EPS, steps=3), method=method,
                             adversarial_weight=weight, seed=0)
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSS)
    expected, got = _update(plain, x, y), _update(private, x, y)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-6)
    assert np.linalg.norm(got) > 1e-3


@pytest.mark.parametrize("clipping", ["ghost", "per_example"])
@pytest.mark.parametrize("method, weight", [("madry", 1.0), ("madry", 0.3), ("trades", 1.0)])
def test_each_example_is_clipped_as_a_whole(clipping, method, weight):
    """The update is at most lr * C: clean and adversarial terms are clipped together."""
    (x, y), _ = digits()
    model = _composed(clipping, clip=1e-3, lr=0.5, method=method, adversarial_weight=weight)
    norm = np.linalg.norm(_update(model, x[:32], y[:32]))
    assert 0 < norm <= 0.5 * 1e-3 * (1 + 1e-4)


def test_privacy_budget_accounts_exactly_as_for_dpmodel(tmp_path):
    (x, y), _ = digits()
    x, y = x[:256], y[:256]
    model = _composed("auto", sigma=1.1, attack=PGD(eps=EPS, steps=2))
    budget = PrivacyBudget(target_epsilon=50.0, delta=1e-3)
    model.fit(poisson_dataset(x, y, batch_size=32, seed=0), epochs=2, verbose=0,
              callbacks=[budget])
    expected = compute_epsilon(num_examples=256, batch_size=32, epochs=2,
                               noise_multiplier=1.1, delta=1e-3)
    assert budget.steps == 16
    assert budget.epsilon == pytest.approx(expected, rel=1e-9)
    metadata = model.privacy_metadata
    assert metadata["sampling"] == "poisson" and metadata["epsilon"] == budget.epsilon
    assert model.model.privacy_metadata is metadata  # kept by the DPModel, saved with it
    path = tmp_path / "private_robust.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, AdversarialModel) and isinstance(loaded.model, DPModel)
    assert loaded.privacy_metadata == metadata
    np.testing.assert_allclose(loaded.predict(x[:8], verbose=0), model.predict(x[:8], verbose=0),
                               atol=1e-6)


def test_budget_stops_the_composed_model_like_a_dpmodel():
    (x, y), _ = digits()
    x, y = x[:256], y[:256]
    model = _composed("auto", sigma=1.5, attack=PGD(eps=EPS, steps=2))
    budget = PrivacyBudget(target_epsilon=1.2, delta=1e-3)
    model.fit(poisson_dataset(x, y, batch_size=32, seed=0), epochs=20, verbose=0,
              callbacks=[budget])
    assert budget.stopped and 0 < budget.epsilon <= 1.2
    assert compute_epsilon(num_examples=256, batch_size=32, epochs=(budget.steps + 1) / 8,
                           noise_multiplier=1.5, delta=1e-3) > 1.2


def test_dpmodel_around_an_adversarial_model_is_refused():
    inner = AdversarialModel(_net(), attack=PGD(eps=EPS))
    with pytest.raises(ValueError, match=r"AdversarialModel\(DPModel\(model"):
        DPModel(inner, l2_norm_clip=1.0, noise_multiplier=1.0)


@pytest.mark.slow
def test_at_the_same_epsilon_dp_adversarial_training_is_more_robust():
    (x, y), (x_test, y_test) = digits()
    epochs, batch = 10, 64
    sigma = noise_multiplier_for(8.0, num_examples=len(x), batch_size=batch, epochs=epochs,
                                 delta=1e-4)
    robust, epsilons = {}, {}
    for adversarial in (False, True):
        keras.utils.set_random_seed(0)
        private = DPModel(_net(), l2_norm_clip=1.0, noise_multiplier=sigma, seed=0)
        model = (AdversarialModel(private, attack=PGD(eps=EPS, steps=5), seed=0)
                 if adversarial else private)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=LOSS)
        budget = PrivacyBudget(8.0, 1e-4)
        model.fit(poisson_dataset(x, y, batch_size=batch, seed=0), epochs=epochs, verbose=0,
                  callbacks=[budget])
        x_adv = np.asarray(pgd(private.model, x_test, y_test, eps=EPS, steps=20, seed=0))
        predicted = np.argmax(private.model.predict(x_adv, verbose=0), -1)
        robust[adversarial], epsilons[adversarial] = np.mean(predicted == y_test), budget.epsilon
    assert epsilons[True] == epsilons[False] <= 8.0
    assert robust[True] > robust[False] + 0.05
