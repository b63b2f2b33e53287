"""``--sample-fps``: about F analysed frames per second, chosen by timestamp, rows only for those frames."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from helpers import PEXELS, SINGLE_FACE
from realtime_affect.sources.sampling import sample_frames
from realtime_affect.types import Frame


def frames(times):
    return [Frame(index=i, time_s=t, bgr=np.zeros((2, 2, 3), np.uint8)) for i, t in enumerate(times)]


def kept(times, fps):
    return [f.time_s for f in sample_frames(frames(times), fps)]


def test_frames_are_chosen_by_timestamp_on_a_grid():
    assert kept([i / 30 for i in range(30)], 5) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8], abs=1e-9)
    assert len(kept([i / 30 for i in range(30)], None)) == 30
    jittery = [0.0, 0.03, 0.09, 0.1, 0.19, 0.21, 0.24, 0.33, 0.4, 0.41]  # variable frame rate
    assert kept(jittery, 5) == [0.0, 0.21, 0.4]
    gap = [0.0, 0.1, 0.2, 1.5, 1.6, 1.7, 1.8]  # a stall: no burst after it, the grid goes on
    assert kept(gap, 4) == [0.0, 1.5, 1.8]
    with pytest.raises(ValueError):
        list(sample_frames(frames([0.0]), 0))


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_affect_live_sample_fps_writes_rows_for_the_analysed_frames(cli, tmp_path):
    out = tmp_path / "s.csv"
    proc = cli("--video", str(PEXELS), "--csv", str(out), "--no-display", "--sample-fps", "5")
    assert proc.returncode == 0, proc.stderr
    rows = _rows(out)
    times = [float(r["time_s"]) for r in rows]
    assert 95 <= len(rows) <= 100  # 19.7 s at 5 per second
    assert np.median(np.diff(times)) == pytest.approx(0.2, abs=0.03)
    assert [int(r["frame"]) for r in rows[:3]] == [0, 5, 10]  # frame numbers of the input, not of the sample
    assert {r["track_id"] for r in rows} == {"1"}


@pytest.mark.parametrize("args", [["--video", str(SINGLE_FACE), "--sample-fps", "0"],
                                  ["--images", str(SINGLE_FACE.with_suffix(".jpg")), "--sample-fps", "5"]])
def test_bad_sample_rates_are_usage_errors(cli, tmp_path, args):
    proc = cli(*args, "--csv", str(tmp_path / "x.csv"), "--no-display")
    assert proc.returncode == 2 and "--sample-fps" in proc.stderr and "Traceback" not in proc.stderr
