"""Data provenance: the ML-BOM signed with a checkpoint, checked by load_verified_model.

Also the audit events of sign_model, verify_model and load_verified_model.
"""

import json
import os

import keras
import numpy as np
import pytest

from keras_mlsec.callbacks import SignedModelCheckpoint
from keras_mlsec.integrity import (AuditLog, IntegrityError, dataset_digest, generate_keypair,
                                   load_verified_model, sign_model, verify_audit_log,
                                   verify_model)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return generate_keypair(tmp_path_factory.mktemp("keys"))


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(32, 3)).astype("float32"), rng.integers(0, 2, 32)


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="tiny")
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, keys):
    """A checkpoint trained on `_data(0)` with provenance, and its audit log."""
    directory = tmp_path_factory.mktemp("ckpt")
    x, y = _data()
    log = AuditLog(directory / "audit.jsonl", private_key=keys[0])
    callback = SignedModelCheckpoint(directory / "ckpt.keras", private_key=keys[0],
                                     monitor="loss", provenance=True,
                                     datasets={"train": (x, y)}, audit_log=log)
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    return directory / "ckpt.keras", log


def _events(log, event):
    records = [json.loads(line) for line in log.path.read_text().splitlines()]
    return [r["data"] for r in records if r["event"] == event]


def test_checkpoint_writes_a_signed_bom_naming_its_data(checkpoint, keys):
    path, log = checkpoint
    bom = json.loads(path.with_name("ckpt.keras.cdx.json").read_text())
    data = [c for c in bom["components"] if c["type"] == "data"]
    assert [(c["name"], "sha256:" + c["hashes"][0]["content"]) for c in data] == \
        [("train", dataset_digest(*_data()))]
    properties = {p["name"]: p["value"] for p in bom["metadata"]["properties"]}
    assert json.loads(properties["keras_mlsec:checkpoint"])["epoch"] == 2
    assert verify_model(path, public_key=keys[1])["checkpoint"]["epoch"] == 2
    signed = _events(log, "sign_model")
    assert [s["metadata"]["checkpoint"]["epoch"] for s in signed] == [1, 2]
    assert signed[-1]["path"] == str(path) and signed[-1]["ml_bom"].endswith(".cdx.json")


def test_load_verified_model_checks_the_training_data(checkpoint, keys):
    path, log = checkpoint
    x, y = _data()
    model = load_verified_model(path, public_key=keys[1], expected_datasets={"train": (x, y)},
                                audit_log=log)
    assert model.name == "tiny"
    load_verified_model(path, public_key=keys[1], expected_datasets=[dataset_digest(x, y)])
    other = _data(seed=1)
    with pytest.raises(IntegrityError, match="names other training data") as caught:
        load_verified_model(path, public_key=keys[1], expected_datasets={"mine": other},
                            audit_log=log)
    assert caught.value.reason == "provenance_mismatch"
    assert "not in the BOM: mine" in str(caught.value)
    assert "in the BOM but not expected: train" in str(caught.value)
    loads = _events(log, "load_verified_model")[-2:]
    assert [event["result"] for event in loads] == ["accepted", "refused"]
    assert loads[1]["reason"] == "provenance_mismatch"
    assert loads[1]["expected_datasets"] == {"mine": dataset_digest(*other)}


def test_a_changed_bom_or_a_model_without_one_is_refused(checkpoint, keys, tmp_path):
    path, log = checkpoint
    copy = tmp_path / "ckpt.keras"
    for suffix in ("", ".sig", ".cdx.json"):
        copy.with_name("ckpt.keras" + suffix).write_bytes(
            path.with_name("ckpt.keras" + suffix).read_bytes())
    bom = copy.with_name("ckpt.keras.cdx.json")
    document = json.loads(bom.read_text())
    digest = dataset_digest(*_data(seed=1))[7:]
    for component in document["components"]:
        if component["type"] == "data":
            component["hashes"][0]["content"] = digest  # claim other training data
    bom.write_text(json.dumps(document))
    with pytest.raises(IntegrityError, match="Hash mismatch for the ML-BOM") as caught:
        verify_model(copy, public_key=keys[1], audit_log=log)
    assert caught.value.reason == "hash_mismatch"
    assert _events(log, "verify_model")[-1]["result"] == "refused"
    with pytest.raises(IntegrityError, match="Hash mismatch for the ML-BOM"):
        load_verified_model(copy, public_key=keys[1])
    bom.unlink()
    with pytest.raises(IntegrityError, match="covers an ML-BOM") as caught:
        load_verified_model(copy, public_key=keys[1])
    assert caught.value.reason == "missing_file"
    plain = tmp_path / "plain.keras"
    _model().save(plain)
    sign_model(plain, private_key=keys[0], audit_log=log)
    assert load_verified_model(plain, public_key=keys[1]).name == "tiny"
    with pytest.raises(IntegrityError, match="signed without one") as caught:
        load_verified_model(plain, public_key=keys[1], expected_datasets=[_data()])
    assert caught.value.reason == "missing_provenance"


def test_sign_model_signs_a_bom_given_by_path(keys, tmp_path):
    model_path, bom = tmp_path / "m.keras", tmp_path / "bom.json"
    _model().save(model_path)
    bom.write_text('{"bomFormat": "CycloneDX"}')
    sign_model(model_path, private_key=keys[0], ml_bom=bom)
    with pytest.raises(IntegrityError, match="covers an ML-BOM"):
        verify_model(model_path, public_key=keys[1])  # looked for at m.keras.cdx.json
    assert verify_model(model_path, public_key=keys[1], ml_bom=bom) == {}
    bom.write_text('{"bomFormat": "CycloneDX", "x": 1}')
    with pytest.raises(IntegrityError, match="Hash mismatch for the ML-BOM"):
        verify_model(model_path, public_key=keys[1], ml_bom=bom)


def test_refused_scan_findings_are_logged(keys, tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    sign_model(path, private_key=keys[0])
    with AuditLog(tmp_path / "audit.jsonl", private_key=keys[0]) as log:
        with pytest.raises(IntegrityError, match="high-severity"):
            load_verified_model(path, public_key=keys[1], audit_log=log)
    event = _events(log, "load_verified_model")[0]
    assert event["result"] == "refused" and event["reason"] == "unsafe_model"
    assert any(finding["severity"] in ("high", "critical") for finding in event["findings"])
    assert verify_audit_log(log.path, public_key=keys[1]) == 3


def test_recover_restores_the_previous_bom_with_its_pair(tmp_path, keys):
    x, y = _data()
    path = tmp_path / "ckpt.keras"
    callback = SignedModelCheckpoint(path, private_key=keys[0], monitor="loss",
                                     provenance=True, datasets={"train": (x, y)})
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    bom = path.with_name("ckpt.keras.cdx.json")
    # A crash after the new BOM was installed but before the new model was renamed.
    os.replace(path.with_name("ckpt.keras.sig"), tmp_path / "ckpt.keras.previous.sig")
    os.replace(bom, tmp_path / "ckpt.keras.previous.cdx.json")
    os.replace(path, tmp_path / "ckpt.keras.previous")
    path.with_name("ckpt.keras.sig").write_text("{}")
    bom.write_text("{}")
    assert SignedModelCheckpoint.recover(path) == path
    load_verified_model(path, public_key=keys[1], expected_datasets=[(x, y)])
    assert not (tmp_path / "ckpt.keras.previous.cdx.json").exists()


def test_provenance_arguments_and_config(tmp_path, keys):
    x, y = _data()
    callback = SignedModelCheckpoint(tmp_path / "c.keras", private_key=keys[0],
                                     provenance=True, datasets={"train": (x, y)})
    config = callback.get_config()
    assert config["datasets"] == {"train": dataset_digest(x, y)}
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(callback))
    assert clone.get_config() == config
    with pytest.raises(ValueError, match="Received: provenance=False"):
        SignedModelCheckpoint(tmp_path / "c.keras", private_key=keys[0], datasets={"t": x})
    with pytest.raises(ValueError, match="save_weights_only=True"):
        SignedModelCheckpoint(tmp_path / "c.weights.h5", private_key=keys[0], provenance=True,
                              save_weights_only=True)
    with pytest.raises(TypeError, match="Expected `datasets` to be a dict"):
        SignedModelCheckpoint(tmp_path / "c.keras", private_key=keys[0], provenance=True,
                              datasets=[x])
    with pytest.raises(TypeError, match="Expected `audit_log` to be a"):
        SignedModelCheckpoint(tmp_path / "c.keras", private_key=keys[0], audit_log="a.jsonl")
    (tmp_path / "m.keras").write_bytes(b"not checked before the arguments")
    with pytest.raises(TypeError, match="Expected `expected_datasets` to be a dict"):
        load_verified_model(tmp_path / "m.keras", public_key=keys[1],
                            expected_datasets="train.npz")
    with pytest.raises(ValueError, match="at least one data set"):
        load_verified_model(tmp_path / "m.keras", public_key=keys[1], expected_datasets=[])
