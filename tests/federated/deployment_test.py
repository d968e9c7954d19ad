"""A real deployment on loopback: SuperLink, three SuperNodes, `flwr run`, then cleanup."""

import os
import subprocess
import sys
import time

import pytest

from keras_mlsec.federated.deployment import local_deployment, stop_processes

APP = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "federated_app")


def _processes_with_home(home, name="FLWR_HOME"):
    """Pids of live processes whose environment has `name`=home."""
    marker = f"{name}={home}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_an_orphaned_grandchild_is_stopped_too(tmp_path):
    # The parent starts a long sleeper in its own session and exits: the sleeper is no
    # longer anyone's descendant and is found by its environment entry alone.
    env = dict(os.environ, MLSEC_TEST_HOME=str(tmp_path))
    spawn = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
             "'import time; time.sleep(600)'], start_new_session=True)")
    parent = subprocess.Popen([sys.executable, "-c", spawn], env=env)
    parent.wait(timeout=60)
    deadline = time.time() + 30
    while not _processes_with_home(str(tmp_path), "MLSEC_TEST_HOME") and time.time() < deadline:
        time.sleep(0.1)
    orphans = _processes_with_home(str(tmp_path), "MLSEC_TEST_HOME")
    assert len(orphans) == 1
    stopped = stop_processes([parent], grace=1.0, environment=f"MLSEC_TEST_HOME={tmp_path}")
    assert stopped == orphans
    assert _processes_with_home(str(tmp_path), "MLSEC_TEST_HOME") == []


@pytest.mark.slow
def test_two_rounds_on_three_supernodes(tmp_path):
    try:
        history = local_deployment(APP, num_nodes=3, num_rounds=2, timeout=1200,
                                   workdir=str(tmp_path))
    finally:
        assert _processes_with_home(str(tmp_path / "flwr-home")) == []
    assert [r["round"] for r in history.rounds] == [1, 2]
    assert all(sorted(r["accepted"]) == [0, 1, 2] for r in history.rounds)
    assert history.num_clients == 3 and history.final_accuracy > history.initial["accuracy"]


@pytest.mark.slow
def test_every_process_is_stopped_when_the_run_times_out(tmp_path):
    # Depending on the machine's speed the 3 s run out while the SuperLink starts or later.
    with pytest.raises(TimeoutError, match=r"within timeout=3|did not listen on .* in time"):
        local_deployment(APP, num_nodes=2, num_rounds=1, timeout=3, workdir=str(tmp_path))
    assert _processes_with_home(str(tmp_path / "flwr-home")) == []


def test_bad_app_dir(tmp_path):
    with pytest.raises(ValueError, match="app_dir"):
        local_deployment(str(tmp_path), num_nodes=3)
