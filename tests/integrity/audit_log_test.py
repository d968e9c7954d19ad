"""Tests of keras_mlsec.integrity.AuditLog and verify_audit_log."""

import json
import random

import pytest

from keras_mlsec.integrity import AuditLog, IntegrityError, generate_keypair, verify_audit_log


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory):
    return generate_keypair(tmp_path_factory.mktemp("other"))


def _write(path, keys, n, *, checkpoint_every=10, close=True):
    log = AuditLog(path, private_key=keys[0], checkpoint_every=checkpoint_every, fsync=False)
    for i in range(n):
        log.append("event", {"i": i})
    if close:
        log.close()
    return log


def _lines(path):
    return path.read_bytes().split(b"\n")[:-1]


def _records(path):
    return [json.loads(line) for line in _lines(path)]


def test_records_chain_and_signed_checkpoints(tmp_path, keys):
    path = tmp_path / "audit.jsonl"
    _write(path, keys, 25, checkpoint_every=10)
    records = _records(path)
    # log_start, 25 events, a checkpoint after each 10 records (incl. log_start), close.
    events = [r["event"] for r in records]
    assert events[0] == "log_start" and events[-1] == "close"
    assert events.count("checkpoint") == 2 and events.count("event") == 25
    assert [r["seq"] for r in records] == list(range(len(records)))
    assert [r["data"]["i"] for r in records if r["event"] == "event"] == list(range(25))
    assert all("signature" in r for r in records if r["event"] in ("checkpoint", "close"))
    assert verify_audit_log(path, public_key=keys[1]) == len(records) == 29
    assert verify_audit_log(path) == 29  # chain only


@pytest.mark.parametrize("tamper, line", [
    ("edit", 6), ("delete", 6), ("insert", 6), ("swap", 6), ("edit_last", 29),
])
def test_each_kind_of_tampering_is_detected_and_names_the_line(tmp_path, keys, tamper, line):
    path = tmp_path / "audit.jsonl"
    _write(path, keys, 25)
    lines = _lines(path)
    if tamper == "edit":
        lines[5] = lines[5].replace(b'"i":4', b'"i":7')
    elif tamper == "delete":
        del lines[5]
    elif tamper == "insert":
        lines.insert(5, lines[2])
    elif tamper == "swap":
        lines[5], lines[6] = lines[6], lines[5]
    else:
        lines[-1] = lines[-1].replace(b'"records":28', b'"records":27')
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(IntegrityError, match=f"at line {line}:") as caught:
        verify_audit_log(path, public_key=keys[1])
    assert caught.value.line == line
    assert caught.value.reason in ("chain_broken", "bad_signature")


def test_truncation_after_the_last_signed_checkpoint_is_detected(tmp_path, keys):
    path = tmp_path / "audit.jsonl"
    _write(path, keys, 25)
    lines = _lines(path)
    for keep in (len(lines) - 1, 23, 22, 11):  # 22 and 11 end on a checkpoint
        path.write_bytes(b"\n".join(lines[:keep]) + b"\n")
        with pytest.raises(IntegrityError, match="truncated after the last signed") as caught:
            verify_audit_log(path, public_key=keys[1])
        assert caught.value.reason == "not_closed" and caught.value.line == keep + 1
        assert verify_audit_log(path, public_key=keys[1], allow_open=True) == keep
    path.write_bytes(b"\n".join(lines)[:-7])  # cut inside the closing record
    with pytest.raises(IntegrityError, match="not_closed|truncated"):
        verify_audit_log(path, public_key=keys[1])


def test_forged_chain_fails_at_the_first_signed_checkpoint(tmp_path, keys):
    """A forger who recomputes every hash after an edit is caught by the signatures."""
    import hashlib

    path = tmp_path / "audit.jsonl"
    _write(path, keys, 25)
    records = _records(path)
    records[3]["data"]["i"] = 99
    prev = None
    out = []
    for record in records:
        if prev is not None:
            record["prev"] = prev
        line = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        out.append(line)
        prev = hashlib.sha256(line).hexdigest()
    path.write_bytes(b"\n".join(out) + b"\n")
    assert verify_audit_log(path) == 29  # the chain alone is fooled...
    with pytest.raises(IntegrityError, match="signature does not verify") as caught:
        verify_audit_log(path, public_key=keys[1])  # ...the key is not
    assert caught.value.reason == "bad_signature" and caught.value.line == 11


def test_random_tamperings_all_detected_and_untouched_logs_pass(tmp_path, keys):
    """A fast version of benchmarks/bench_governance.py (1,000 x 10,000 there)."""
    path = tmp_path / "audit.jsonl"
    _write(path, keys, 300, checkpoint_every=50)
    original = path.read_bytes()
    lines = _lines(path)
    rng = random.Random(0)
    tampered = tmp_path / "tampered.jsonl"
    for trial in range(100):
        kind = ("byte", "delete", "insert", "swap", "truncate")[trial % 5]
        copy = list(lines)
        i = rng.randrange(len(copy))
        if kind == "byte":
            data = bytearray(original)
            k = rng.randrange(len(data))
            data[k] = (data[k] + rng.randrange(1, 256)) % 256
            tampered.write_bytes(bytes(data))
        else:
            if kind == "delete":
                del copy[i]
            elif kind == "insert":
                copy.insert(i, copy[rng.randrange(len(copy))])
            elif kind == "swap":
                j = rng.choice([k for k in range(len(copy)) if k != i])
                copy[i], copy[j] = copy[j], copy[i]
            else:
                copy = copy[:i]
            tampered.write_bytes(b"".join(line + b"\n" for line in copy))
        with pytest.raises(IntegrityError):
            verify_audit_log(tampered, public_key=keys[1])
    for _ in range(10):
        tampered.write_bytes(original)
        assert verify_audit_log(tampered, public_key=keys[1]) == len(lines)


def test_resume_after_a_crash_cuts_the_partial_line_and_seals_the_tail(tmp_path, keys):
    path = tmp_path / "audit.jsonl"
    _write(path, keys, 15, checkpoint_every=10, close=False)
    before = verify_audit_log(path, public_key=keys[1], allow_open=True)
    with open(path, "ab") as handle:
        handle.write(b'{"data":{"i":15},"ev')  # a write cut short by the crash
    assert verify_audit_log(path, public_key=keys[1], allow_open=True) == before
    log = AuditLog(path, private_key=keys[0], checkpoint_every=10)
    log.append("event", {"i": 15})
    log.close()
    records = _records(path)
    resume = records[before]
    assert resume["event"] == "resume"
    assert resume["data"] == {"closed": False, "discarded_bytes": 20, "unsigned_records": 6}
    assert records[before + 1]["event"] == "checkpoint"  # the crashed writer's tail, sealed
    assert verify_audit_log(path, public_key=keys[1]) == len(records)


def test_reopening_a_closed_log_continues_its_chain(tmp_path, keys):
    path = tmp_path / "audit.jsonl"
    _write(path, keys, 3)
    with AuditLog(path, private_key=keys[0]) as log:
        assert log.append("again", {"n": 1}) == log.records - 1
    events = [r["event"] for r in _records(path)]
    assert events[-4:] == ["close", "resume", "again", "close"]
    assert verify_audit_log(path, public_key=keys[1]) == len(events)


def test_nothing_is_appended_to_a_log_that_fails_verification(tmp_path, keys):
    path = tmp_path / "audit.jsonl"
    _write(path, keys, 5)
    lines = _lines(path)
    lines[2] = lines[2].replace(b'"i":1', b'"i":8')
    broken = b"\n".join(lines) + b"\n"
    path.write_bytes(broken)
    with pytest.raises(IntegrityError, match="at line 3:"):
        AuditLog(path, private_key=keys[0])
    assert path.read_bytes() == broken
    log = AuditLog(path, private_key=keys[0], on_invalid="new_chain")
    log.close()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("audit.jsonl.invalid-")]
    assert len(aside) == 1 and aside[0].read_bytes() == broken
    start = _records(path)[0]["data"]["previous"]
    assert start["path"] == aside[0].name and start["line"] == 3
    assert start["reason"] == "chain_broken"
    assert verify_audit_log(path, public_key=keys[1]) == 2


def test_unsigned_logs_chain_without_checkpoints(tmp_path):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, checkpoint_every=2) as log:
        for i in range(5):
            log.append("event", {"i": i})
    events = [r["event"] for r in _records(path)]
    assert "checkpoint" not in events and events[-1] == "close"
    assert verify_audit_log(path) == 7


def test_keys_must_match_the_log(tmp_path, keys, other_keys):
    path = tmp_path / "audit.jsonl"
    _write(path, keys, 3)
    with pytest.raises(IntegrityError, match="`public_key` is not the key") as caught:
        verify_audit_log(path, public_key=other_keys[1])
    assert caught.value.reason == "wrong_key" and caught.value.line == 1
    with pytest.raises(ValueError, match="Expected `private_key` to match"):
        AuditLog(path, private_key=other_keys[0])
    with pytest.raises(ValueError, match="Received: private_key=None"):
        AuditLog(path)
    with pytest.raises(ValueError, match="Expected `public_key` to be a PEM-encoded"):
        verify_audit_log(path, public_key=keys[0])
    with pytest.raises(FileNotFoundError, match="public_key="):
        verify_audit_log(path, public_key=tmp_path / "missing.pem")
    unsigned = tmp_path / "unsigned.jsonl"
    AuditLog(unsigned).close()
    with pytest.raises(IntegrityError, match="written without a key"):
        verify_audit_log(unsigned, public_key=keys[1])
    with pytest.raises(ValueError, match="Expected `private_key` to match"):
        AuditLog(unsigned, private_key=keys[0])


def test_a_file_written_by_another_tool_is_refused_untouched(tmp_path, keys):
    path = tmp_path / "app.log"
    path.write_text('{"level": "info", "msg": "started"}\n')
    with pytest.raises(IntegrityError, match="Expected `path` to be a keras_mlsec audit log"
                       ) as caught:
        verify_audit_log(path)
    assert caught.value.reason == "not_an_audit_log" and caught.value.line == 1
    with pytest.raises(IntegrityError, match="path="):
        AuditLog(path)
    assert path.read_text() == '{"level": "info", "msg": "started"}\n'


def test_bad_arguments_and_misuse_are_named(tmp_path, keys):
    path = tmp_path / "audit.jsonl"
    with pytest.raises(ValueError, match="checkpoint_every=0"):
        AuditLog(path, checkpoint_every=0)
    with pytest.raises(ValueError, match="on_invalid"):
        AuditLog(path, on_invalid="ignore")
    with pytest.raises(FileNotFoundError, match="existing folder"):
        AuditLog(tmp_path / "nowhere" / "audit.jsonl")
    with pytest.raises(TypeError, match="fsync="):
        AuditLog(path, fsync="yes")
    log = AuditLog(path, private_key=keys[0])
    with pytest.raises(ValueError, match="not in use by another AuditLog"):
        AuditLog(path, private_key=keys[0])
    with pytest.raises(ValueError, match="event='checkpoint'"):
        log.append("checkpoint")
    with pytest.raises(TypeError, match="event="):
        log.append("")
    with pytest.raises(TypeError, match="Expected `data` to be a dict"):
        log.append("x", [1, 2])
    with pytest.raises(ValueError, match="finite numbers"):
        log.append("x", {"value": float("nan")})
    log.close()
    log.close()  # idempotent
    with pytest.raises(ValueError, match="was closed"):
        log.append("x")
    assert verify_audit_log(path, public_key=keys[1]) == 2
    with pytest.raises(TypeError, match="allow_open="):
        verify_audit_log(path, allow_open="yes")
