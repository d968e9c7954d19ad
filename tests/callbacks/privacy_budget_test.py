import keras
import numpy as np
import pytest
from test_case import digits

from keras_mlsec.callbacks import PrivacyBudget
from keras_mlsec.privacy import DPModel, compute_epsilon, poisson_dataset
from keras_mlsec.privacy.accounting import epsilon_for_event

N, BATCH, SIGMA, DELTA = 200, 20, 1.0, 1e-3  # q = 0.1, 10 steps per epoch
Q = BATCH / N


def _data():
    (x, y), _ = digits()
    return x[:N].reshape(N, -1), y[:N]


def _private():
    init = keras.initializers.GlorotUniform
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(10, kernel_initializer=init(0))])
    private = DPModel(model, l2_norm_clip=1.0, noise_multiplier=SIGMA, seed=0)
    private.compile(optimizer=keras.optimizers.SGD(0.1),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return private


class _StepCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def _eps(steps):
    return epsilon_for_event(Q, SIGMA, steps, DELTA, "rdp")


def test_epsilon_is_logged_every_epoch_and_matches_compute_epsilon():
    x, y = _data()
    budget = PrivacyBudget(target_epsilon=100.0, delta=DELTA)
    history = _private().fit(poisson_dataset(x, y, batch_size=BATCH, seed=0), epochs=3,
                             callbacks=[budget], verbose=0)
    logged = history.history["epsilon"]
    assert len(logged) == 3
    for epoch, epsilon in enumerate(logged, start=1):
        expected = compute_epsilon(num_examples=N, batch_size=BATCH, epochs=epoch,
                                   noise_multiplier=SIGMA, delta=DELTA)
        assert epsilon == pytest.approx(expected, rel=1e-9)
    assert logged[0] < logged[1] < logged[2]
    assert budget.steps == 30 and not budget.stopped


def test_training_stops_before_the_step_that_would_exceed_the_budget():
    x, y = _data()
    target = 0.5 * (_eps(25) + _eps(26))  # 25 steps fit, the 26th does not
    budget, counter = PrivacyBudget(target, delta=DELTA), _StepCounter()
    private = _private()
    history = private.fit(poisson_dataset(x, y, batch_size=BATCH, seed=0), epochs=10,
                          callbacks=[budget, counter], verbose=0)
    assert counter.steps == 25 == budget.steps == budget.max_steps
    assert budget.stopped
    assert len(history.history["epsilon"]) == 3  # stopped inside the third epoch
    final = history.history["epsilon"][-1]
    assert final <= target < _eps(counter.steps + 1)
    assert final == pytest.approx(_eps(25))
    meta = private.privacy_metadata
    assert meta["epsilon"] == pytest.approx(final) and meta["steps"] == 25
    assert meta["sampling"] == "poisson" and meta["accountant"] == "rdp"


def test_no_room_for_one_step_is_a_clear_error():
    x, y = _data()
    budget = PrivacyBudget(0.5 * _eps(1), delta=DELTA)
    with pytest.raises(ValueError, match="at least one more step"):
        _private().fit(poisson_dataset(x, y, batch_size=BATCH, seed=0), epochs=1,
                       callbacks=[budget], verbose=0)


def test_metadata_survives_save_and_load(tmp_path):
    x, y = _data()
    private = _private()
    private.fit(poisson_dataset(x, y, batch_size=BATCH, seed=0), epochs=1, verbose=0,
                callbacks=[PrivacyBudget(50.0, delta=DELTA, accountant="pld")])
    path = tmp_path / "private.keras"
    private.save(path)
    loaded = keras.saving.load_model(path)
    meta = loaded.privacy_metadata
    assert meta == pytest.approx(private.privacy_metadata) or meta == private.privacy_metadata
    assert meta["accountant"] == "pld" and meta["steps"] == 10
    assert meta["delta"] == DELTA and meta["noise_multiplier"] == SIGMA
    assert meta["epsilon"] == pytest.approx(epsilon_for_event(Q, SIGMA, 10, DELTA, "pld"))
    np.testing.assert_allclose(loaded.predict(x[:5], verbose=0), private.predict(x[:5], verbose=0))


def test_warns_on_fixed_size_shuffled_batches():
    x, y = _data()
    budget = PrivacyBudget(50.0, delta=DELTA)
    private = _private()
    with pytest.warns(UserWarning, match="Poisson sampling"):
        history = private.fit(x, y, batch_size=BATCH, epochs=1, callbacks=[budget], verbose=0)
    assert private.privacy_metadata["sampling"] == "shuffle"
    assert history.history["epsilon"][0] == pytest.approx(_eps(10))


def test_steps_accumulate_over_fits_and_config_round_trips():
    x, y = _data()
    budget = PrivacyBudget(100.0, delta=DELTA)
    private = _private()
    data = poisson_dataset(x, y, batch_size=BATCH, seed=1)
    private.fit(data, epochs=1, callbacks=[budget], verbose=0)
    history = private.fit(data, epochs=1, callbacks=[budget], verbose=0)
    assert budget.steps == 20
    assert history.history["epsilon"][0] == pytest.approx(_eps(20))
    clone = PrivacyBudget.from_config(budget.get_config())
    assert clone.get_config() == budget.get_config()


def test_bad_arguments_and_missing_setup_are_named():
    with pytest.raises(ValueError, match="target_epsilon"):
        PrivacyBudget(0.0, delta=DELTA)
    with pytest.raises(ValueError, match="accountant"):
        PrivacyBudget(1.0, delta=DELTA, accountant="moments")
    x, y = _data()
    plain = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    plain.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="noise_multiplier"):
        plain.fit(x, y, epochs=1, callbacks=[PrivacyBudget(1.0, delta=DELTA)], verbose=0)
    with pytest.raises(ValueError, match="delta"):
        _private().fit(x, y, batch_size=BATCH, epochs=1, verbose=0,
                       callbacks=[PrivacyBudget(1.0, delta=0.1)])


def test_budget_stop_goes_into_the_audit_log(tmp_path):
    import json

    from keras_mlsec.integrity import AuditLog

    x, y = _data()
    target = 0.5 * (_eps(12) + _eps(13))
    with AuditLog(tmp_path / "audit.jsonl") as log:
        budget = PrivacyBudget(target, delta=DELTA, audit_log=log)
        _private().fit(poisson_dataset(x, y, batch_size=BATCH, seed=0), epochs=5,
                       callbacks=[budget], verbose=0)
    records = [json.loads(line) for line in log.path.read_text().splitlines()]
    stops = [r["data"] for r in records if r["event"] == "privacy_budget_stop"]
    assert len(stops) == 1 and budget.stopped
    assert stops[0]["steps"] == 12 and stops[0]["epsilon"] == pytest.approx(_eps(12))
    assert stops[0]["target_epsilon"] == target
    with pytest.raises(TypeError, match="Expected `audit_log` to be a"):
        PrivacyBudget(1.0, delta=DELTA, audit_log=object())
