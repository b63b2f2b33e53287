"""Driver monitoring: synthetic landmark sequences for each event, and the real clips for false alarms."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from helpers import PEXELS, SINGLE_FACE
from realtime_affect.driver.monitor import DriverConfig, DriverMonitor
from realtime_affect.driver.signals import (EYE_POINTS, eye_aspect_ratio, head_pose, mouth_aspect_ratio,
                                            rotation_matrix)
from realtime_affect.types import Face, FaceResult, Frame, FrameResult, Prediction

FPS = 30.0


def landmarks(eye_open: float = 5.0, mouth_open: float = 2.0) -> np.ndarray:
    """478 points where only the eyes and mouth matter: EAR = 4 * eye_open / 60, MAR = mouth_open / 40."""
    lms = np.zeros((478, 3), np.float32)
    for dx, (p1, p2, p3, p4, p5, p6) in zip((100.0, 160.0), EYE_POINTS):
        lms[p1, :2], lms[p4, :2] = (dx, 100), (dx + 30, 100)
        lms[p2, :2], lms[p3, :2] = (dx + 10, 100 - eye_open), (dx + 20, 100 - eye_open)
        lms[p5, :2], lms[p6, :2] = (dx + 20, 100 + eye_open), (dx + 10, 100 + eye_open)
    lms[61, :2], lms[291, :2] = (120, 160), (160, 160)
    lms[13, :2], lms[14, :2] = (140, 160 - mouth_open / 2), (140, 160 + mouth_open / 2)
    return lms


def frame_result(t: float, eye_open=5.0, mouth_open=2.0, yaw=0.0, pitch=0.0, va=(0.1, 0.1)) -> FrameResult:
    face = Face(box=np.array([80, 60, 120, 140], np.float32), landmarks=landmarks(eye_open, mouth_open),
                blendshapes=np.zeros(52, np.float32), pose=rotation_matrix(yaw, pitch), track_id=1)
    pred = Prediction(expression=np.full(8, 1 / 8, np.float32), action_units=np.zeros(12, np.float32),
                      valence_arousal=np.array(va, np.float32))
    frame = Frame(index=int(round(t * FPS)), time_s=t, bgr=np.zeros((240, 320, 3), np.uint8))
    return FrameResult(frame, [FaceResult(1, face, pred, temporal=True)])


def run(monitor: DriverMonitor, seconds: float, start: float, **kw) -> list:
    states = []
    for i in range(int(seconds * FPS)):
        states.append(monitor.update(frame_result(start + i / FPS, **kw)))
    return states


def test_signals_from_landmarks_and_pose():
    assert eye_aspect_ratio(landmarks(5.0)) == pytest.approx(4 * 5 / 60)
    assert mouth_aspect_ratio(landmarks(mouth_open=30)) == pytest.approx(0.75)
    yaw, pitch, roll = head_pose(rotation_matrix(40, -10, 5))
    assert (yaw, pitch, roll) == pytest.approx((40, -10, 5), abs=1e-6)


def test_closed_eyes_raise_drowsiness_after_the_configured_time_and_clear_with_hysteresis():
    m = DriverMonitor(DriverConfig(long_closure_s=1.0, off_s=1.0))
    run(m, 5.0, 0.0)  # calm, eyes open
    assert m.events == []
    closed = run(m, 2.0, 5.0, eye_open=0.5)
    start = next(s.time_s for s in closed if "drowsy" in s.active)
    assert 5.95 <= start <= 6.1  # raised 1.0 s after the eyes closed
    reopened = run(m, 3.0, 7.0)
    assert "drowsy" in reopened[int(0.5 * FPS)].active  # still on 0.5 s after reopening (hysteresis)
    assert "drowsy" not in reopened[-1].active
    (event,) = m.events
    assert event.kind == "drowsy" and event.end_s == pytest.approx(8.0, abs=0.05)


def test_blinks_are_counted_but_do_not_raise_drowsiness():
    m = DriverMonitor()
    t = 0.0
    for _ in range(20):  # a 0.2 s blink every 3 s for a minute
        run(m, 2.8, t)
        run(m, 0.2, t + 2.8, eye_open=0.5)
        t += 3.0
    state = run(m, 0.1, t)[-1]
    assert m.events == []
    assert 15 <= state.blinks_per_min <= 25 and state.perclos < 0.1


def test_perclos_over_the_window_raises_drowsiness():
    m = DriverMonitor(DriverConfig(long_closure_s=5.0))  # only PERCLOS can fire here
    t = 0.0
    for _ in range(15):  # eyes closed 0.8 s of every 2 s: PERCLOS 0.4
        run(m, 1.2, t)
        run(m, 0.8, t + 1.2, eye_open=0.5)
        t += 2.0
    assert any(e.kind == "drowsy" and "PERCLOS" in e.reason for e in m.events)


def test_a_turned_away_head_raises_distraction_and_a_glance_does_not():
    m = DriverMonitor()
    run(m, 2.0, 0.0)
    run(m, 1.0, 2.0, yaw=45)  # a 1 s glance: too short
    run(m, 2.0, 3.0)
    assert m.events == []
    run(m, 3.0, 5.0, yaw=-45)
    run(m, 2.0, 8.0)
    (event,) = m.events
    assert event.kind == "distracted" and event.start_s == pytest.approx(7.0, abs=0.05)
    assert event.end_s == pytest.approx(9.0, abs=0.05)
    assert "yaw -45" in event.reason


def test_yawns_and_sustained_agitation():
    m = DriverMonitor()
    run(m, 3.0, 0.0, mouth_open=32)  # MAR 0.8 for 3 s
    run(m, 2.0, 3.0)
    run(m, 12.0, 5.0, va=(-0.6, 0.7))
    run(m, 2.0, 17.0)
    kinds = [(e.kind, round(e.start_s, 1)) for e in m.events]
    assert kinds == [("yawning", 1.5), ("agitated", 15.0)]


def test_the_subject_can_be_chosen():
    big = frame_result(0.0)
    small_face = Face(box=np.array([250, 10, 40, 40], np.float32), landmarks=landmarks(), track_id=7)
    big.faces.append(FaceResult(7, small_face, big.faces[0].prediction))
    assert DriverMonitor(DriverConfig(subject="largest")).pick_subject(big).track_id == 1
    assert DriverMonitor(DriverConfig(subject="7")).pick_subject(big).track_id == 7
    assert DriverMonitor(DriverConfig(subject="central")).pick_subject(big).track_id == 1


@pytest.mark.parametrize("clip", [PEXELS, SINGLE_FACE], ids=lambda p: p.name)
def test_nothing_fires_on_the_real_clips(clip):
    from realtime_affect import Analyzer

    monitor = DriverMonitor()
    with Analyzer() as analyzer:
        for result in analyzer.video(clip):
            monitor.update(result)
    assert monitor.finish(result.time_s) == []


def test_demo_writes_events_video_and_a_summary(tmp_path):
    events, video = tmp_path / "events.jsonl", tmp_path / "dash.mp4"
    proc = subprocess.run([sys.executable, "examples/driver_monitoring.py", "--video", str(SINGLE_FACE), "--events",
                           str(events), "--out", str(video), "--no-display"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "summary: 72 frames" in proc.stdout and "drowsy" in proc.stdout
    assert events.exists() and all(json.loads(line) for line in events.read_text().splitlines())
    import av

    with av.open(str(video)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 72


def test_dashboard_draws_the_panel_and_event_border():
    from realtime_affect.driver.dashboard import draw_dashboard
    from realtime_affect.driver.monitor import DriverState
    from realtime_affect.ui.overlay import OverlayState

    result = frame_result(0.0)
    state = DriverState(time_s=0.0, track_id=1, ear=0.1, eyes_closed=True, active=["drowsy"])
    img = draw_dashboard(result.frame.bgr, result, state, OverlayState())
    assert (img[5:160, -220:] != 0).any()  # the panel
    assert (img[:, 0] == (0, 0, 255)).all(axis=1).mean() > 0.9  # red border while drowsy
