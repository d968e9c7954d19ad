import json

import pytest

from keras_mlsec.cli import main


def test_keygen_sign_verify_scan(tmp_path, capsys):
    keys = tmp_path / "keys"
    assert main(["keygen", str(keys)]) == 0
    model = tmp_path / "model.bin"
    model.write_bytes(b"\x00model")
    assert main(["sign", str(model), "--private-key", str(keys / "private_key.pem"),
                 "--metadata", '{"epsilon": 3}']) == 0
    assert main(["verify", str(model), "--public-key", str(keys / "public_key.pem")]) == 0
    out = capsys.readouterr().out
    assert "OK:" in out and '"epsilon": 3' in out
    model.write_bytes(b"\x01model")
    assert main(["verify", str(model), "--public-key", str(keys / "public_key.pem")]) == 1
    err = capsys.readouterr().err
    assert "Hash mismatch" in err and "Traceback" not in err
    assert main(["scan", str(model)]) == 1
    assert "unknown-format" in capsys.readouterr().out
    assert main(["scan", str(model), "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert findings[0]["code"] == "unknown-format"


def test_user_errors_exit_2_without_traceback(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope.keras"), "--public-key", "k.pem"]) == 2
    assert main(["keygen", str(tmp_path / "k")]) == 0
    assert main(["keygen", str(tmp_path / "k")]) == 2
    assert main(["sign", str(tmp_path / "k" / "public_key.pem"),
                 "--private-key", str(tmp_path / "k" / "public_key.pem")]) == 2
    assert main(["sign", str(tmp_path / "k" / "public_key.pem"), "--private-key",
                 str(tmp_path / "k" / "private_key.pem"), "--metadata", "[1]"]) == 2
    err = capsys.readouterr().err
    assert "path=" in err and "private_key=" in err and "--metadata" in err
    assert "Traceback" not in err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("keygen", "sign", "verify", "scan"):
        assert command in out
