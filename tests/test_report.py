"""affect-report on a multi-face clip: a PNG with one row of panels per track, a self-contained HTML page."""
from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from helpers import build_grid_video, read_csv
from realtime_affect.cli import main as live
from realtime_affect.report.cli import main as report


@pytest.fixture(scope="module")
def grid_results(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("report")
    video, _ = build_grid_video(folder / "grid.mp4", frames=48)
    csv = folder / "grid.csv"
    assert live(["--video", str(video), "--csv", str(csv), "--model", str(tiny_model), "--no-display", "-q"]) == 0
    return video, csv


def _png(data: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def test_png_report_has_a_row_per_track_and_is_not_blank(tmp_path, grid_results):
    video, csv = grid_results
    tracks = {r["track_id"] for r in read_csv(csv)}
    assert len(tracks) == 3
    one = tmp_path / "one.csv"
    lines = csv.read_text().splitlines()
    one.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if ln.split(",")[2] == "1"]) + "\n")
    out, out1 = tmp_path / "r.png", tmp_path / "r1.png"
    assert report([str(csv), "--video", str(video), "--out", str(out)]) == 0
    assert report([str(one), "--out", str(out1)]) == 0
    img, img1 = _png(out.read_bytes()), _png(out1.read_bytes())
    assert img.std() > 20 and img1.std() > 20  # drawn, not blank
    # one row of panels per track: three rows are about three times as tall as one
    assert 2.4 < (img.shape[0] - 66) / (img1.shape[0] - 66) < 3.4
    assert img.shape[1] > img1.shape[1]  # the thumbnail column, with --video


def test_html_report_is_self_contained(tmp_path, grid_results):
    video, csv = grid_results
    out = tmp_path / "r.html"
    assert report([str(csv), "--video", str(video), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("<section>") == 3
    assert "<script" not in page and not re.search(r"(src|href)=['\"]?(https?:|//)", page)
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) == 3 and all(_png(base64.b64decode(i)).std() > 20 for i in images)
    assert "share of time" in page


def test_report_refuses_bad_arguments_with_one_line(tmp_path, grid_results, capsys):
    _, csv = grid_results
    assert report([str(csv), "--out", str(tmp_path / "r.pdf")]) == 2
    assert report([str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r.png")]) == 2
    assert report([str(csv), "--out", str(csv)]) == 2  # never overwrite the input
    err = capsys.readouterr().err
    assert err.count("affect-report: error:") == 3 and "Traceback" not in err
