"""A two-node Ray cluster on loopback and affect-batch against it, run inside a network namespace that holds
nothing but loopback (``unshare -n``), so that no Ray process can reach or listen on another interface.

    unshare --net --pid --fork --mount-proc python tests/ray_cluster_scenario.py WORKDIR INPUT...

1. ``ray start --head`` (token authentication on, as Ray 2.59+ does by default; a fresh HOME holds its token)
   and a second node joined with ``ray start --address``;
2. a wrong address and a wrong token: affect-batch must answer each with one line and exit 2;
3. a batch over INPUT... while the second node is killed once both nodes run tasks: every output must still
   be written (the lost node's tasks retried on the head);
4. a batch whose driver is killed after its first output, then ``--resume``; the temporary folders the killed
   tasks left are gone after it (every Ray process's temp folder is WORKDIR/tmp);
5. SIGTERM to a batch: exit 143, one line of ours, a summary; then ``--driver`` over two inputs;
6. the head node's GCS killed mid-batch: the driver's own line, exit 75 and a summary, within seconds.
Writes WORKDIR/report.json with what happened (exit codes, stderr, timings); the test checks it and the files.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PORT = 6390


def sh(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, **kw)


def batch(out: Path, *extra: str, env=None, inputs=None) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "affect-batch"), *(inputs or INPUTS), "--out", str(out), *extra], env=env or ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def running_tasks() -> int:
    """Ray worker processes executing a batch task on this machine (both nodes live here)."""
    found = sh("pgrep", "-f", "ray::_task")
    return len(found.stdout.split())


def wait_for(condition, timeout_s: float, step_s: float = 0.2) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(step_s)
    return False


def main() -> int:
    global INPUTS, ENV
    work = Path(sys.argv[1])
    INPUTS = sys.argv[2:]
    report: dict = {}
    sh("ip", "link", "set", "lo", "up")
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    temp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths have a length limit
    ENV = {**os.environ, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
           "RAY_health_check_initial_delay_ms": "0"}
    (work / "tmp").mkdir(exist_ok=True)
    ENV["TMPDIR"] = str(work / "tmp")  # the workers' temporary folders, to be counted
    ENV.pop("RAY_AUTH_MODE", None)  # the driver (affect-batch) runs as a new user runs it
    ENV.pop("RAY_AUTH_TOKEN", None)
    address = f"127.0.0.1:{PORT}"
    # the cluster's token in a file named by RAY_AUTH_TOKEN_PATH (Ray's documented way; ~/.ray/auth_token is the
    # default, but this machine's home must not be touched): `ray start` then turns token authentication on
    import secrets

    token = work / "auth_token"
    token.write_text(secrets.token_hex(32))
    ENV["RAY_AUTH_TOKEN_PATH"] = str(token)
    nodes_env = {**ENV, "RAY_AUTH_MODE": "token"}  # Ray's docs: set on every node of a cluster with tokens
    head = sh(str(BIN / "ray"), "start", "--head", "--port", str(PORT), "--num-cpus", "1", "--node-ip-address",
              "127.0.0.1", "--temp-dir", temp, "--include-dashboard", "false", env=nodes_env)
    report["head"] = {"code": head.returncode, "token_file": str(token)}  # a wrong token refused shows auth is on
    second_log = open(work / "second_node.log", "w")
    second = subprocess.Popen([str(BIN / "ray"), "start", "--address", address, "--num-cpus", "1",
                               "--node-ip-address", "127.0.0.1", "--block"], env=nodes_env, stdout=second_log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # wrong address and wrong token, started now (a wrong address waits for Ray's connect timeout)
        wrong_address = subprocess.Popen([str(BIN / "affect-batch"), INPUTS[0], "--out", str(work / "wrong_addr"),
                                          "--ray", f"127.0.0.1:{PORT + 7}"], env=ENV, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
        report["two_nodes"] = wait_for(lambda: "Ray runtime started" in (work / "second_node.log").read_text(), 60)
        wrong_token = sh(str(BIN / "affect-batch"), INPUTS[0], "--out", str(work / "wrong_token"), "--ray", address,
                         env={**ENV, "RAY_AUTH_TOKEN": "not-the-token"})
        report["wrong_token"] = {"code": wrong_token.returncode, "stderr": wrong_token.stderr}

        # 3. lose the second node in the middle
        t0 = time.monotonic()
        run = batch(work / "lost_node", "--ray", address)
        report["both_busy"] = wait_for(lambda: running_tasks() >= 2, 120)
        done_before = sorted(p.name for p in (work / "lost_node").glob("*.csv"))
        os.killpg(second.pid, signal.SIGKILL)
        report["killed_after_s"] = round(time.monotonic() - t0, 1)
        out, err = run.communicate(timeout=600)
        report["lost_node"] = {"code": run.returncode, "stderr": err[-2000:], "done_before_kill": done_before,
                               "seconds": round(time.monotonic() - t0, 1)}

        # 4. kill the driver after its first output, then resume
        run = batch(work / "resume", "--ray", address)
        wait_for(lambda: any((work / "resume").glob("*.csv")), 300)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
        report["killed_driver_outputs"] = sorted(p.name for p in (work / "resume").glob("*.csv"))
        again = batch(work / "resume", "--ray", address, "--resume")
        out, err = again.communicate(timeout=600)
        report["resume"] = {"code": again.returncode, "stderr": err[-2000:]}
        report["temp_after_resume"] = sorted(p.name for p in (work / "tmp").glob("affect-*"))

        # 5. SIGTERM
        run = batch(work / "sigterm", "--ray", address, "-q")
        wait_for(lambda: any((work / "sigterm").glob("*.csv")), 300)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=120)
        report["sigterm"] = {"code": run.returncode, "stderr": err[-2000:],
                             "summary": (work / "sigterm" / "summary.json").exists()}

        out, err = wrong_address.communicate(timeout=300)
        report["wrong_address"] = {"code": wrong_address.returncode, "stderr": err}

        # fleet review on the cluster: --driver over the two short inputs
        run = batch(work / "driver", "--ray", address, "--driver", "-q", inputs=INPUTS[2:])
        out, err = run.communicate(timeout=600)
        report["driver"] = {"code": run.returncode, "stderr": err[-2000:]}

        # 6. lose the head node (its GCS) in the middle: last, the cluster does not come back
        run = batch(work / "lost_head", "--ray", address, "-q")
        wait_for(lambda: any((work / "lost_head").glob("*.csv")), 300)
        sh("pkill", "-9", "-f", "gcs_server")
        t0 = time.monotonic()
        try:
            out, err = run.communicate(timeout=120)
            code = run.returncode
        except subprocess.TimeoutExpired:
            run.kill()
            out, err = run.communicate()
            code = "hung"
        report["lost_head"] = {"code": code, "stderr": err[-2000:], "seconds": round(time.monotonic() - t0, 1),
                               "summary": (work / "lost_head" / "summary.json").exists()}
    finally:
        try:
            os.killpg(second.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        sh(str(BIN / "ray"), "stop", "--force", env=ENV)
        (work / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
