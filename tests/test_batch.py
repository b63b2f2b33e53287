"""affect-batch as a user runs it: outputs equal to affect-live, bad inputs isolated (exit 3), resume after an
interrupt, Parquet, names and arguments; the same batch on a local Ray cluster when Ray is installed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import FACE_NOFACE, NO_FACE, SINGLE_FACE

from realtime_affect.batch.inputs import BatchInputError, assign_outputs, expand


def batch(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "realtime_affect.batch.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """The test clips plus a text file named .mp4, in one folder."""
    folder = tmp_path_factory.mktemp("clips")
    for clip in (SINGLE_FACE, FACE_NOFACE, NO_FACE):
        (folder / clip.name).symlink_to(clip)
    (folder / "notes.mp4").write_text("this is not a video\n")
    return folder


@pytest.fixture(scope="module")
def live_csvs(tmp_path_factory, tiny_model) -> dict[str, bytes]:
    """What affect-live writes for each clip (the reference)."""
    from realtime_affect.cli import main

    out = {}
    folder = tmp_path_factory.mktemp("live")
    for clip in (SINGLE_FACE, FACE_NOFACE, NO_FACE):
        path = folder / f"{clip.stem}.csv"
        assert main(["--video", str(clip), "--csv", str(path), "--model", str(tiny_model), "--no-display",
                     "-q"]) == 0
        out[clip.stem] = path.read_bytes()
    return out


def _check_batch(out: Path, proc, live_csvs) -> dict:
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "notes.mp4" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    status = {Path(r["input"]).name: r["status"] for r in summary["inputs"]}
    assert status == {"notes.mp4": "failed", "single_face.mp4": "done", "face_noface.mov": "done",
                      "no_face.mp4": "done"}
    failed = next(r for r in summary["inputs"] if r["status"] == "failed")
    assert "not a readable video" in failed["error"]
    for stem, expected in live_csvs.items():
        assert (out / f"{stem}.csv").read_bytes() == expected  # row for row, byte for byte
    assert not (out / "notes.csv").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]
    return summary


@pytest.mark.slow
def test_batch_isolates_a_bad_file_and_matches_affect_live(tmp_path, clips, live_csvs, tiny_model):
    out = tmp_path / "out"
    proc = batch(str(clips), "--out", str(out), "--model", str(tiny_model), "--workers", "2")
    summary = _check_batch(out, proc, live_csvs)
    assert summary["exit_code"] == 3 and summary["counts"] == {"failed": 1, "done": 3}


@pytest.mark.slow
def test_batch_on_a_local_ray_cluster(tmp_path, clips, live_csvs, tiny_model):
    pytest.importorskip("ray")
    out = tmp_path / "out"
    proc = batch(str(clips), "--out", str(out), "--model", str(tiny_model), "--ray", "--workers", "2")
    summary = _check_batch(out, proc, live_csvs)
    assert summary["runner"] == "ray"


@pytest.mark.slow
def test_interrupted_batch_resumes_without_rewriting_finished_outputs(tmp_path, tiny_model):
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    for name in names:
        (folder / name).symlink_to(SINGLE_FACE)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.batch.cli", str(folder), "--out", str(out),
                             "--model", str(tiny_model), "--workers", "1", "-q"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "a.csv").exists():  # the first output is complete
        time.sleep(0.05)
    assert (out / "a.csv").exists(), proc.communicate(timeout=60)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    finals = sorted(p.name for p in out.glob("*.csv"))
    assert "a.csv" in finals and len(finals) < 4
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]  # nothing half-written
    summary = json.loads((out / "summary.json").read_text())
    assert {r["status"] for r in summary["inputs"]} <= {"done", "interrupted"}
    first = (out / "a.csv").stat()
    proc = batch(str(folder), "--out", str(out), "--model", str(tiny_model), "--workers", "1", "--resume", "-q")
    assert proc.returncode == 0, proc.stderr
    again = (out / "a.csv").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)  # not rewritten
    summary = json.loads((out / "summary.json").read_text())
    status = {Path(r["input"]).name: r["status"] for r in summary["inputs"]}
    assert status["a.mp4"] == "skipped" and set(status.values()) <= {"skipped", "done"}
    texts = {(out / f"{Path(n).stem}.csv").read_text().replace(n, "CLIP") for n in names}
    assert len(texts) == 1  # the same clip four times: four equal outputs (but for the source column)


@pytest.mark.slow
def test_resume_redoes_an_input_that_changed(tmp_path, tiny_model):
    folder = tmp_path / "in"
    folder.mkdir()
    clip = folder / "clip.mp4"
    clip.write_bytes(SINGLE_FACE.read_bytes())
    out = tmp_path / "out"
    assert batch(str(folder), "--out", str(out), "--model", str(tiny_model), "--workers", "1", "-q").returncode == 0
    clip.write_bytes(FACE_NOFACE.read_bytes())  # same name, new content
    os.utime(clip, ns=(time.time_ns(), time.time_ns() + 10 ** 9))
    proc = batch(str(folder), "--out", str(out), "--model", str(tiny_model), "--workers", "1", "--resume", "-q")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in summary["inputs"]] == ["done"]


@pytest.mark.slow
def test_parquet_batch_reads_back_like_the_csv(tmp_path, tiny_model, live_csvs):
    from realtime_affect import read_results

    out = tmp_path / "out"
    proc = batch(str(SINGLE_FACE), "--out", str(out), "--model", str(tiny_model), "--format", "parquet",
                 "--workers", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    csv = tmp_path / "live.csv"
    csv.write_bytes(live_csvs["single_face"])
    a, b = read_results(csv), read_results(out / "single_face.parquet")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 72
    assert (a["track_id"] == b["track_id"]).all() and (a["expression"] == b["expression"]).all()
    assert (abs(a["expr_happiness"] - b["expr_happiness"]) < 1e-4).all()
    assert b["temporal"].dtype == bool and b["frame"].dtype == "int64"


def test_bad_arguments_exit_2_with_one_line(tmp_path):
    proc = batch(str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "no such file" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = batch(str(empty), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "no video files" in proc.stderr
    bad_model = tmp_path / "model.pt"
    bad_model.write_bytes(b"not a model")
    proc = batch(str(SINGLE_FACE), "--out", str(tmp_path / "out"), "--model", str(bad_model))
    assert proc.returncode == 2 and "not a readable checkpoint" in proc.stderr and "Traceback" not in proc.stderr


def test_inputs_from_folders_and_list_files_with_clashing_names_resolved(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y" / "deep").mkdir(parents=True)
    for p in (tmp_path / "x" / "talk.mp4", tmp_path / "y" / "deep" / "talk.MOV", tmp_path / "y" / "other.mkv",
              tmp_path / "y" / "readme.md"):
        p.write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text("# my videos\nx/talk.mp4\n\nrtsp://camera.local/stream1\n")
    found = expand([str(tmp_path / "y"), str(listing)])
    assert [Path(f).name for f in found[:2]] == ["talk.MOV", "other.mkv"]  # recursive, videos only
    assert found[2] == str(tmp_path / "x" / "talk.mp4") and found[3] == "rtsp://camera.local/stream1"
    items = assign_outputs(found, ".csv")
    names = [i.output for i in items]
    assert names[1] == "other.csv" and names[3] == "stream1.csv"
    assert names[0] != names[2] and names[0].startswith("talk-") and names[2].startswith("talk-")
    assert assign_outputs(list(reversed(found)), ".csv")[::-1] == items  # the same names in any order
    with pytest.raises(BatchInputError, match="no such file"):
        expand([str(tmp_path / "nope")])


def test_batch_sample_fps_gives_affect_lives_rows(tmp_path, tiny_model, cli):
    out = tmp_path / "out"
    proc = batch(str(SINGLE_FACE), "--out", str(out), "--model", str(tiny_model), "--workers", "1", "-q",
                 "--sample-fps", "10")
    assert proc.returncode == 0, proc.stderr
    live = tmp_path / "live.csv"
    assert cli("--video", str(SINGLE_FACE), "--csv", str(live), "--model", str(tiny_model), "--no-display",
               "--sample-fps", "10").returncode == 0
    assert (out / "single_face.csv").read_bytes() == live.read_bytes()
    assert len(live.read_text().splitlines()) - 1 == 24  # 2.4 s at 10 per second
    bad = batch(str(SINGLE_FACE), "--out", str(out), "--sample-fps", "-1")
    assert bad.returncode == 2 and "--sample-fps" in bad.stderr


def test_cluster_errors_say_what_to_do_in_one_line():
    pytest.importorskip("ray")
    from realtime_affect.batch.ray_connect import ClusterError, explain, missing_package, probe

    try:
        raise RuntimeError("Version mismatch: The cluster was started with:\n    Ray: 2.51.0\n    Python: 3.10.4\n"
                           "This process on node 127.0.0.1 was started with:\n    Ray: 2.60.0\n    Python: 3.11.7")
    except RuntimeError as inner:
        try:
            raise ConnectionError("Failed to connect to Ray cluster") from inner
        except ConnectionError as exc:
            line = explain(exc, "10.0.0.5:6379")
    assert "runs other versions than this command" in line and "\n" not in line
    try:
        raise ModuleNotFoundError("No module named 'realtime_affect'")
    except ModuleNotFoundError as inner:
        try:
            raise RuntimeError("task failed") from inner
        except RuntimeError as exc:
            assert "install realtime-affect[ray]" in missing_package(exc)
    assert missing_package(ValueError("bad video")) is None
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ClusterError, match=f"cannot connect to a Ray cluster at 127.0.0.1:{port}"):
        probe(f"127.0.0.1:{port}", timeout_s=2)


SHARED_DESK = next((ROOT.parent / "shared" / "media" / "driver").glob("02_*"), None) \
    if (ROOT.parent / "shared" / "media" / "driver").is_dir() else None


def _driver_alone(clip: Path, folder: Path, model: Path) -> tuple[bytes, bytes]:
    """What ``affect-driver --csv --events`` writes for one clip (the reference)."""
    from realtime_affect.driver.cli import main

    rows, events = folder / f"{clip.stem}.csv", folder / f"{clip.stem}.jsonl"
    assert main(["--video", str(clip), "--csv", str(rows), "--events", str(events), "--model", str(model),
                 "--no-display", "-q"]) == 0
    return rows.read_bytes(), events.read_bytes()


def _check_driver_batch(out: Path, proc, clips: list[Path], reference: dict) -> dict:
    assert proc.returncode == 0, proc.stderr
    for clip in clips:
        rows, events = reference[clip.stem]
        assert (out / f"{clip.stem}.driver.csv").read_bytes() == rows  # as affect-driver alone, byte for byte
        assert (out / f"{clip.stem}.events.jsonl").read_bytes() == events
    summary = json.loads((out / "summary.json").read_text())
    driver = summary["driver"]
    seconds = sum(r["video_s"] for r in summary["inputs"])
    assert driver["hours"] == pytest.approx(seconds / 3600, abs=1e-4) and seconds > 0
    for entry in driver["inputs"]:
        lines = (out / entry["events_file"]).read_text().splitlines()
        starts = [json.loads(line)["kind"] for line in lines if json.loads(line)["change"] == "start"]
        assert entry["events"] == {k: starts.count(k) for k in set(starts)}  # every event started, counted
    totals = {}
    for entry in driver["inputs"]:
        for kind, n in entry["events"].items():
            totals[kind] = totals.get(kind, 0) + n
    assert driver["events"] == totals
    assert driver["per_hour"] == pytest.approx({k: n * 3600 / seconds for k, n in totals.items()}, rel=1e-3, abs=0.01)
    return summary


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["local", "ray"])
def test_batch_driver_gives_affect_drivers_files_and_events_per_hour(tmp_path, tiny_model, runner):
    if runner == "ray":
        pytest.importorskip("ray")
    clips = [SINGLE_FACE, FACE_NOFACE] + ([SHARED_DESK] if SHARED_DESK is not None else [])
    reference = {clip.stem: _driver_alone(clip, tmp_path, tiny_model) for clip in clips}
    out = tmp_path / "out"
    extra = ["--ray"] if runner == "ray" else []
    proc = batch(*map(str, clips), "--out", str(out), "--driver", "--model", str(tiny_model), "--workers", "2",
                 *extra)
    summary = _check_driver_batch(out, proc, clips, reference)
    if SHARED_DESK is not None:  # the desk clip's 1.2 s closure is the batch's one microsleep
        assert summary["driver"]["events"].get("microsleep") == 1
        assert summary["driver"]["inputs"][0]["input"] == str(SHARED_DESK)  # the most eventful drive first
    again = batch(*map(str, clips), "--out", str(out), "--driver", "--model", str(tiny_model), "--resume", *extra)
    assert again.returncode == 0 and json.loads((out / "summary.json").read_text())["counts"] == {
        "skipped": len(clips)}


def test_batch_driver_arguments(tmp_path):
    proc = batch(str(SINGLE_FACE), "--out", str(tmp_path / "o"), "--driver", "--format", "parquet")
    assert proc.returncode == 2 and "--driver" in proc.stderr and "Traceback" not in proc.stderr
    proc = batch(str(SINGLE_FACE), "--out", str(tmp_path / "o"), "--driver-config", "x.json")
    assert proc.returncode == 2 and "--driver-config goes with --driver" in proc.stderr
