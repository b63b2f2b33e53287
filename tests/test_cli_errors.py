"""Bad input never shows a traceback: one line, exit code 2; broken and interrupted runs keep their rows."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from helpers import PEXELS, SINGLE_FACE, SINGLE_JPG, decode_frames, read_csv, write_video


def _assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_file(cli, tmp_path, tiny_model):
    proc = cli("--video", str(tmp_path / "nope.mp4"), "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model))
    _assert_one_line_error(proc, "nope.mp4", "no such file")


def test_text_file_named_mp4(cli, tmp_path, tiny_model):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    proc = cli("--video", str(fake), "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model))
    _assert_one_line_error(proc, "notes.mp4", "not a readable video")


def test_zero_byte_file(cli, tmp_path, tiny_model):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    proc = cli("--video", str(empty), "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model))
    _assert_one_line_error(proc, "empty.mp4", "0 bytes")


def test_empty_image_folder(cli, tmp_path, tiny_model):
    folder = tmp_path / "photos"
    folder.mkdir()
    proc = cli("--images", str(folder), "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model))
    _assert_one_line_error(proc, "photos", "no images")


def test_corrupt_model_file(cli, tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x00" * 100)
    proc = cli("--video", str(SINGLE_FACE), "--csv", str(tmp_path / "o.csv"), "--model", str(bad))
    _assert_one_line_error(proc, "model.pt")


def test_existing_output_is_not_overwritten_without_asking(cli, tmp_path, tiny_model):
    out = tmp_path / "o.csv"
    out.write_text("keep me\n")
    proc = cli("--video", str(SINGLE_FACE), "--csv", str(out), "--model", str(tiny_model))
    _assert_one_line_error(proc, "already exists", "--overwrite")
    assert out.read_text() == "keep me\n"


def test_truncated_file_is_annotated_up_to_the_break(cli, tmp_path, tiny_model):
    frames = decode_frames(SINGLE_FACE)
    whole = write_video(tmp_path / "whole.mp4", frames, fps=30, faststart=True)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "o.csv"
    proc = cli("--video", str(cut), "--csv", str(out), "--model", str(tiny_model))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = read_csv(out)
    assert 10 < len(rows) < 72
    assert [int(r["frame"]) for r in rows] == list(range(len(rows)))


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_leaves_a_valid_csv_with_every_processed_frame(tmp_path, tiny_model, sig, code):
    out = tmp_path / "o.csv"
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.cli", "--video", str(PEXELS), "--csv", str(out),
                             "--model", str(tiny_model), "--no-display"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until rows are being written
        if out.exists() and len(out.read_text().splitlines()) > 40:
            break
        time.sleep(0.2)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    text = out.read_text()
    assert text.endswith("\n")
    rows = read_csv(out)
    assert 40 < len(rows) < 472
    frames = [int(r["frame"]) for r in rows]
    assert frames == list(range(len(rows)))  # every processed frame, no gap, no half row
    assert all(len(r) == len(rows[0]) and None not in r.values() for r in rows)


def test_single_image_and_image_folder(cli, tmp_path, tiny_model):
    import shutil

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(SINGLE_JPG, folder / "a.jpg")
    shutil.copy(SINGLE_JPG, folder / "b.jpg")
    (folder / "readme.txt").write_text("not an image")
    out = tmp_path / "o.csv"
    proc = cli("--images", str(folder), "--csv", str(out), "--model", str(tiny_model))
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out)
    assert [r["source"].rsplit("/", 1)[-1] for r in rows] == ["a.jpg", "b.jpg"]
    assert all(r["temporal"] == "0" and r["track_id"] == "1" for r in rows)
