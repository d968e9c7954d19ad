import pathlib
import random
import zipfile

import keras
import numpy as np
import malicious_corpus as corpus
import pytest

from keras_mlsec.integrity import (IntegrityError, generate_keypair, load_verified_model,
                                   sign_model, verify_model)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory):
    return generate_keypair(tmp_path_factory.mktemp("other"))


@pytest.fixture(scope="module")
def signed(tmp_path_factory, keys):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(path)
    sign_model(path, private_key=keys[0], metadata={"epsilon": 2.0})
    return path, model


def test_loads_a_verified_model_with_equal_outputs(signed, keys):
    path, model = signed
    loaded = load_verified_model(path, public_key=keys[1])
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_tampered_model_is_refused_before_loading(tmp_path, signed, keys, monkeypatch):
    path, _ = signed
    copy = tmp_path / "model.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    pathlib.Path(str(copy) + ".sig").write_bytes(pathlib.Path(str(path) + ".sig").read_bytes())
    calls = []
    monkeypatch.setattr("keras.src.saving.saving_lib.load_model",
                        lambda *a, **k: calls.append(1))
    with pytest.raises(IntegrityError, match="Hash mismatch") as info:
        load_verified_model(copy, public_key=keys[1])
    assert info.value.reason == "hash_mismatch"
    assert calls == []


def test_wrong_key_is_refused(signed, other_keys):
    path, _ = signed
    with pytest.raises(IntegrityError, match="another key"):
        load_verified_model(path, public_key=other_keys[1])


def test_signed_but_malicious_files_are_refused_and_never_run(tmp_path, keys):
    marker = tmp_path / "MARKER"
    cases = corpus.build_corpus(str(tmp_path), marker)
    for name, code in cases.items():
        path = tmp_path / name
        sign_model(path, private_key=keys[0])  # a compromised or careless signer
        with pytest.raises(IntegrityError, match="Refusing to load") as info:
            load_verified_model(path, public_key=keys[1])
        assert info.value.reason == "unsafe_model"
        assert code in {f.code for f in info.value.findings}, name
        assert code in str(info.value)
    assert not marker.exists()


def test_h5_model_is_refused_even_when_clean(tmp_path, keys):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "legacy.h5"
    model.save(path)
    sign_model(path, private_key=keys[0])
    with pytest.raises(IntegrityError, match="legacy-h5"):
        load_verified_model(path, public_key=keys[1])


def test_allow_admits_a_trusted_custom_layer(tmp_path, keys):
    @keras.saving.register_keras_serializable(package="LoadingTest")
    class Scale(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    model = keras.Sequential([keras.Input((2,)), Scale()])
    path = tmp_path / "custom.keras"
    model.save(path)
    sign_model(path, private_key=keys[0])
    with pytest.raises(IntegrityError, match="package-not-allowed"):
        load_verified_model(path, public_key=keys[1])
    module = Scale.__module__
    loaded = load_verified_model(path, public_key=keys[1], allow=(module, "LoadingTest"))
    np.testing.assert_allclose(loaded(np.ones((1, 2), "float32")), [[2.0, 2.0]])


def test_bad_arguments(tmp_path, signed, keys):
    path, _ = signed
    with pytest.raises(FileNotFoundError, match="path="):
        load_verified_model(tmp_path / "missing.keras", public_key=keys[1])
    with pytest.raises(FileNotFoundError, match="public_key="):
        load_verified_model(path, public_key=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="public_key=.*private key"):
        load_verified_model(path, public_key=keys[0])
    with pytest.raises(IntegrityError, match="signature_path="):
        load_verified_model(path, public_key=keys[1], signature_path=tmp_path / "no.sig")


def _mutations(data, members, rng):
    """Yields (label, new bytes) mutations of a signed .keras file."""
    for _ in range(8):
        flipped = bytearray(data)
        flipped[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        yield "byte-flip", bytes(flipped)
    yield "truncate", data[:rng.randrange(1, len(data))]
    yield "append", data + bytes([rng.randrange(256)])
    with zipfile.ZipFile(pathlib.Path(members)) as archive:
        names = archive.namelist()
        contents = {n: archive.read(n) for n in names}
    victim = rng.choice(names)
    import io
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, contents[name] + (b" " if name == victim else b""))
    yield "replace-member", out.getvalue()


def test_tamper_corpus_small(tmp_path, signed, keys):
    """About 100 random mutations, each detected (the benchmark runs 1,000+)."""
    path, _ = signed
    rng = random.Random(0)
    data = path.read_bytes()
    signature = pathlib.Path(str(path) + ".sig")
    target = tmp_path / "model.keras"
    pathlib.Path(str(target) + ".sig").write_bytes(signature.read_bytes())
    detected = 0
    for _ in range(10):
        for label, mutated in _mutations(data, path, rng):
            assert mutated != data
            target.write_bytes(mutated)
            with pytest.raises(IntegrityError, match="Hash mismatch"):
                verify_model(target, public_key=keys[1])
            detected += 1
    assert detected >= 100
    target.write_bytes(data)
    assert verify_model(target, public_key=keys[1]) == {"epsilon": 2.0}
