import json
import os
import stat
import subprocess
import sys

import pytest

from keras_mlsec.integrity import IntegrityError, generate_keypair, sign_model, verify_model


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory):
    return generate_keypair(tmp_path_factory.mktemp("other"), curve="P-384")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(os.urandom(4096))
    return path


def test_keypair_files_and_permissions(tmp_path):
    private_key, public_key = generate_keypair(tmp_path / "k")
    assert private_key.name == "private_key.pem" and public_key.name == "public_key.pem"
    assert b"PRIVATE KEY" in private_key.read_bytes()
    assert b"PUBLIC KEY" in public_key.read_bytes()
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError, match="directory="):
        generate_keypair(tmp_path / "k")
    generate_keypair(tmp_path / "k", overwrite=True)
    with pytest.raises(ValueError, match="curve="):
        generate_keypair(tmp_path / "j", curve="Ed25519")


def test_sign_then_verify_returns_signed_metadata(model_file, keys):
    metadata = {"epsilon": 3.0, "delta": 1e-5, "dataset_sha256": "ab" * 32, "epochs": 5}
    signature = sign_model(model_file, private_key=keys[0], metadata=metadata)
    assert signature == model_file.with_name("model.keras.sig")
    assert verify_model(model_file, public_key=keys[1]) == metadata
    assert isinstance(verify_model(model_file, public_key=keys[1])["epochs"], int)


def test_signature_is_an_openssf_bundle_the_model_signing_cli_accepts(model_file, keys):
    signature = sign_model(model_file, private_key=keys[0], metadata={"epsilon": 1.0})
    bundle = json.loads(signature.read_text())
    assert bundle["mediaType"].startswith("application/vnd.dev.sigstore.bundle")
    result = subprocess.run(
        [sys.executable, "-m", "model_signing", "verify", "key", str(model_file),
         "--signature", str(signature), "--public_key", str(keys[1])],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Verification succeeded" in result.stdout + result.stderr


def test_flipped_byte_is_a_hash_mismatch(model_file, keys):
    sign_model(model_file, private_key=keys[0])
    data = bytearray(model_file.read_bytes())
    data[100] ^= 0x01
    model_file.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="Hash mismatch for the model file") as info:
        verify_model(model_file, public_key=keys[1])
    assert info.value.reason == "hash_mismatch"


def test_wrong_key_is_reported(model_file, keys, other_keys):
    sign_model(model_file, private_key=keys[0])
    with pytest.raises(IntegrityError, match="another key") as info:
        verify_model(model_file, public_key=other_keys[1])
    assert info.value.reason == "wrong_key"


def test_edited_metadata_breaks_the_signature(model_file, keys):
    import base64

    signature = sign_model(model_file, private_key=keys[0], metadata={"epsilon": 8.0})
    bundle = json.loads(signature.read_text())
    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"]).replace(b"8.0", b"0.1")
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    signature.write_text(json.dumps(bundle))
    with pytest.raises(IntegrityError, match="does not verify") as info:
        verify_model(model_file, public_key=keys[1])
    assert info.value.reason == "wrong_key"


@pytest.mark.parametrize("content", ["", "not json", "{}", '{"verificationMaterial": {}}'])
def test_malformed_signature(model_file, keys, content):
    signature = model_file.with_name("model.keras.sig")
    signature.write_text(content)
    with pytest.raises(IntegrityError, match="Malformed signature") as info:
        verify_model(model_file, public_key=keys[1])
    assert info.value.reason == "malformed_signature"


def test_missing_signature(model_file, keys):
    with pytest.raises(IntegrityError, match="signature_path=") as info:
        verify_model(model_file, public_key=keys[1])
    assert info.value.reason == "missing_signature"


def test_signature_for_another_file(tmp_path, model_file, keys):
    other = tmp_path / "other.keras"
    other.write_bytes(b"another model")
    signature = sign_model(other, private_key=keys[0])
    with pytest.raises(IntegrityError, match="another file"):
        verify_model(model_file, public_key=keys[1], signature_path=signature)


def test_directory_extra_and_missing_files(tmp_path, keys):
    model_dir = tmp_path / "model_dir"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / "model.weights.h5").write_bytes(b"weights")
    sign_model(model_dir, private_key=keys[0])
    assert verify_model(model_dir, public_key=keys[1]) == {}
    (model_dir / "extra.py").write_text("import os")
    with pytest.raises(IntegrityError, match="Extra file.*extra.py") as info:
        verify_model(model_dir, public_key=keys[1])
    assert info.value.reason == "extra_file"
    (model_dir / "extra.py").unlink()
    (model_dir / "config.json").unlink()
    with pytest.raises(IntegrityError, match="Missing file.*config.json") as info:
        verify_model(model_dir, public_key=keys[1])
    assert info.value.reason == "missing_file"
    # a signature stored inside the folder is not part of what it signs
    (model_dir / "config.json").write_text("{}")
    sign_model(model_dir, private_key=keys[0], signature_path=model_dir / "model.sig")
    verify_model(model_dir, public_key=keys[1], signature_path=model_dir / "model.sig")


def test_bad_key_arguments_name_the_argument(tmp_path, model_file, keys):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    with pytest.raises(FileNotFoundError, match="private_key=.*no such file"):
        sign_model(model_file, private_key=tmp_path / "nope.pem")
    with pytest.raises(ValueError, match="private_key=.*public key"):
        sign_model(model_file, private_key=keys[1])
    with pytest.raises(ValueError, match="public_key=.*private key"):
        verify_model(model_file, public_key=keys[0])
    ed_key = tmp_path / "ed.pem"
    ed_key.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(ValueError, match="elliptic-curve.*Ed25519PrivateKey"):
        sign_model(model_file, private_key=ed_key)
    with pytest.raises(TypeError, match="private_key=None"):
        sign_model(model_file, private_key=None)
    with pytest.raises(FileNotFoundError, match="path='.*missing.keras'"):
        sign_model(tmp_path / "missing.keras", private_key=keys[0])
    with pytest.raises(FileNotFoundError, match="path="):
        verify_model(tmp_path / "missing.keras", public_key=keys[1])


def test_unreadable_key(tmp_path, model_file, keys, monkeypatch):
    # chmod 0 does not stop root (CI runs as root), so the OS refusal is simulated.
    import pathlib

    locked = tmp_path / "locked.pem"
    locked.write_bytes(keys[0].read_bytes())
    real_read_bytes = pathlib.Path.read_bytes

    def refuse(self):
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return real_read_bytes(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)
    with pytest.raises(PermissionError, match="private_key=.*readable.*Permission denied"):
        sign_model(model_file, private_key=locked)


def test_bad_metadata(model_file, keys):
    with pytest.raises(TypeError, match="metadata="):
        sign_model(model_file, private_key=keys[0], metadata=["epsilon", 3])
    with pytest.raises(ValueError, match="metadata="):
        sign_model(model_file, private_key=keys[0], metadata={"epsilon": float("nan")})
    with pytest.raises(ValueError, match="metadata="):
        sign_model(model_file, private_key=keys[0], metadata={"f": object()})
