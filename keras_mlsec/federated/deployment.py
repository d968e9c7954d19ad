"""A real Flower deployment on this machine: a SuperLink, SuperNodes and `flwr run`.

Every process listens on 127.0.0.1 only, on free ports picked at start, with
its own `FLWR_HOME` (Flower's configuration and installed apps) under
`workdir`. `local_deployment` starts them, runs the app and always stops every
process it started, with their children (Flower's SuperExec, ServerApp and
ClientApp processes) and any process still holding its `FLWR_HOME`, even when
the run fails or times out, and returns only once they have all exited.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from keras_mlsec._core import validation as v
from keras_mlsec.federated.federated_history import FederatedHistory

HOST = "127.0.0.1"


def _free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _process_table():
    """{pid: (parent pid, state letter)} of every process (Linux /proc)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                table[int(entry)] = (int(fields[1]), fields[0])
            except (OSError, IndexError, ValueError):
                continue
    return table


def _children_of(pids, table):
    """Every descendant of `pids` in `table`, deepest last."""
    found, frontier = [], set(pids)
    while frontier:
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier} - set(found)
        found.extend(sorted(frontier))
    return found


def _with_environment(entry, pids):
    """The pids among `pids` whose environment holds `entry` (e.g. "FLWR_HOME=/x")."""
    marker, found = entry.encode(), []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            continue
    return found


def _signal(pids, signum):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _running(pids):
    """The pids among `pids` that have not exited yet (zombies count as exited)."""
    table = _process_table()
    return [pid for pid in pids if pid in table and table[pid][1] != "Z"]


def stop_processes(processes, *, grace=10.0, environment=None):
    """Stops `processes` (Popen objects) and all their descendants; returns their pids.

    The process trees are frozen first (SIGSTOP, repeated until no new child
    appears, so that nothing spawned meanwhile escapes), then sent SIGTERM
    and, after `grace` seconds, SIGKILL. Returns once every one of them has
    exited (a process takes a moment to die after SIGKILL).

    Args:
        processes: the `subprocess.Popen` objects started.
        grace: seconds between SIGTERM and SIGKILL.
        environment: an entry such as "FLWR_HOME=/path" that only these
            processes have; processes holding it are stopped too, even when
            they were orphaned (their parent exited, so they are no longer
            descendants).
    """
    roots = [p.pid for p in processes if p.poll() is None]
    victims = set()
    while True:
        table = _process_table()
        found = set(_children_of(roots, table)) | set(roots)
        if environment:
            found |= set(_with_environment(environment, set(table) - {os.getpid()}))
        _signal(found - victims, signal.SIGSTOP)
        if found <= victims:
            break
        victims |= found
    _signal(victims, signal.SIGTERM)
    _signal(victims, signal.SIGCONT)
    _wait_until_exited(victims, grace)
    _signal(victims, signal.SIGKILL)
    for process in processes:  # reap our own children
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    _wait_until_exited(victims, 30)
    return sorted(victims)


def _wait_until_exited(pids, timeout):
    deadline = time.time() + timeout
    while _running(pids) and time.time() < deadline:
        time.sleep(0.1)


def _wait_for_port(port, process, deadline, what):
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before listening "
                               f"on {HOST}:{port}")
        with contextlib.closing(socket.socket()) as sock:
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not listen on {HOST}:{port} in time")


def local_deployment(app_dir, *, num_nodes=3, num_rounds=2, timeout=900.0, workdir=None,
                     run_config=None, log=None):
    """Runs a Flower App on a SuperLink and `num_nodes` SuperNodes on 127.0.0.1.

    Starts `flower-superlink --insecure` and `num_nodes` `flower-supernode`s
    (node `i` gets `--node-config "partition-id=i num-partitions=num_nodes"`),
    then `flwr run app_dir` with the run config `num-server-rounds` and
    `history-path` set, waits for the ServerApp to write its history and
    stops every process it started.

    Args:
        app_dir: a Flower App directory (its pyproject.toml names a ServerApp
            from `server_app` and a ClientApp from `client_app`), e.g.
            `examples/federated_app`.
        num_nodes: SuperNodes to start.
        num_rounds: rounds (the run config's `num-server-rounds`).
        timeout: seconds for the whole deployment before it is stopped.
        workdir: where logs, Flower's home and the history go (a temporary
            directory when None).
        run_config: more `flwr run --run-config` entries, as a dict.
        log: a text stream for progress lines, or None.

    Returns:
        The `FederatedHistory` the ServerApp wrote.

    Raises:
        ValueError: for bad arguments or an `app_dir` without pyproject.toml.
        TimeoutError: when the run does not finish within `timeout`.
        RuntimeError: when a Flower process exits early (its log is named).

    Example:
        >>> history = local_deployment("examples/federated_app", num_nodes=3, num_rounds=2)
    """
    app_dir = os.path.abspath(app_dir)
    if not os.path.isfile(os.path.join(app_dir, "pyproject.toml")):
        raise ValueError(f"Expected `app_dir` to be a Flower App directory with a pyproject.toml. "
                         f"Received: app_dir={app_dir!r}")
    num_nodes = v.check_positive_int(num_nodes, "num_nodes")
    num_rounds = v.check_positive_int(num_rounds, "num_rounds")
    timeout = v.check_positive(timeout, "timeout")
    workdir = workdir or tempfile.mkdtemp(prefix="mlsec-flower-")
    home, history_path = os.path.join(workdir, "flwr-home"), os.path.join(workdir, "history.json")
    os.makedirs(home, exist_ok=True)
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, FLWR_HOME=home, FLWR_TELEMETRY_ENABLED="0", TF_CPP_MIN_LOG_LEVEL="3",
               PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))
    link_port = _free_port()
    with open(os.path.join(home, "config.toml"), "w", encoding="utf-8") as f:
        f.write(f'[superlink]\ndefault = "local"\n\n[superlink.local]\n'
                f'address = "{HOST}:{link_port}"\ninsecure = true\n')
    deadline = time.time() + timeout
    processes, logs = [], []

    def start(name, args):
        logs.append(open(os.path.join(workdir, f"{name}.log"), "w", encoding="utf-8"))
        processes.append(subprocess.Popen([os.path.join(bin_dir, args[0]), *args[1:]], env=env,
                                          cwd=workdir, stdout=logs[-1], stderr=subprocess.STDOUT))
        if log:
            print(f"started {name} (pid {processes[-1].pid})", file=log, flush=True)
        return processes[-1]

    try:
        link = start("superlink", ["flower-superlink", "--insecure", "--host", HOST, "--port",
                                   str(link_port), "--disable-runtime-dependency-installation"])
        for i in range(num_nodes):
            start(f"supernode-{i}", ["flower-supernode", "--insecure", "--superlink",
                                     f"{HOST}:{link_port}", "--host", HOST, "--port",
                                     str(_free_port()), "--node-config",
                                     f"partition-id={i} num-partitions={num_nodes}"])
        _wait_for_port(link_port, link, deadline, "flower-superlink")
        config = {"num-server-rounds": num_rounds, "history-path": history_path,
                  **(run_config or {})}
        entries = " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
                           for k, v in config.items())
        runner = start("flwr-run", ["flwr", "run", app_dir, "local", "--run-config", entries])
        while not os.path.exists(history_path):
            if time.time() > deadline:
                raise TimeoutError(f"Expected the deployment to finish within timeout={timeout} s. "
                                   f"Logs are in {workdir}")
            if runner.poll() not in (None, 0):
                raise RuntimeError(f"`flwr run` exited with code {runner.returncode}; see "
                                   f"{os.path.join(workdir, 'flwr-run.log')}")
            time.sleep(1.0)
        return FederatedHistory.from_json(history_path)
    finally:
        stopped = stop_processes(processes, environment=f"FLWR_HOME={home}")
        for handle in logs:
            handle.close()
        if log:
            print(f"stopped {len(stopped)} processes", file=log, flush=True)


def main(argv=None):
    """`python -m keras_mlsec.federated.deployment APP_DIR [--nodes 3] [--rounds 2]`."""
    import argparse

    parser = argparse.ArgumentParser(description=local_deployment.__doc__.splitlines()[0])
    parser.add_argument("app_dir")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    history = local_deployment(args.app_dir, num_nodes=args.nodes, num_rounds=args.rounds,
                               timeout=args.timeout, workdir=args.workdir, log=sys.stdout)
    print(history.to_markdown())


if __name__ == "__main__":
    main()
