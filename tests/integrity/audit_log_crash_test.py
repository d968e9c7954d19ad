"""SIGKILL a process appending to an AuditLog: the log always verifies and appending resumes.

benchmarks/bench_governance.py runs the 50-kill version; this one kills 12 times.
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

from keras_mlsec.integrity import AuditLog, generate_keypair, verify_audit_log

# The zygote imports the package once and forks one appending writer per kill. It says
# "pid N" after a fork, the writer "ready W" after its first append, the zygote "reaped W".
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
            log = AuditLog(path, private_key=key, checkpoint_every=7, fsync=False)
            i = 0
            while True:
                log.append("event", {"writer": writer, "i": i})
                if i == 0:
                    print("ready", writer, flush=True)
                i += 1
                time.sleep(0.001)  # keeps the log small, so reopening stays quick
        print("pid", pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", writer, flush=True)
""")


def _read_until(stream, word):
    while True:
        parts = stream.readline().split()
        if not parts:
            raise RuntimeError("the zygote exited")
        if parts[0] == word:
            return int(parts[1])


def kill_appending_writers(path, private_key, public_key, *, kills, seed=0):
    """Kills `kills` writers; returns `(verified, complete lines)` after each kill.

    Odd writers are killed at a random moment after their first append, even ones
    at a random moment after the fork (possibly while opening and verifying the log).
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    zygote = subprocess.Popen([sys.executable, "-c", _ZYGOTE, str(path), str(private_key)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    rng = random.Random(seed)
    counts = []
    try:
        for writer in range(kills):
            zygote.stdin.write(f"{writer}\n")
            zygote.stdin.flush()
            pid = _read_until(zygote.stdout, "pid")
            if writer % 2:
                _read_until(zygote.stdout, "ready")
            time.sleep(rng.uniform(0.0, 0.3))
            os.kill(pid, signal.SIGKILL)
            _read_until(zygote.stdout, "reaped")
            complete = path.read_bytes().count(b"\n") if path.exists() else 0
            verified = (verify_audit_log(path, public_key=public_key, allow_open=True)
                        if complete else 0)
            counts.append((verified, complete))
    finally:
        zygote.stdin.close()
        zygote.kill()
        zygote.wait()
    return counts


def test_sigkilled_appenders_leave_a_log_that_verifies_and_resumes(tmp_path):
    private_key, public_key = generate_keypair(tmp_path / "keys")
    path = tmp_path / "audit.jsonl"
    counts = kill_appending_writers(path, private_key, public_key, kills=12)
    # Every kill leaves a log that verifies up to its last complete record.
    assert all(verified == complete for verified, complete in counts)
    assert [c[0] for c in counts] == sorted(c[0] for c in counts)  # it only ever grew
    AuditLog(path, private_key=private_key).close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert verify_audit_log(path, public_key=public_key) == len(records)
    # Each writer resumed the chain and lost nothing it had completely written.
    writers = {}
    for record in records:
        if record["event"] == "event":
            writers.setdefault(record["data"]["writer"], []).append(record["data"]["i"])
    assert all(values == list(range(len(values))) for values in writers.values())
    # At least the writers killed after their first append reopened the log and appended.
    assert sum(r["event"] == "resume" for r in records) >= 6
    assert len(writers) >= 6


def test_a_writer_gone_without_close_is_sealed_on_resume(tmp_path):
    private_key, public_key = generate_keypair(tmp_path / "keys")
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, private_key=private_key, checkpoint_every=1000, fsync=False)
    for i in range(5):
        log.append("event", {"i": i})
    del log  # the writer is gone without closing (as after a kill)
    resumed = AuditLog(path, private_key=private_key)
    resumed.close()
    events = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    assert events[-3:] == ["resume", "checkpoint", "close"]
    assert verify_audit_log(path, public_key=public_key) == len(events)
