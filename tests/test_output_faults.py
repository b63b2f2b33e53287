"""Outputs under faults, with real processes and real file systems: a disk that fills part way through a run
(a tiny tmpfs in a mount namespace the test makes) and a run killed with SIGKILL. Each output must end on a
whole line / row / frame and read back."""
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
from helpers import SINGLE_FACE, csv_rows_so_far, decode_frames, write_video

ROOT = Path(__file__).resolve().parent.parent


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt"],
                           capture_output=True, timeout=20)
    return probe.returncode == 0


def _run_on_small_disk(tmp_path: Path, size_kb: int, args: list[str]) -> tuple[subprocess.CompletedProcess, Path]:
    """Run affect-live with its outputs on a ``size_kb`` tmpfs mounted at ``tmp_path/disk`` in a private mount
    namespace; what the disk held at the end is copied to ``tmp_path/kept``."""
    if not _can_mount_tmpfs():
        pytest.skip("cannot mount a tmpfs in a user namespace here")
    disk, kept = tmp_path / "disk", tmp_path / "kept"
    disk.mkdir()
    kept.mkdir()
    command = " ".join([sys.executable, "-m", "realtime_affect.cli", *args])
    script = (f"mount -t tmpfs -o size={size_kb}k tmpfs {disk} && {{ {command}; echo $? > {kept}/rc; "
              f"cp -a {disk}/. {kept}/; }}")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, kept


def _product_lines(stderr: str) -> list[str]:
    """The lines the product wrote (MediaPipe's glog lines, W0000/I0000..., are not ours)."""
    import re

    return [ln for ln in stderr.splitlines() if ln.strip() and not re.match(r"[IWEF]\d{4} ", ln)]


def _assert_one_full_disk_line(proc, kept: Path) -> str:
    """Exit 74 and one line of the product's saying the disk is full, no traceback; returns the line."""
    assert (kept / "rc").read_text().strip() == "74", proc.stderr
    assert "Traceback" not in proc.stderr
    lines = _product_lines(proc.stderr)
    assert len(lines) == 1 and "No space left" in lines[0], proc.stderr
    return lines[0]


def test_a_disk_that_fills_mid_run_ends_every_output_on_a_whole_line(tmp_path, tiny_model):
    disk = tmp_path / "disk"
    proc, kept = _run_on_small_disk(tmp_path, 48, [
        "--video", str(SINGLE_FACE), "--csv", str(disk / "a.csv"), "--jsonl", str(disk / "a.jsonl"),
        "--model", str(tiny_model), "-q", "--no-display"])
    assert str(disk) in _assert_one_full_disk_line(proc, kept)
    jsonl = (kept / "a.jsonl").read_bytes()
    csv = (kept / "a.csv").read_bytes()
    assert jsonl and jsonl.endswith(b"\n") and csv.endswith(b"\n")
    records = [json.loads(line) for line in jsonl.decode().splitlines()]  # every line whole
    assert 5 < len(records) < 72  # the disk filled part way
    assert [r["frame"] for r in records] == list(range(len(records)))
    width = len(csv.decode().splitlines()[0].split(","))
    assert all(len(row.split(",")) == width for row in csv.decode().splitlines())
    from realtime_affect.results import read_results

    rows = read_results(kept / "a.csv")
    assert len(rows) >= 1 and rows["frame"].max() <= 71


def test_a_parquet_output_on_a_full_disk_keeps_its_rows_readable(tmp_path, tiny_model):
    disk = tmp_path / "disk"
    proc, kept = _run_on_small_disk(tmp_path, 32, [
        "--video", str(SINGLE_FACE), "--parquet", str(disk / "a.parquet"), "--jsonl", str(disk / "a.jsonl"),
        "--model", str(tiny_model), "-q", "--no-display"])
    _assert_one_full_disk_line(proc, kept)
    assert (kept / "a.jsonl").read_bytes().endswith(b"\n")
    from realtime_affect.results import read_results

    # the Parquet file could not be finished on the full disk: its journal is read instead, whole batches only
    assert not (kept / "a.parquet").exists() and (kept / "a.parquet.partial").exists()
    rows = read_results(kept / "a.parquet")
    assert list(rows["frame"]) == sorted(rows["frame"])


def _long_clip(tmp_path: Path, loops: int = 12) -> Path:
    frames = decode_frames(SINGLE_FACE)
    return write_video(tmp_path / "long.mp4", frames * loops)


def test_every_output_of_a_killed_run_reads_back_to_its_last_frames(tmp_path, tiny_model):
    from realtime_affect.results import finish_partial, read_results

    clip = _long_clip(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.cli", "--video", str(clip),
                             "--csv", str(out / "a.csv"), "--jsonl", str(out / "a.jsonl"),
                             "--parquet", str(out / "a.parquet"), "--out", str(out / "a.mp4"),
                             "--model", str(tiny_model), "-q", "--no-display"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while csv_rows_so_far(out / "a.csv") < 150 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        before = csv_rows_so_far(out / "a.csv")
        time.sleep(3.0)  # longer than the Parquet journal's 2 s flush and the video's 2 s fragments
        assert proc.poll() is None, "the run ended before it could be killed: make the clip longer"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert before >= 150
    csv_rows = read_results(out / "a.csv")
    assert len(csv_rows) >= before
    records = [json.loads(line) for line in (out / "a.jsonl").read_text().splitlines()]
    assert len(records) >= before
    assert not (out / "a.parquet").exists()
    parquet_rows = read_results(out / "a.parquet")  # from the journal
    assert len(parquet_rows) >= before
    assert parquet_rows["frame"].tolist() == csv_rows["frame"].tolist()[:len(parquet_rows)]
    finish_partial(out / "a.parquet")
    assert not (out / "a.parquet.partial").exists()
    assert read_results(out / "a.parquet")["frame"].tolist() == parquet_rows["frame"].tolist()
    assert _frames_until_cut(out / "a.mp4") >= before - 90  # up to its last whole fragment (2 s)


def _frames_until_cut(path: Path) -> int:
    """Frames a player shows of a video whose writer was killed: up to where it is cut."""
    import av

    count = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                count += 1
    except av.error.FFmpegError:
        pass
    return count


def test_a_parquet_journal_left_by_a_killed_run_is_not_overwritten_by_the_next(tmp_path, tiny_model, cli):
    (tmp_path / "a.parquet.partial").write_bytes(b"rows of a killed run")
    proc = cli("--video", str(SINGLE_FACE), "--parquet", str(tmp_path / "a.parquet"), "--model", str(tiny_model))
    assert proc.returncode == 2 and "a.parquet.partial" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "a.parquet.partial").read_bytes() == b"rows of a killed run"
