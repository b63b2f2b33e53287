"""Every row says where the head and eyes point and how far to trust it: synthetic faces for each measure's
direction and edge, real clips for what a user sees in the CSV."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from conftest import ROOT
from helpers import PEXELS, SINGLE_FACE, SINGLE_JPG

from realtime_affect.faces.measures import EYE_POINTS, IRIS_CENTRES, gaze_angles, rotation_matrix
from realtime_affect.faces.quality import face_quality
from realtime_affect.faces.row_measures import RowMeasurer
from realtime_affect.sinks.csv_sink import MEASURE_COLUMNS
from realtime_affect.types import Face, FaceResult, Frame, FrameResult, Prediction

SHARED_DRIVER = ROOT.parent / "shared" / "media" / "driver"
_TEXTURE = np.random.default_rng(1).integers(40, 230, (480, 640, 3), dtype=np.uint8)


def landmarks(eye_open: float = 4.2, iris_dx: float = 0.0, scale: float = 1.0) -> np.ndarray:
    lms = np.zeros((478, 3), np.float32)
    for dx, (p1, p2, p3, p4, p5, p6), iris in zip((100.0, 160.0), EYE_POINTS, IRIS_CENTRES):
        pts = {p1: (dx, 100), p4: (dx + 30, 100), p2: (dx + 10, 100 - eye_open), p3: (dx + 20, 100 - eye_open),
               p5: (dx + 20, 100 + eye_open), p6: (dx + 10, 100 + eye_open), iris: (dx + 15 + iris_dx, 100)}
        for index, (x, y) in pts.items():
            lms[index, :2] = (x * scale, y * scale)
    return lms


def result(t: float, eye_open=4.2, yaw=0.0, box=(80, 60, 140, 160), fitted=True) -> FrameResult:
    face = Face(box=np.array(box, np.float32), landmarks=landmarks(eye_open), blendshapes=np.zeros(52, np.float32),
                pose=rotation_matrix(yaw, 0.0), fitted=fitted)
    pred = Prediction(np.full(8, 1 / 8, np.float32), np.zeros(12, np.float32), np.zeros(2, np.float32))
    return FrameResult(Frame(index=int(t * 30), time_s=t, bgr=_TEXTURE), [FaceResult(1, face, pred)])


def test_head_yaw_sign_and_gaze_follow_the_head_and_the_eyes():
    measurer = RowMeasurer()
    turned = measurer.measure(result(0.0, yaw=25.0)).faces[0].measures
    assert turned.head_yaw == pytest.approx(25.0, abs=0.01)
    straight = gaze_angles(landmarks(), 0.0, 0.0, ("left", "right"))
    right_eyes = gaze_angles(landmarks(iris_dx=4.0), 0.0, 0.0, ("left", "right"))
    left_eyes = gaze_angles(landmarks(iris_dx=-4.0), 0.0, 0.0, ("left", "right"))
    assert straight[0] == pytest.approx(0.0, abs=0.01) and straight[2]
    assert right_eyes[0] > 15 and left_eyes[0] < -15  # irises towards the image's right: the person's left
    assert gaze_angles(landmarks(iris_dx=4.0), 45.0, 0.0, ("left",)) == (45.0, 0.0, False)  # head alone


def test_eye_openness_blinks_and_unknown_eyes():
    measurer = RowMeasurer()
    rows = [measurer.measure(result(i / 30)).faces[0].measures for i in range(60)]
    rows += [measurer.measure(result(2 + i / 30, eye_open=0.3)).faces[0].measures for i in range(6)]
    rows += [measurer.measure(result(2.2 + i / 30)).faces[0].measures for i in range(3)]
    assert rows[59].eye_open_l > 0.9 and rows[62].eye_open_l < 0.1
    assert [i for i, r in enumerate(rows) if r.blink] == [66]  # the frame the 0.2 s closure ends
    unfitted = measurer.measure(result(3.0, fitted=False)).faces[0].measures
    assert math.isnan(unfitted.eye_open_l) and math.isnan(unfitted.gaze_yaw) is False
    assert "unfitted" in unfitted.quality_flags and unfitted.quality <= 0.4


def test_quality_is_lower_on_small_turned_blurred_or_cut_faces():
    sharp = _TEXTURE
    good, flags = face_quality(sharp, np.array([100, 100, 140, 160]), 5.0, True, False)
    assert good == 1.0 and flags == ""
    small, flags = face_quality(sharp, np.array([100, 100, 40, 50]), 5.0, True, False)
    assert small < 0.2 and "small" in flags
    turned, flags = face_quality(sharp, np.array([100, 100, 140, 160]), 60.0, True, False)
    assert turned < good and "profile" in flags
    import cv2

    photo, box = cv2.imread(str(SINGLE_JPG)), np.array([191, 177, 182, 221])  # the face in the test photo
    assert face_quality(photo, box, 5.0, True, False) == (1.0, "")
    blurred, flags = face_quality(cv2.GaussianBlur(photo, (0, 0), 3), box, 5.0, True, False)
    assert blurred < 0.3 and flags == "blurred"
    cut, flags = face_quality(sharp, np.array([560, 100, 140, 160]), 5.0, True, False)
    assert cut <= 0.5 and "occluded" in flags


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_csv_carries_the_measures_after_the_old_columns(cli, tmp_path):
    out = tmp_path / "out.csv"
    proc = cli("--video", str(SINGLE_FACE), "--csv", str(out), "--no-display")
    assert proc.returncode == 0, proc.stderr
    rows = _rows(out)
    assert tuple(list(rows[0])[-len(MEASURE_COLUMNS):]) == MEASURE_COLUMNS
    assert all(-30 < float(r["head_yaw"]) < 30 and 0.5 <= float(r["quality"]) <= 1 for r in rows)


def test_eyes_read_closed_through_real_closures_and_open_after(cli, tmp_path):
    """Pexels: her eyes are shut while she cries (about 0.7-5.6 s), open from about 6 s; 4-40 blinks a minute."""
    out = tmp_path / "out.csv"
    assert cli("--video", str(PEXELS), "--csv", str(out), "--no-display").returncode == 0
    rows = _rows(out)
    shut = [float(r["eye_open_l"]) for r in rows if 1.0 < float(r["time_s"]) < 5.0]
    awake = [float(r["eye_open_l"]) for r in rows if 7.0 < float(r["time_s"]) < 9.0]
    assert np.median(shut) < 0.1 and np.median(awake) > 0.8
    assert 1 <= sum(r["blink"] == "1" for r in rows) <= 13


@pytest.mark.skipif(not SHARED_DRIVER.is_dir(), reason="../shared/media/driver is not here")
def test_a_head_turned_to_the_persons_left_reads_positive_yaw(cli, tmp_path):
    """The night driver turns his head away to his left at the end (about 24.2 s on)."""
    clip = next(SHARED_DRIVER.glob("07_*"))
    out = tmp_path / "out.csv"
    assert cli("--video", str(clip), "--csv", str(out), "--no-display", "--max-faces", "1").returncode == 0
    rows = _rows(out)
    ahead = [float(r["head_yaw"]) for r in rows if 6.0 < float(r["time_s"]) < 9.0]
    away = [float(r["head_yaw"]) for r in rows if float(r["time_s"]) > 24.7 and r["head_yaw"]]
    assert abs(np.median(ahead)) < 10 and np.median(away) > 35
