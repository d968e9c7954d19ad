import json
import os
import zipfile

import keras
import malicious_corpus as corpus
import pytest

from keras_mlsec.integrity import Finding, scan_model


@pytest.fixture(scope="module")
def malicious(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    marker = directory / "MARKER"
    return directory, marker, corpus.build_corpus(str(directory), marker)


@pytest.fixture(scope="module")
def clean_model(tmp_path_factory):
    inputs = keras.Input((4,))
    text = keras.Input((1,), dtype="string")
    ids = keras.layers.StringLookup(vocabulary=["a", "b"])(text)
    inner = keras.Sequential([keras.layers.Dense(3, activation="relu", kernel_regularizer="l2"),
                              keras.layers.Dropout(0.1)])
    x = keras.layers.Concatenate()([inner(inputs), keras.ops.cast(ids, "float32")])
    model = keras.Model([inputs, text], keras.layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path_factory.mktemp("clean") / "clean.keras"
    model.save(path)
    return path


def test_clean_keras_model_has_no_findings(clean_model):
    assert scan_model(clean_model) == []


def test_every_malicious_file_is_flagged_with_the_named_problem(malicious):
    directory, marker, cases = malicious
    assert len(cases) >= 15
    for name, code in cases.items():
        findings = scan_model(directory / name)
        codes = {f.code for f in findings if f.blocking}
        assert code in codes, (name, findings)
        assert all(isinstance(f, Finding) for f in findings)
    assert not marker.exists()


def test_findings_say_where_and_why(malicious):
    directory, _, _ = malicious
    findings = scan_model(directory / "nested_lambda_in_wrappers.keras")
    lam = [f for f in findings if f.code == "lambda-bytecode"][0]
    assert lam.severity == "critical"
    assert "config.layers[0].config.layers[1].config.layer.config.layer" in lam.location
    assert "CVE-2024-3660" in lam.message
    assert "posix.system" in str(scan_model(directory / "pickled_model.pkl")[0])
    assert findings == sorted(findings, key=lambda f: -["info", "low", "medium", "high",
                                                          "critical"].index(f.severity))


def test_allow_trusts_a_custom_package(tmp_path):
    config = corpus._sequential({"module": "my_project.layers", "class_name": "Scale",
                                 "registered_name": "MyProject>Scale", "config": {"name": "s"}})
    path = corpus.write_keras(tmp_path / "custom.keras", config)
    codes = {f.code for f in scan_model(path)}
    assert codes == {"module-not-allowed", "package-not-allowed"}
    assert scan_model(path, allow=("my_project", "MyProject")) == []
    with pytest.raises(ValueError, match="allow="):
        scan_model(path, allow=("",))


def test_harmless_lambda_is_still_refused(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    assert "code-layer" in {f.code for f in scan_model(path) if f.blocking}


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_archive_limits(tmp_path):
    path = corpus.write_keras(tmp_path / "big.keras", corpus._sequential(corpus._dense("d")))
    assert scan_model(path) == []
    assert [f.code for f in scan_model(path, max_uncompressed_bytes=10)] == ["archive-too-large"]
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("config.json", "{}")
    assert "duplicate-member" in {f.code for f in scan_model(path)}
    not_zip = tmp_path / "garbage.keras"
    not_zip.write_bytes(b"PK\x03\x04 truncated")
    assert scan_model(not_zip)[0].code == "bad-archive"
    text = tmp_path / "weights.bin"
    text.write_bytes(b"\x00" * 16)
    assert scan_model(text)[0].code == "unknown-format"


def test_deeply_nested_config_is_reported_not_crashing(tmp_path):
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "[" * 100_000 + "]" * 100_000)
        archive.writestr("metadata.json", json.dumps({}))
    assert scan_model(path)[0].code in {"config-too-deep", "bad-config"}


def test_keras_folder_and_missing_path(tmp_path):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(corpus._sequential(
        corpus._lambda_bytecode(str(tmp_path / "M")))))
    assert "lambda-bytecode" in {f.code for f in scan_model(folder)}
    with pytest.raises(FileNotFoundError, match="path="):
        scan_model(tmp_path / "nope.keras")
    assert not os.path.exists(tmp_path / "M")
