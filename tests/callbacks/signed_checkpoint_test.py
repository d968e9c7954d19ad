import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from keras_mlsec.callbacks import SignedModelCheckpoint
from keras_mlsec.integrity import IntegrityError, generate_keypair, verify_model


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return generate_keypair(tmp_path_factory.mktemp("keys"))


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")


def test_fit_writes_signed_checkpoints_with_epoch_metadata(tmp_path, keys):
    x, y = _data()
    path = tmp_path / "ckpt-{epoch:02d}.keras"
    callback = SignedModelCheckpoint(str(path), private_key=keys[0], monitor="loss",
                                     metadata={"code_version": "1.0"})
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    for epoch in (1, 2):
        metadata = verify_model(tmp_path / f"ckpt-{epoch:02d}.keras", public_key=keys[1])
        assert metadata["code_version"] == "1.0"
        assert metadata["checkpoint"]["epoch"] == epoch
        assert "loss" in metadata["checkpoint"]["logs"]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_non_finite_logs_are_signed_as_text_instead_of_stopping_fit(tmp_path, keys):
    path = tmp_path / "ckpt-{epoch}.keras"
    callback = SignedModelCheckpoint(str(path), private_key=keys[0], monitor="loss")
    callback.set_model(_model())
    callback.on_epoch_end(0, {"loss": float("nan"), "val_loss": float("inf"), "accuracy": 0.5})
    logs = verify_model(tmp_path / "ckpt-1.keras", public_key=keys[1])["checkpoint"]["logs"]
    assert logs == {"loss": "nan", "val_loss": "inf", "accuracy": 0.5}


def test_save_best_only_keeps_one_verified_pair(tmp_path, keys):
    x, y = _data()
    path = tmp_path / "best.keras"
    callback = SignedModelCheckpoint(path, private_key=keys[0], monitor="loss",
                                     save_best_only=True)
    model = _model()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    metadata = verify_model(path, public_key=keys[1])
    assert metadata["checkpoint"]["epoch"] >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras", "best.keras.sig"]


def test_weights_only_checkpoint_is_signed(tmp_path, keys):
    x, y = _data()
    path = tmp_path / "ckpt.weights.h5"
    callback = SignedModelCheckpoint(path, private_key=keys[0], monitor="loss",
                                     save_weights_only=True)
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    verify_model(path, public_key=keys[1])
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(IntegrityError, match="Hash mismatch"):
        verify_model(path, public_key=keys[1])


def test_bad_arguments_are_named(tmp_path, keys):
    with pytest.raises(FileNotFoundError, match="private_key="):
        SignedModelCheckpoint(tmp_path / "c.keras", private_key=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="private_key=.*public key"):
        SignedModelCheckpoint(tmp_path / "c.keras", private_key=keys[1])
    with pytest.raises(ValueError, match="filepath"):
        SignedModelCheckpoint(tmp_path / "c.txt", private_key=keys[0])
    with pytest.raises(TypeError, match="metadata="):
        SignedModelCheckpoint(tmp_path / "c.keras", private_key=keys[0], metadata=[1])


def test_config_round_trip(tmp_path, keys):
    callback = SignedModelCheckpoint(tmp_path / "c.keras", private_key=keys[0],
                                     save_best_only=True, metadata={"a": 1})
    config = callback.get_config()
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(callback))
    assert isinstance(clone, SignedModelCheckpoint)
    assert clone.get_config() == config
    assert config["private_key"] == str(keys[0])


def test_recover_restores_previous_pair(tmp_path, keys):
    x, y = _data()
    path = tmp_path / "ckpt.keras"
    callback = SignedModelCheckpoint(path, private_key=keys[0], monitor="loss")
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    # Simulate a crash between the renames: old pair moved aside, new signature in place.
    os.replace(path.with_name("ckpt.keras.sig"), tmp_path / "ckpt.keras.previous.sig")
    os.replace(path, tmp_path / "ckpt.keras.previous")
    (tmp_path / "ckpt.keras.sig").write_text("{}")
    assert SignedModelCheckpoint.recover(path) == path
    verify_model(path, public_key=keys[1])
    assert not (tmp_path / "ckpt.keras.previous").exists()


# A zygote imports Keras once and forks one checkpoint writer per kill, so that 50+
# kills fit in well under two minutes (a fresh interpreter costs seconds per kill).
_ZYGOTE = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras
    from keras_mlsec.callbacks.signed_checkpoint import SignedModelCheckpoint
    path, key = sys.argv[1], sys.argv[2]
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            callback = SignedModelCheckpoint(path, private_key=key, monitor="loss")
            callback.set_model(model)
            callback.on_train_begin()
            epoch = int(line)
            while True:
                model.layers[0].kernel.assign(model.layers[0].kernel + 1.0)
                callback.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
                if epoch == int(line):
                    print("saved", flush=True)  # the first checkpoint of this round is complete
                epoch += 1
        print(pid, flush=True)
        os.waitpid(pid, 0)
""")


@pytest.mark.slow
def test_sigkill_at_random_points_never_leaves_a_mismatched_pair(tmp_path, keys):
    path = tmp_path / "ckpt.keras"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    zygote = subprocess.Popen([sys.executable, "-c", _ZYGOTE, str(path), str(keys[0])],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=env)
    rng = random.Random(0)
    epochs_seen, kills = [], 0
    try:
        for round_index in range(60):
            zygote.stdin.write(f"{round_index * 1000}\n")
            zygote.stdin.flush()
            pid, saved = None, False
            while pid is None or not saved:  # both lines come, in either order
                line = zygote.stdout.readline().strip()
                if line == "saved":
                    saved = True
                else:
                    pid = int(line)
            # Kill at a random point of the later saves (one takes about 0.1-0.5 s), however
            # slow the machine is: waiting for the first save keeps the test free of timing.
            time.sleep(rng.uniform(0.0, 1.0))
            os.kill(pid, signal.SIGKILL)
            kills += 1
            time.sleep(0.05)  # let the zygote reap the writer
            if path.exists():  # whenever the model exists it matches its signature
                verify_model(path, public_key=keys[1])
            newest = SignedModelCheckpoint.recover(path)
            if newest is not None:
                metadata = verify_model(newest, public_key=keys[1])
                epochs_seen.append(metadata["checkpoint"]["epoch"])
    finally:
        zygote.stdin.close()
        zygote.kill()
        zygote.wait()
    assert kills >= 50
    assert len(epochs_seen) == kills  # every round wrote at least one checkpoint
    # each round starts at a higher epoch, so the recovered checkpoints never go back
    assert epochs_seen == sorted(epochs_seen)
