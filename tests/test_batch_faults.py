"""affect-batch under faults: an output folder it cannot write in, SIGTERM on a local Ray run, and the
temporary folders that killed tasks leave behind (the two-node cases are in test_ray_cluster.py)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import SINGLE_FACE


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, tiny_model):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("cannot make a mount namespace here")
    out = tmp_path / "out"
    out.mkdir()
    command = f"{sys.executable} -m realtime_affect.batch.cli {SINGLE_FACE} --out {out} --model {tiny_model}"
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {out} && {command}"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"affect-batch: error: {out}: cannot write in this folder (Read-only file system); "
                     "choose another --out"]


def test_stale_temporary_folders_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    from realtime_affect.system.tempdirs import owned_tempdir, owner, remove_stale

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale_job = tmp_path / f"affect-job-{dead.pid}-abc"
    stale_model = tmp_path / f"affect-model-{dead.pid}-def"
    for folder in (stale_job, stale_model):
        (folder / "in").mkdir(parents=True)
        (folder / "in" / "clip.mp4").write_bytes(b"a copy of an input")
    mine = owned_tempdir("job", str(tmp_path))
    others = [tmp_path / "affect-serve-xyz", tmp_path / "affect-job-notapid-1", tmp_path / "unrelated"]
    for folder in others:
        folder.mkdir()
    assert owner(mine) == os.getpid() and owner(stale_job) == dead.pid and owner(others[0]) is None
    removed = remove_stale(str(tmp_path))
    assert sorted(removed) == sorted([stale_job, stale_model])
    assert not stale_job.exists() and not stale_model.exists()
    assert mine.exists() and all(folder.exists() for folder in others)


def test_a_killed_process_not_yet_reaped_counts_as_gone(tmp_path):
    from realtime_affect.system.tempdirs import remove_stale

    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # exited, and not waited for: a zombie
        with open(f"/proc/{zombie.pid}/stat", "rb") as fh:
            if fh.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                break
        time.sleep(0.05)
    left = tmp_path / f"affect-job-{zombie.pid}-x"
    left.mkdir()
    try:
        assert remove_stale(str(tmp_path)) == [left]
    finally:
        zombie.wait()


@pytest.mark.slow
def test_sigterm_on_a_ray_batch_ends_with_143_a_summary_and_one_line_of_ours(tmp_path, tiny_model):
    pytest.importorskip("ray")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4", "d.mp4"):
        (folder / name).symlink_to(SINGLE_FACE)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.batch.cli", str(folder), "--out", str(out),
                             "--model", str(tiny_model), "--ray", "--workers", "1", "-q"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (out / "a.csv").exists():
        time.sleep(0.1)
    assert (out / "a.csv").exists(), proc.communicate(timeout=60)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr  # ours, and nothing of Ray's own
    last = lines[-1]
    assert last.startswith("affect-batch: stopped by SIGTERM: ") and "--resume" in last, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_code"] == 143
    statuses = [r["status"] for r in summary["inputs"]]
    assert statuses[0] == "done" and set(statuses) <= {"done", "interrupted"} and "interrupted" in statuses


def test_a_disk_that_fills_mid_batch_fails_those_inputs_and_keeps_the_manifest_true(tmp_path, tiny_model):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("cannot make a mount namespace here")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (folder / name).symlink_to(SINGLE_FACE)
    out, kept = tmp_path / "out", tmp_path / "kept"
    out.mkdir()
    kept.mkdir()
    command = (f"{sys.executable} -m realtime_affect.batch.cli {folder} --out {out} --model {tiny_model} -q "
               "--workers 1")
    script = f"mount -t tmpfs -o size=40k tmpfs {out} && {{ {command}; echo $? > {kept}/rc; cp -a {out}/. {kept}/; }}"
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert (kept / "rc").read_text().strip() == "3", proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads((kept / "summary.json").read_text())
    status = {Path(r["input"]).name: r for r in summary["inputs"]}
    done = [n for n, r in status.items() if r["status"] == "done"]
    failed = [n for n, r in status.items() if r["status"] == "failed"]
    assert done and failed and len(done) + len(failed) == 3
    assert all("No space left" in status[n]["error"] for n in failed)
    assert sorted(p.name for p in kept.glob("*.csv")) == sorted(f"{Path(n).stem}.csv" for n in done)
    assert not [p.name for p in kept.iterdir() if p.name.endswith(".partial")]  # no half-written file left
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == len(failed) and all(ln.startswith("affect-batch: failed: ") for ln in lines)
