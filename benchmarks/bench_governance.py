"""Governance benchmarks: audit-log tamper detection, SIGKILL safety, append cost, ML-BOM.

    python benchmarks/bench_governance.py
    python benchmarks/bench_governance.py --records 2000 --tamperings 200 --kills 10  # quick
    python benchmarks/bench_governance.py --sections 34               # only appends and BOM

Prints, each measured in this run:
  1. --tamperings random tamperings (edit a byte, delete, insert or swap a
     line, truncate at a line or mid-line) of one signed, closed log of
     --records records: how many `verify_audit_log` detects (claim: all), and
     false alarms on --clean freshly written untouched logs (claim: 0);
  2. --kills SIGKILLs of a process appending to a signed log at random
     moments: after each, whether the log verifies up to its last complete
     record (claim: always), and whether every restarted writer resumed;
  3. appends per second of AuditLog (signed, checkpoint every 1,000) with and
     without fsync per record, against writing the same JSON lines unchained
     with one os.write each, round-robin in one process (chaining's cost as a
     ratio; fsync is the user's choice);
  4. `ml_bom` generation time and size for the digits CNN
     (`keras_mlsec.datasets.reference_model("cnn")`), and the time of the
     CycloneDX validator on it.
"""

import argparse
import datetime
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_mlsec.integrity import (AuditLog, IntegrityError,  # noqa: E402
                                   generate_keypair, verify_audit_log)


def _write_log(path, keys, records, rng):
    with AuditLog(path, private_key=keys[0], checkpoint_every=1000, fsync=False) as log:
        for i in range(records):
            log.append(rng.choice(("verify_model", "drift_alert", "inference")),
                       {"i": i, "model": f"m{rng.randrange(10)}.keras",
                        "score": rng.random(), "note": rng.choice(("ok", "café", "ü"))})


def _tamper(lines, original, rng, kind):
    if kind == "byte":
        data = bytearray(original)
        k = rng.randrange(len(data))
        data[k] = (data[k] + rng.randrange(1, 256)) % 256
        return bytes(data)
    copy = list(lines)
    i = rng.randrange(len(copy))
    if kind == "delete":
        del copy[i]
    elif kind == "insert":
        copy.insert(i, copy[rng.randrange(len(copy))])
    elif kind == "swap":
        j = rng.choice([k for k in range(max(0, i - 50), min(len(copy), i + 50)) if k != i])
        copy[i], copy[j] = copy[j], copy[i]
    elif kind == "truncate_line":
        copy = copy[:i]
    else:  # truncate mid-line
        return original[:rng.randrange(len(original))]
    return b"".join(line + b"\n" for line in copy)


def bench_tampering(directory, keys, records, tamperings, clean, rng):
    path = directory / "big.jsonl"
    start = time.perf_counter()
    _write_log(path, keys, records, rng)
    written = time.perf_counter() - start
    original = path.read_bytes()
    lines = original.split(b"\n")[:-1]
    start = time.perf_counter()
    total = verify_audit_log(path, public_key=keys[1])
    verify_s = time.perf_counter() - start
    print(f"log: {total} lines ({len(original) / 1e6:.2f} MB) written in {written:.1f} s, "
          f"verified in {verify_s:.3f} s")
    kinds = ("byte", "delete", "insert", "swap", "truncate_line", "truncate_mid")
    detected, reasons, per_kind = 0, {}, {}
    tampered = directory / "tampered.jsonl"
    for trial in range(tamperings):
        kind = kinds[trial % len(kinds)]
        tampered.write_bytes(_tamper(lines, original, rng, kind))
        try:
            verify_audit_log(tampered, public_key=keys[1])
        except IntegrityError as error:
            detected += 1
            reasons[error.reason] = reasons.get(error.reason, 0) + 1
            per_kind[kind] = per_kind.get(kind, 0) + 1
    print(f"tamperings detected: {detected} / {tamperings}  by kind {per_kind}")
    print(f"  reasons: {dict(sorted(reasons.items()))}")
    false_alarms = 0
    for index in range(clean):
        small = directory / f"clean-{index}.jsonl"
        _write_log(small, keys, 1000, rng)
        try:
            verify_audit_log(small, public_key=keys[1])
        except IntegrityError:
            false_alarms += 1
        small.unlink()
    print(f"false alarms on {clean} untouched 1,000-record logs (+ the big one): "
          f"{false_alarms}")
    return detected == tamperings and false_alarms == 0


_ZYGOTE = textwrap.dedent("""
    import os, sys, time
    from keras_mlsec._core.files import load_private_key
    from keras_mlsec.integrity.audit_log import AuditLog
    path, key = sys.argv[1], sys.argv[2]
    load_private_key(key)  # imports cryptography once, before the forks
    for line in sys.stdin:
        writer = int(line)
        pid = os.fork()
        if pid == 0:
            log = AuditLog(path, private_key=key, checkpoint_every=100, fsync=False)
            i = 0
            while True:
                log.append("event", {"writer": writer, "i": i})
                if i == 0:
                    print("ready", writer, flush=True)
                i += 1
                time.sleep(0.0005)
        print("pid", pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", writer, flush=True)
""")


def _read_until(stream, word, also=None):
    """Reads the zygote's lines up to `word`; with `also`, returns None unless `also` came."""
    seen = also is None
    while True:
        parts = stream.readline().split()
        seen = seen or parts[0] == also
        if parts[0] == word:
            return int(parts[1]) if seen else None


def bench_sigkill(directory, keys, kills, rng):
    path = directory / "killed.jsonl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    zygote = subprocess.Popen([sys.executable, "-c", _ZYGOTE, str(path), str(keys[0])],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    ok, failures, before_first = 0, [], 0
    try:
        for writer in range(kills):
            zygote.stdin.write(f"{writer}\n")
            zygote.stdin.flush()
            pid = _read_until(zygote.stdout, "pid")
            time.sleep(rng.uniform(0.0, 0.5))
            os.kill(pid, signal.SIGKILL)
            before_first += _read_until(zygote.stdout, "reaped", also="ready") is None
            complete = path.read_bytes().count(b"\n") if path.exists() else 0
            try:  # a writer killed before the log's first line leaves no record to verify
                verified = (verify_audit_log(path, public_key=keys[1], allow_open=True)
                            if complete else 0)
            except IntegrityError as error:
                verified = f"{type(error).__name__}: {error}"
            if verified == complete:
                ok += 1
            else:
                failures.append((writer, verified, complete))
    finally:
        zygote.stdin.close()
        zygote.kill()
        zygote.wait()
    AuditLog(path, private_key=keys[0]).close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    final = verify_audit_log(path, public_key=keys[1])
    writers = {}
    for record in records:
        if record["event"] == "event":
            writers.setdefault(record["data"]["writer"], []).append(record["data"]["i"])
    contiguous = all(v == list(range(len(v))) for v in writers.values())
    resumes = sum(r["event"] == "resume" for r in records)
    print(f"SIGKILLs: {kills} ({before_first} before the writer's first append, e.g. while "
          f"it reopened the log); log verified up to its last complete record after {ok} of "
          f"{kills} kills; failures {failures[:3]}")
    print(f"  writers that appended: {len(writers)}, resume records: {resumes}, each writer's "
          f"records contiguous: {contiguous}, final closed log verifies: {final} records")
    return ok == kills and contiguous


def _plain_writer(path, fsync):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    seq = [0]

    def append(event, data):
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")
        record = {"seq": seq[0], "time": now, "event": event, "data": data}
        os.write(fd, json.dumps(record, sort_keys=True, separators=(",", ":"),
                                allow_nan=False).encode("ascii") + b"\n")
        if fsync:
            os.fsync(fd)
        seq[0] += 1
    return append, lambda: os.close(fd)


def bench_appends(directory, keys, blocks, block_plain, block_fsync):
    """Times the variants in alternating blocks of records, summing time per variant."""
    seconds, counts, writers = {}, {}, {}
    for fsync in (False, True):
        for variant in ("audit_log", "plain_json_lines"):
            path = directory / f"{variant}-{fsync}.jsonl"
            if variant == "audit_log":
                log = AuditLog(path, private_key=keys[0], checkpoint_every=1000, fsync=fsync)
                writers[variant, fsync] = (log.append, log.close)
            else:
                writers[variant, fsync] = _plain_writer(path, fsync)
    i = 0
    variants = ["audit_log", "plain_json_lines"]
    for block in range(blocks):
        for fsync in (False, True):
            n = block_fsync if fsync else block_plain
            if fsync:
                os.sync()  # an fsync must not pay for the other files' pending writes
            for variant in variants[::1 if block % 2 else -1]:  # alternate who goes first
                append = writers[variant, fsync][0]
                start = time.perf_counter()
                for k in range(i, i + n):
                    append("inference", {"i": k, "model": "m.keras", "score": 0.5})
                seconds[variant, fsync] = seconds.get((variant, fsync), 0.0) + \
                    time.perf_counter() - start
                counts[variant, fsync] = counts.get((variant, fsync), 0) + n
            i += n
    for _, close in writers.values():
        close()
    for fsync in (False, True):
        chained = counts["audit_log", fsync] / seconds["audit_log", fsync]
        plain = counts["plain_json_lines", fsync] / seconds["plain_json_lines", fsync]
        print(f"appends/s fsync={fsync}: AuditLog {chained:,.0f}, unchained JSON lines "
              f"{plain:,.0f}; AuditLog/plain time ratio {plain / chained:.2f}x "
              f"({counts['audit_log', fsync]:,} records each, in {blocks} alternating blocks)")


def bench_bom(directory, repeats):
    import numpy as np
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from keras_mlsec.datasets import load_digits, reference_model
    from keras_mlsec.integrity import ml_bom

    (x_train, y_train), (x_test, y_test) = load_digits(image_size=8)
    model = reference_model("cnn", (8, 8, 1), 10)
    model.fit(x_train, y_train, epochs=1, verbose=0)
    path = directory / "digits_cnn.keras"
    model.save(path)
    datasets = {"train": (x_train, y_train), "test": (x_test, y_test)}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        document = ml_bom(path, datasets=datasets, metadata={"task": "digits"})
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    validate_s = time.perf_counter() - start
    components = json.loads(document)["components"]
    print(f"ml_bom for the digits CNN ({model.count_params():,} parameters, "
          f"{path.stat().st_size / 1e3:.0f} kB .keras, {len(x_train) + len(x_test)} examples): "
          f"median {statistics.median(times):.3f} s over {repeats} (first {times[0]:.3f} s), "
          f"{len(document.encode()) / 1e3:.1f} kB, {len(components)} components; "
          f"schema validation {validate_s:.3f} s, valid: {error is None}")
    del np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--tamperings", type=int, default=1000)
    parser.add_argument("--clean", type=int, default=100)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--sections", default="1234", help="which of the four to run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench_governance_") as directory:
        directory = Path(directory)
        keys = generate_keypair(directory / "keys")
        tamper_ok = kill_ok = None
        if "1" in args.sections:
            print("== 1. tamper detection")
            tamper_ok = bench_tampering(directory, keys, args.records, args.tamperings,
                                        args.clean, rng)
        if "2" in args.sections:
            print("== 2. SIGKILL while appending")
            kill_ok = bench_sigkill(directory, keys, args.kills, rng)
        if "3" in args.sections:
            print("== 3. append cost")
            bench_appends(directory, keys, args.blocks, block_plain=500, block_fsync=10)
        if "4" in args.sections:
            print("== 4. ML-BOM")
            bench_bom(directory, repeats=5)
    print(f"claims: all tamperings detected and no false alarm: {tamper_ok}; "
          f"every kill left a verifiable, resumable log: {kill_ok}")
    return 1 if False in (tamper_ok, kill_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
