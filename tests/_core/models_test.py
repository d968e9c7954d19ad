"""Model adapters: the wrapper protocol, logits without mutation (threads), no leaks."""

import gc
import threading
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mlsec as km
from keras_mlsec._core import models


def _data(n=8, features=4, classes=3):
    rng = np.random.default_rng(0)
    return rng.random((n, features)).astype("float32"), np.arange(n) % classes


class _SpyDense(keras.layers.Dense):
    """A Dense layer that records every attribute write changing its value."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "writes", [])
        object.__setattr__(self, "spying", True)

    def __setattr__(self, name, value):
        if getattr(self, "spying", False) and vars(self).get(name, object()) is not value:
            self.writes.append((id(self), name))
        super().__setattr__(name, value)


def _snapshot(model):
    return {layer.name: {k: id(v) for k, v in vars(layer).items() if k != "writes"}
            for layer in model.layers}


def _softmax_model(kind):
    keras.utils.set_random_seed(1)
    head = _SpyDense(3, activation="softmax", name="head")
    if kind == "sequential":
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                                  head])
    else:
        inputs = keras.Input((4,))
        model = keras.Model(inputs, head(keras.layers.Dense(16, activation="relu")(inputs)))
    model(np.zeros((1, 4), "float32"))  # a first call sets Keras' own bookkeeping
    head.writes.clear()
    return model, head


class UserNet(keras.Model):
    """A user's subclassed model that holds another model in `self.model`."""

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        self.model = backbone
        self.scale = 10.0

    def call(self, x, training=False):
        return self.model(x, training=training) * self.scale


def test_a_user_model_holding_self_model_is_attacked_as_itself():
    x, y = _data()
    backbone = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    user = UserNet(backbone)
    assert models.inner_model(user) is user
    assert not models.is_wrapper(user)
    np.testing.assert_allclose(models.logits_function(user)(x), 10.0 * backbone(x), rtol=1e-6)
    # FGSM follows the gradient of the user's model (its scaled logits), not the backbone's.
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = keras.losses.sparse_categorical_crossentropy(y, user(xt), from_logits=True)
    expected = np.clip(x + 0.05 * np.sign(tape.gradient(loss, xt).numpy()), 0.0, 1.0)
    np.testing.assert_allclose(km.attacks.fgsm(user, x, y, eps=0.05), expected, atol=1e-6)


def test_declared_wrappers_are_unwrapped_recursively_and_checked():
    backbone = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])

    class Wrapper(keras.Model):
        wraps_model = "net"

        def __init__(self, net, **kwargs):
            super().__init__(**kwargs)
            self.net = net

        def call(self, x):
            return self.net(x)

    assert models.inner_model(Wrapper(Wrapper(backbone))) is backbone
    dp = km.privacy.DPModel(backbone, l2_norm_clip=1.0, noise_multiplier=0.0)
    assert models.is_wrapper(dp) and models.inner_model(dp) is backbone
    broken = Wrapper(backbone)
    broken.net = "not a model"
    with pytest.raises(TypeError, match=r"Expected `Wrapper.net` to hold the wrapped keras.Model"):
        models.inner_model(broken)


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_softmax_logits_never_modify_the_layers(kind):
    model, head = _softmax_model(kind)
    x, y = _data()
    before = _snapshot(model)
    logits = models.logits_function(model)(x)
    np.testing.assert_allclose(keras.ops.softmax(logits), model(x), rtol=1e-5, atol=1e-6)
    km.attacks.pgd(model, x, y, eps=0.1, steps=3, seed=0)
    assert [w for w in head.writes if w[0] == id(head)] == []
    assert head.activation is keras.activations.softmax
    assert _snapshot(model) == before


@pytest.mark.slow
def test_two_threads_attack_one_softmax_model_like_serial_runs():
    model, head = _softmax_model("sequential")
    x, y = _data(32)
    settings = dict(eps=0.1, steps=5, seed=3)
    serial = [km.attacks.pgd(model, x, y, **settings).numpy(),
              km.attacks.carlini_wagner_l2(model, x, y, steps=5,
                                           binary_search_steps=1).numpy()]
    before = _snapshot(model)
    results, errors = {}, []
    barrier = threading.Barrier(2)

    def run(name):
        try:
            barrier.wait()
            for _ in range(3):
                results.setdefault(name, []).append(
                    [km.attacks.pgd(model, x, y, **settings).numpy(),
                     km.attacks.carlini_wagner_l2(model, x, y, steps=5,
                                                  binary_search_steps=1).numpy()])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for runs in results.values():
        for pgd_adv, cw_adv in runs:
            np.testing.assert_array_equal(pgd_adv, serial[0])
            np.testing.assert_array_equal(cw_adv, serial[1])
    assert [w for w in head.writes if w[0] == id(head)] == []
    assert _snapshot(model) == before


def _leak_model(i):
    kind = i % 3
    if i % 10 == 8:  # LiRA clones the model for its shadows: Sequential or functional only
        kind = (i // 10) % 2
    if kind == 0:
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])
    if kind == 1:
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(3)(inputs))
    return UserNet(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]))


def _use(model, i, x, y):
    """One of ten uses, in turn: every attack, the evaluation, LiRA and a monitored fit."""
    task = i % 10
    tiny = dict(eps=0.1, batch_size=8)
    if task == 0:
        km.attacks.fgsm(model, x, y, **tiny)
    elif task == 1:
        km.attacks.pgd(model, x, y, steps=2, restarts=2, seed=0, **tiny)
    elif task == 2:
        km.attacks.bim(model, x, y, steps=2, **tiny)
    elif task == 3:
        km.attacks.mim(model, x, y, steps=2, **tiny)
    elif task == 4:
        km.attacks.carlini_wagner_l2(model, x, y, steps=2, binary_search_steps=1, batch_size=8)
    elif task == 5:
        km.attacks.apgd(model, x, y, steps=2, seed=0, **tiny)
    elif task == 6:
        km.attacks.square_attack(model, x, y, steps=2, seed=0, **tiny)
    elif task == 7:
        km.evaluate_robustness(model, x, y, eps=[0.1], attacks=("fgsm", "pgd"), verbose=0,
                               attack_params={"pgd": {"steps": 2}}, checks=False)
    elif task == 8:
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=(i // 10) % 2 != 0))
        km.attacks.membership_inference(model, (x[:4], y[:4]), (x[4:], y[4:]), method="lira",
                                        num_shadow_models=2, epochs=1, batch_size=8, seed=0)
    else:
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=i % 3 != 0))
        monitor = km.callbacks.RobustnessMonitor(x, y, attack=km.attacks.FGSM(eps=0.1))
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[monitor])


@pytest.mark.slow
def test_fifty_attacked_models_are_garbage_collected():
    x, y = _data()
    refs = []
    for i in range(50):
        model = _leak_model(i)
        _use(model, i, x, y)
        refs.append(weakref.ref(model))
        del model
    gc.collect()
    alive = [i for i, ref in enumerate(refs) if ref() is not None]
    assert alive == [], f"{len(alive)} of 50 models still alive: {alive}"
