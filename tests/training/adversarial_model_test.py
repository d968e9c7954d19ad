import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import digits

from keras_mlsec.attacks import FGSM, PGD, pgd
from keras_mlsec._core import models, perturbation
from keras_mlsec._core.losses import sparse_labels
from keras_mlsec._core.perturbation import KerasRandom, perturb
from keras_mlsec.datasets import reference_model
from keras_mlsec.training import AdversarialModel

EPS = 0.1
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _train(method, epochs=8, attack=None, output="logits"):
    (x_train, y_train), _ = digits()
    keras.utils.set_random_seed(0)
    base = reference_model("mlp", x_train.shape[1:], 10, output=output, seed=0)
    if method is None:
        base.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
        return base
    attack = attack or PGD(eps=EPS, steps=5)
    model = AdversarialModel(base, attack=attack, method=method, seed=0)
    loss = LOSS if output == "logits" else "sparse_categorical_crossentropy"
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    return model


def _robust_accuracy(model):
    _, (x_test, y_test) = digits()
    x_adv = pgd(model, x_test, y_test, eps=EPS, steps=20, seed=0)
    predictions = np.argmax(model.predict(np.asarray(x_adv), verbose=0), axis=-1)
    return float(np.mean(predictions == y_test))


@pytest.fixture(scope="module")
def plain_robust_accuracy():
    return _robust_accuracy(_train(None))


def _tiny_linear():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.set_weights([np.array([[1, -1, 0], [0, 2, -1], [-1, 0, 1], [2, 1, -2]], "float32"),
                       np.zeros(3, "float32")])
    return model


def test_madry_training_is_more_robust_than_plain_training(plain_robust_accuracy):
    robust = _robust_accuracy(_train("madry"))
    assert robust > plain_robust_accuracy + 0.1


@pytest.mark.parametrize("method, attack", [
    ("fgsm_rs", FGSM(eps=EPS, rand_init=True)),
    ("trades", PGD(eps=EPS, steps=5)),
])
def test_fgsm_rs_and_trades_improve_robustness(plain_robust_accuracy, method, attack):
    model = _train(method, attack=attack)
    assert _robust_accuracy(model) > plain_robust_accuracy + 0.08
    assert "adversarial_loss" in model.history.history


def test_perturbation_on_a_linear_model_is_the_signed_gradient_step():
    model = _tiny_linear()
    x = tf.constant([[0.5, 0.5, 0.5, 0.5], [0.02, 0.98, 0.5, 0.3]])
    labels = tf.constant([0, 2])
    x_adv = perturb(models.logits_function(model), x, labels, eps=0.1, norm="linf",
                    step_size=0.1, steps=1, clip=(0.0, 1.0))
    # One FGSM step: sign of d CE / dx = sign(W (softmax - onehot)), clipped to [0, 1].
    logits = x.numpy() @ model.get_weights()[0]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    direction = np.sign((probs - np.eye(3)[[0, 2]]) @ model.get_weights()[0].T)
    expected = np.clip(x.numpy() + 0.1 * direction, 0.0, 1.0)
    np.testing.assert_allclose(x_adv.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("norm, eps", [("linf", 0.05), ("l2", 0.3)])
def test_perturbation_stays_within_eps_and_clip(norm, eps):
    model = _tiny_linear()
    x = tf.constant(np.random.default_rng(0).uniform(0, 1, (16, 4)), tf.float32)
    labels = tf.constant(np.arange(16) % 3)
    random = KerasRandom(keras.random.SeedGenerator(1))
    x_adv = perturb(models.logits_function(model), x, labels, eps=eps, norm=norm,
                    step_size=eps / 2, steps=7, clip=(0.0, 1.0), random=random)
    delta = (x_adv - x).numpy()
    size = np.abs(delta).max(1) if norm == "linf" else np.sqrt((delta ** 2).sum(1))
    assert size.max() <= eps + 1e-5
    assert size.max() > 0.5 * eps
    assert x_adv.numpy().min() >= 0.0 and x_adv.numpy().max() <= 1.0


def test_unrolled_and_while_loop_perturbations_agree(monkeypatch):
    model = _tiny_linear()
    x = tf.constant(np.random.default_rng(1).uniform(0, 1, (8, 4)), tf.float32)
    labels = tf.constant(np.arange(8) % 3)

    def run():
        return tf.function(lambda x: perturb(models.logits_function(model), x, labels, eps=0.2,
                                             norm="linf", step_size=0.03, steps=7,
                                             clip=(0.0, 1.0)))(x).numpy()

    unrolled = run()
    monkeypatch.setattr(perturbation, "UNROLL_MAX_STEPS", 0)
    looped = run()
    np.testing.assert_allclose(unrolled, looped, atol=1e-6)
    assert np.abs(unrolled - x.numpy()).max() > 0.1  # several steps were taken


@pytest.mark.parametrize("norm", ["L2", 2, "LINF", np.inf])
def test_attack_norm_spellings_are_accepted(norm):
    (x_train, y_train), _ = digits()
    base = reference_model("mlp", x_train.shape[1:], 10, seed=0, compile=False)
    model = AdversarialModel(base, attack=PGD(eps=0.3, norm=norm, steps=2), seed=0)
    assert model._settings["norm"] in ("l2", "linf")
    model.compile(optimizer="adam", loss=LOSS)
    history = model.fit(x_train[:128], y_train[:128], epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_sparse_labels_accept_one_hot_and_column_labels():
    np.testing.assert_array_equal(sparse_labels(tf.constant([[0, 0, 1], [1, 0, 0]])), [2, 0])
    np.testing.assert_array_equal(sparse_labels(tf.constant([[2], [1]])), [2, 1])


def test_one_hot_labels_softmax_model_tf_data_validation_and_callbacks(tmp_path):
    (x_train, y_train), (x_test, y_test) = digits()
    base = reference_model("mlp", x_train.shape[1:], 10, output="softmax", seed=0)
    model = AdversarialModel(base, attack=PGD(eps=EPS, steps=2), seed=0, metrics_on="clean")
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    one_hot = keras.utils.to_categorical
    train = tf.data.Dataset.from_tensor_slices((x_train[:512], one_hot(y_train[:512], 10)))
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0)
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "epoch{epoch}.keras"))
    board = keras.callbacks.TensorBoard(str(tmp_path / "logs"))
    history = model.fit(train.batch(64), epochs=5, verbose=0,
                        callbacks=[stop, checkpoint, board],
                        validation_data=(x_test[:200], one_hot(y_test[:200], 10)))
    assert len(history.history["loss"]) == 2  # stopped by EarlyStopping
    assert {"val_loss", "val_accuracy", "adversarial_loss"} <= set(history.history)
    assert history.history["accuracy"][-1] > 0.3
    assert (tmp_path / "epoch2.keras").exists()
    # TensorBoard wrote event files with the adversarial loss for training.
    events = list((tmp_path / "logs" / "train").glob("events.out.tfevents.*"))
    assert events and b"adversarial_loss" in events[0].read_bytes()
    restored = keras.models.load_model(tmp_path / "epoch2.keras")
    np.testing.assert_allclose(restored.predict(x_test[:8], verbose=0),
                               model.predict(x_test[:8], verbose=0), atol=1e-6)


def test_save_and_load_round_trip(tmp_path):
    (x_train, y_train), (x_test, _) = digits()
    base = reference_model("mlp", x_train.shape[1:], 10, seed=0, compile=False)
    attack = PGD(eps=EPS, steps=3, step_size=0.05)
    model = AdversarialModel(base, attack=attack, method="trades", beta=3.0, seed=7)
    model.compile(optimizer="adam", loss=LOSS, metrics=["accuracy"])
    model.fit(x_train[:256], y_train[:256], epochs=1, batch_size=64, verbose=0)
    path = str(tmp_path / "robust.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, AdversarialModel)
    assert isinstance(loaded.attack, PGD)
    assert loaded.attack.get_config() == {**attack.get_config(), "clip": [0.0, 1.0]}
    assert (loaded.method, loaded.beta, loaded.seed, loaded.metrics_on) == \
        ("trades", 3.0, 7, "adversarial")
    np.testing.assert_allclose(loaded.predict(x_test[:32], verbose=0),
                               model.predict(x_test[:32], verbose=0), atol=1e-6)
    loaded.fit(x_train[:128], y_train[:128], epochs=1, batch_size=64, verbose=0)


@pytest.mark.parametrize("method, weight", [("madry", 1.0), ("madry", 0.5), ("trades", 1.0)])
def test_metrics_describe_the_adversarial_batch_or_the_clean_one(method, weight):
    (x_train, y_train), _ = digits()
    accuracies = {}
    for metrics_on in ("adversarial", "clean"):
        base = reference_model("mlp", x_train.shape[1:], 10, seed=0, compile=False)
        model = AdversarialModel(base, attack=PGD(eps=0.15, steps=5), method=method,
                                 adversarial_weight=weight, seed=0, metrics_on=metrics_on)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=LOSS, metrics=["accuracy"])
        history = model.fit(x_train, y_train, epochs=3, batch_size=64, verbose=0, shuffle=False)
        accuracies[metrics_on] = history.history["accuracy"][-1]
    # The same training either way; the adversarial batches are much harder.
    assert accuracies["adversarial"] < accuracies["clean"] - 0.1, accuracies


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "pgd"}, "method='pgd'"),
    ({"beta": -1.0}, "beta=-1.0"),
    ({"adversarial_weight": 1.5}, "adversarial_weight=1.5"),
    ({"metrics_on": "train"}, "metrics_on='train'"),
    ({"attack": PGD(eps=0.0)}, "eps > 0"),
    ({"attack": PGD(eps=0.1, targeted=True)}, "untargeted `attack`"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    kwargs = {"attack": PGD(eps=EPS), **kwargs}
    with pytest.raises(ValueError, match=match):
        AdversarialModel(_tiny_linear(), **kwargs)


def test_attack_whose_eps_does_not_suit_the_clip_range_raises():
    attack = PGD(eps=0.5, clip=(0.0, 1.0))
    attack.eps = 2.0  # changed after construction, e.g. data in [0, 255] forgotten
    with pytest.raises(ValueError, match=r"attack=PGD\(eps=2.0.*clip range"):
        AdversarialModel(_tiny_linear(), attack=attack)


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="attack=.*str"):
        AdversarialModel(_tiny_linear(), attack="pgd")
    with pytest.raises(TypeError, match="model of type"):
        AdversarialModel(object(), attack=PGD(eps=EPS))


_MIRRORED_SCRIPT = """
import json, keras, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_mlsec.attacks import PGD
from keras_mlsec.datasets import load_digits, reference_model
from keras_mlsec.training import AdversarialModel
(x, y), _ = load_digits(seed=0)

def train():
    base = reference_model("mlp", x.shape[1:], 10, seed=0, compile=False)
    model = AdversarialModel(base, attack=PGD(eps=0.1, steps=3), seed=0)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model.fit(x[:256], y[:256], epochs=2, batch_size=64, verbose=0,
                     shuffle=False).history["loss"]

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = train()
print(json.dumps([strategy.num_replicas_in_sync, mirrored, train()]))
"""


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_matches_single_device_training():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT], capture_output=True,
                         text=True, check=True, timeout=300)
    replicas, mirrored, single = json.loads(out.stdout.strip().splitlines()[-1])
    assert replicas == 2
    np.testing.assert_allclose(mirrored, single, rtol=0.02)
