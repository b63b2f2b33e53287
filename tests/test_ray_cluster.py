"""affect-batch against a real two-node Ray cluster (``ray start``), on loopback only: the whole cluster runs in a
network namespace this test creates (nothing but loopback inside) and its own PID namespace (``ray stop`` there
sees only this cluster, and every process ends with it), see ray_cluster_scenario.py."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DATA, SINGLE_FACE

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).parent / "ray_cluster_scenario.py"
NAMESPACES = ["unshare", "--net", "--pid", "--fork", "--mount-proc"]


def _namespace_available() -> str | None:
    """Why a private network namespace cannot be made here (None: it can)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip not installed"
    probe = subprocess.run([*NAMESPACES, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace ({probe.stderr.strip() or probe.returncode}): needs root or " \
               "user namespaces"
    return None


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    why = _namespace_available()
    if why:
        pytest.skip(f"two-node Ray test needs a private network namespace: {why}")
    work = tmp_path_factory.mktemp("cluster")
    inputs = work / "in"
    inputs.mkdir()
    names = []
    for name, src in (("pexels_a.mp4", DATA / "WolfgangLanger_Pexels.mp4"),
                      ("pexels_b.mp4", DATA / "WolfgangLanger_Pexels.mp4"),
                      ("single_face.mp4", SINGLE_FACE), ("face_noface.mov", DATA / "face_noface.mov")):
        os.symlink(src.resolve(), inputs / name)
        names.append(str(inputs / name))
    run = subprocess.run([*NAMESPACES, sys.executable, str(SCENARIO), str(work), *names],
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    return work, names, json.loads((work / "report.json").read_text())


def _last_line(stderr: str) -> str:
    return [line for line in stderr.splitlines() if line.strip()][-1]


def test_the_cluster_has_two_nodes_with_token_authentication(scenario):
    _, _, report = scenario
    assert report["head"]["code"] == 0 and report["two_nodes"]


def test_wrong_address_and_wrong_token_are_one_line_errors(scenario):
    _, _, report = scenario
    for case, words in (("wrong_address", "cannot connect to a Ray cluster at 127.0.0.1:"),
                        ("wrong_token", "refused the authentication token")):
        assert report[case]["code"] == 2
        assert _last_line(report[case]["stderr"]).startswith("affect-batch: error: ") and \
            words in report[case]["stderr"]
        assert "Traceback" not in report[case]["stderr"]


def test_a_lost_node_costs_nothing_and_outputs_match_affect_live(scenario, tmp_path):
    from realtime_affect.cli import main

    work, names, report = scenario
    assert report["both_busy"] and report["lost_node"]["done_before_kill"] == []  # the second node died mid-task
    assert report["lost_node"]["code"] == 0, report["lost_node"]["stderr"]
    summary = json.loads((work / "lost_node" / "summary.json").read_text())
    assert [r["status"] for r in summary["inputs"]] == ["done"] * 4
    for name in names:
        stem = Path(name).stem
        expected = tmp_path / f"{stem}.csv"
        assert main(["--video", name, "--csv", str(expected), "--no-display", "-q"]) == 0
        assert (work / "lost_node" / f"{stem}.csv").read_bytes() == expected.read_bytes(), stem
        assert (work / "resume" / f"{stem}.csv").read_bytes() == expected.read_bytes(), stem


def test_a_killed_driver_resumes(scenario):
    work, _, report = scenario
    assert report["killed_driver_outputs"]  # at least one output finished before the kill
    assert report["resume"]["code"] == 0, report["resume"]["stderr"]
    summary = json.loads((work / "resume" / "summary.json").read_text())
    statuses = sorted(r["status"] for r in summary["inputs"])
    assert statuses.count("skipped") == len(report["killed_driver_outputs"])
    assert set(statuses) <= {"done", "skipped"}


def _our_lines(stderr: str) -> list[str]:
    """The lines on stderr but for the progress bar's."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("files ")]


def test_errors_are_one_line_of_ours_without_rays_own_log(scenario):
    _, _, report = scenario
    for case in ("wrong_address", "wrong_token"):
        assert len(_our_lines(report[case]["stderr"])) == 1, report[case]["stderr"]


def test_killed_tasks_leave_no_temporary_folders(scenario):
    _, _, report = scenario
    assert report["temp_after_resume"] == []


def test_sigterm_ends_a_cluster_batch_with_143_and_a_summary(scenario):
    work, _, report = scenario
    assert report["sigterm"]["code"] == 143, report["sigterm"]["stderr"]
    lines = _our_lines(report["sigterm"]["stderr"])
    assert len(lines) == 1 and lines[0].startswith("affect-batch: stopped by SIGTERM: "), lines
    summary = json.loads((work / "sigterm" / "summary.json").read_text())
    assert summary["exit_code"] == 143 and "done" in {r["status"] for r in summary["inputs"]}


def test_a_lost_head_ends_with_our_line_75_and_a_summary(scenario):
    work, _, report = scenario
    lost = report["lost_head"]
    assert lost["code"] == 75, lost
    assert lost["seconds"] < 30, lost  # not Ray's minute of waiting
    lines = _our_lines(lost["stderr"])
    assert lines[-1].startswith("affect-batch: error: the Ray cluster at 127.0.0.1:") and "--resume" in lines[-1]
    assert "Traceback" not in lost["stderr"] and "SIGTERM received" not in lost["stderr"], lost["stderr"]
    summary = json.loads((work / "lost_head" / "summary.json").read_text())
    assert summary["exit_code"] == 75 and "interrupted" in {r["status"] for r in summary["inputs"]}


def test_driver_fleet_review_on_the_cluster_matches_affect_driver(scenario, tmp_path):
    from realtime_affect.driver.cli import main as driver_main

    work, names, report = scenario
    assert report["driver"]["code"] == 0, report["driver"]["stderr"]
    summary = json.loads((work / "driver" / "summary.json").read_text())
    assert [r["status"] for r in summary["inputs"]] == ["done", "done"] and "driver" in summary
    for name in names[2:]:
        stem = Path(name).stem
        csv, events = tmp_path / f"{stem}.csv", tmp_path / f"{stem}.jsonl"
        assert driver_main(["--video", name, "--csv", str(csv), "--events", str(events), "--no-display", "-q"]) == 0
        assert (work / "driver" / f"{stem}.driver.csv").read_bytes() == csv.read_bytes(), stem
        assert (work / "driver" / f"{stem}.events.jsonl").read_bytes() == events.read_bytes(), stem
