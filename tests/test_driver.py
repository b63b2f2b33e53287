"""Driver monitoring: each threshold at its edge with synthetic signals, eye state that is right (looking down,
unknown eyes, a driver's own open level), and the real clips for false alarms."""
from __future__ import annotations

import json

import numpy as np
import pytest

from realtime_affect.driver.config import ConfigError, DriverConfig, load_config
from realtime_affect.driver.monitor import DriverMonitor
from realtime_affect.faces.landmarker import BLENDSHAPES
from realtime_affect.faces.measures import (
    EYE_POINTS,
    IRIS_CENTRES,
    eye_aspect_ratio,
    head_pose,
    mouth_aspect_ratio,
    rotation_matrix,
)
from realtime_affect.labels import EXPRESSIONS
from realtime_affect.types import Face, FaceResult, Frame, FrameResult, Prediction

FPS = 30.0
OPEN = 4.2  # EAR 0.28, an average open eye
SHUT = 0.3  # EAR 0.02
_TEXTURE = np.random.default_rng(0).integers(40, 230, (240, 320, 3), dtype=np.uint8)


def landmarks(eye_open: float = OPEN, mouth_open: float = 2.0) -> np.ndarray:
    """478 points where only the eyes, irises and mouth matter: EAR = eye_open / 15, MAR = mouth_open / 40."""
    lms = np.zeros((478, 3), np.float32)
    for dx, (p1, p2, p3, p4, p5, p6), iris in zip((100.0, 160.0), EYE_POINTS, IRIS_CENTRES):
        lms[p1, :2], lms[p4, :2] = (dx, 100), (dx + 30, 100)
        lms[p2, :2], lms[p3, :2] = (dx + 10, 100 - eye_open), (dx + 20, 100 - eye_open)
        lms[p5, :2], lms[p6, :2] = (dx + 20, 100 + eye_open), (dx + 10, 100 + eye_open)
        lms[iris, :2] = (dx + 15, 100)
    lms[61, :2], lms[291, :2] = (120, 160), (160, 160)
    lms[13, :2], lms[14, :2] = (140, 160 - mouth_open / 2), (140, 160 + mouth_open / 2)
    return lms


def frame_result(t: float, eye_open=OPEN, mouth_open=2.0, yaw=0.0, pitch=0.0, va=(0.1, 0.1), fitted=True,
                 shapes: dict | None = None, expression: str | None = None, sunglasses=False) -> FrameResult:
    blend = np.zeros(52, np.float32)
    for name, value in (shapes or {}).items():
        blend[BLENDSHAPES.index(name)] = value
    face = Face(box=np.array([80, 60, 120, 140], np.float32), landmarks=landmarks(eye_open, mouth_open),
                blendshapes=blend, pose=rotation_matrix(yaw, pitch), fitted=fitted)
    probs = np.full(8, 1 / 8, np.float32)
    if expression is not None:
        probs[:] = 0.1 / 7
        probs[EXPRESSIONS.index(expression)] = 0.9
    pred = Prediction(expression=probs, action_units=np.zeros(12, np.float32),
                      valence_arousal=np.array(va, np.float32))
    bgr = _TEXTURE.copy()
    if sunglasses:
        bgr[85:116, 92:200] = 12
    frame = Frame(index=int(round(t * FPS)), time_s=t, bgr=bgr)
    return FrameResult(frame, [FaceResult(1, face, pred, temporal=True)])


def run(monitor: DriverMonitor, seconds: float, start: float, **kw) -> list:
    return [monitor.update(frame_result(start + i / FPS, **kw)) for i in range(int(round(seconds * FPS)))]


def kinds(monitor: DriverMonitor) -> list[str]:
    return [e.kind for e in monitor.events]


def settled(seconds: float = 5.0) -> tuple[DriverMonitor, float]:
    """A monitor that has watched an attentive driver for a while (open level and road direction learnt)."""
    m = DriverMonitor()
    run(m, seconds, 0.0)
    assert m.events == []
    return m, seconds


def test_signals_from_landmarks_and_pose():
    assert eye_aspect_ratio(landmarks(5.0)) == pytest.approx(4 * 5 / 60)
    assert mouth_aspect_ratio(landmarks(mouth_open=30)) == pytest.approx(0.75)
    assert head_pose(rotation_matrix(40, -10, 5)) == pytest.approx((40, -10, 5), abs=1e-6)


@pytest.mark.parametrize("closed_s, expected", [(0.9, []), (1.1, ["microsleep"]), (2.9, ["microsleep"]),
                                                (3.1, ["microsleep", "sleep"])])
def test_closures_at_the_microsleep_and_sleep_edges(closed_s, expected):
    m, t = settled()
    run(m, closed_s, t, eye_open=SHUT)
    run(m, 2.0, t + closed_s)
    assert kinds(m) == expected
    for event in m.events:
        assert event.start_s == pytest.approx(t, abs=0.01)  # when the eyes closed, not when it was confirmed
    (closure,) = [c for c in m.closures if c.duration_s > 0.5]
    assert closure.duration_s == pytest.approx(closed_s, abs=0.04)
    if closed_s >= 3.0:  # the microsleep becomes sleep: it ends when sleep starts
        micro, sleep = m.events
        assert micro.end_s == pytest.approx(t + 3.0, abs=0.04) and sleep.end_s == pytest.approx(t + closed_s, abs=0.04)


@pytest.mark.parametrize("away_s, expected", [(2.9, []), (3.1, ["distracted"])])
def test_eyes_off_the_road_at_the_distraction_edge(away_s, expected):
    m, t = settled()
    run(m, away_s, t, yaw=45)
    run(m, 2.0, t + away_s)
    assert kinds(m) == expected
    if expected:
        (event,) = m.events
        assert event.start_s == pytest.approx(t, abs=0.01) and "left" in event.reason
        assert event.end_s == pytest.approx(t + away_s, abs=0.04)


def test_eyes_turned_down_with_the_head_straight_are_off_the_road():
    m, t = settled()
    states = run(m, 3.5, t, pitch=-30)
    assert states[-1].zone == "down" and kinds(m) == ["distracted"]


def test_visual_attention_time_sharing_accumulates_and_resets():
    m, t = settled()
    for _ in range(4):  # 2.5 s away, 0.5 s on the road: never 3 s at once, 10 s within 12 s
        run(m, 2.5, t, yaw=-45)
        run(m, 0.5, t + 2.5)
        t += 3.0
    assert kinds(m) == ["distracted_vats"]
    (event,) = m.events
    assert event.start_s == pytest.approx(5.0, abs=0.05) and event.end_s is None
    run(m, 31.0, t)  # back on the road: the 30 s window empties
    assert event.end_s is not None and event.end_s < t + 31.0
    assert kinds(m) == ["distracted_vats"]


@pytest.mark.parametrize("unknown_s, expected", [(9.0, []), (11.0, ["eyes_unavailable"])])
def test_eyes_unavailable_at_its_edge(unknown_s, expected):
    m, t = settled()
    states = run(m, unknown_s, t, fitted=False)
    run(m, 1.0, t + unknown_s)
    assert {s.eye_state for s in states} == {"unknown"}
    assert kinds(m) == expected


def test_sunglasses_make_the_eyes_unknown_never_closed():
    m, t = settled()
    states = run(m, 5.0, t, eye_open=SHUT, sunglasses=True)  # the mesh says shut, but nothing can be seen
    assert {s.eye_state for s in states} == {"unknown"}
    assert m.events == [] and states[-1].perclos == 0.0
    assert all(np.isnan(s.eye_open_left) and np.isnan(s.eye_open_right) for s in states)


def test_a_head_turned_beyond_sixty_degrees_hides_the_eyes():
    m, t = settled()
    state = run(m, 0.5, t, yaw=70, eye_open=SHUT)[-1]
    assert state.eye_state == "unknown" and state.zone == "left"


def test_looking_down_is_not_closing_and_never_vetoes_a_closure():
    m, t = settled()
    down = {"eyeLookDownLeft": 0.85, "eyeLookDownRight": 0.85}
    lowered = run(m, 2.0, t, eye_open=2.2, pitch=-10, shapes={**down, "eyeBlinkLeft": 0.3, "eyeBlinkRight": 0.3})
    assert {s.eye_state for s in lowered} == {"open"}
    closed = run(m, 1.5, t + 2.0, eye_open=SHUT, shapes={**down, "eyeBlinkLeft": 0.8, "eyeBlinkRight": 0.8})
    assert closed[-1].eye_state == "closed" and "microsleep" in closed[-1].active


FROWN = {"browDownLeft": 0.7, "browDownRight": 0.7, "eyeLookDownLeft": 0.85, "eyeLookDownRight": 0.85,
         "eyeBlinkLeft": 0.7, "eyeBlinkRight": 0.7}


@pytest.mark.parametrize("pitch, expected", [(-12.0, "closed"), (-30.0, "open")])
def test_a_frown_over_a_look_down_is_not_a_closure(pitch, expected):
    """Lids lowered to 0.15 open with the eyeBlink cue up: closed with the head at its usual pitch (within
    ``head_down_pitch``), open with the head pitched 30 degrees down (a look at the lap)."""
    m, t = settled()
    states = run(m, 2.0, t, eye_open=1.0, pitch=pitch, shapes=FROWN)
    assert {s.eye_state for s in states[5:]} == {expected}
    assert ("microsleep" in kinds(m)) == (expected == "closed")


def test_a_closure_with_the_head_bowed_is_still_a_closure():
    m, t = settled()
    states = run(m, 1.5, t, eye_open=SHUT, pitch=-35, shapes=FROWN)  # nodding off: the lids fully down
    assert states[-1].eye_state == "closed" and "microsleep" in states[-1].active


def test_a_camera_below_the_face_moves_the_usual_pitch():
    """A head always pitched 25 degrees (a camera mounted low): once learnt, a frown there reads as at the usual
    pose, and pitching a further 30 degrees down is a look down."""
    m = DriverMonitor()
    run(m, 6.0, 0.0, pitch=-25)
    frown = run(m, 1.0, 6.0, eye_open=1.0, pitch=-25, shapes=FROWN)
    assert frown[-1].eye_state == "closed"
    lap = run(m, 1.0, 7.0, eye_open=1.0, pitch=-55, shapes=FROWN)
    assert lap[-1].eye_state == "open"


def test_a_drivers_own_open_level_is_learnt():
    """Small eyes (EAR 0.16 open) read as open once learnt; their closures still read as closed."""
    m = DriverMonitor()
    states = run(m, 6.0, 0.0, eye_open=2.4)
    assert states[-1].eye_state == "open" and states[-1].eye_open_left > 0.8
    shut = run(m, 0.3, 6.0, eye_open=0.2)
    assert shut[-1].eye_state == "closed"


def test_blinks_give_rate_and_duration_and_raise_nothing():
    m = DriverMonitor()
    t = 0.0
    for _ in range(20):  # a 0.2 s blink every 3 s for a minute
        run(m, 2.8, t)
        run(m, 0.2, t + 2.8, eye_open=SHUT)
        t += 3.0
    state = run(m, 0.1, t)[-1]
    assert m.events == []
    assert 18 <= state.blinks_per_min <= 22 and state.blink_duration_s == pytest.approx(0.2, abs=0.04)
    assert state.perclos == pytest.approx(0.2 / 3.0, abs=0.02)


def test_perclos_needs_thirty_seconds_of_known_eyes():
    m = DriverMonitor(DriverConfig(microsleep_s=5.0))  # only PERCLOS can fire here
    t = 0.0
    for _ in range(14):  # eyes closed 0.8 s of every 2 s (PERCLOS 0.4) for 28 s
        run(m, 1.2, t)
        run(m, 0.8, t + 1.2, eye_open=SHUT)
        t += 2.0
    assert "drowsy" not in kinds(m)
    run(m, 10.0, t, fitted=False)  # unknown eyes add nothing
    assert "drowsy" not in kinds(m)
    t += 10.0
    for _ in range(2):
        run(m, 1.2, t)
        run(m, 0.8, t + 1.2, eye_open=SHUT)
        t += 2.0
    (event,) = [e for e in m.events if e.kind == "drowsy"]
    assert "PERCLOS" in event.reason and event.peak >= 0.15


def test_yawns_by_shape_and_duration_and_squeezed_eyes_are_not_a_microsleep():
    m, t = settled()
    for i in range(8):  # talking: the mouth opens for 0.3 s at a time
        run(m, 0.3, t, mouth_open=18)
        run(m, 0.3, t + 0.3)
        t += 0.6
    assert m.events == []
    run(m, 0.5, t, mouth_open=16)  # the yawn starts: opening
    run(m, 2.0, t + 0.5, mouth_open=32, eye_open=SHUT)  # wide, eyes squeezed shut for 2 s
    run(m, 1.0, t + 2.5, mouth_open=16)
    run(m, 1.0, t + 3.5)
    assert kinds(m) == ["yawning"]
    (yawn,) = m.events
    assert yawn.start_s == pytest.approx(t, abs=0.01) and yawn.peak == pytest.approx(0.8)
    assert [c.kind for c in m.closures if c.duration_s > 1] == ["yawn"]


def test_laughing_is_not_a_yawn_and_crying_with_shut_eyes_is_not_sleep():
    m, t = settled()
    run(m, 2.0, t, mouth_open=28, expression="happiness")
    run(m, 5.0, t + 2.0, eye_open=SHUT, expression="sadness")
    run(m, 1.0, t + 7.0)
    assert m.events == []
    assert [c.kind for c in m.closures] == ["expressive"]


def test_three_yawns_in_five_minutes_are_drowsiness():
    m, t = settled()
    for _ in range(3):
        run(m, 2.0, t, mouth_open=32)
        run(m, 20.0, t + 2.0)
        t += 22.0
    drowsy = [e for e in m.events if e.kind == "drowsy"]
    assert len(drowsy) == 1 and "3 yawns" in drowsy[0].reason


def test_unresponsive_after_six_seconds_without_eyes_on_the_road():
    m, t = settled()
    run(m, 3.5, t, yaw=45)
    run(m, 3.0, t + 3.5, eye_open=SHUT, yaw=45)
    assert "unresponsive" in kinds(m)
    (event,) = [e for e in m.events if e.kind == "unresponsive"]
    assert event.start_s == pytest.approx(t, abs=0.01)


def test_sustained_agitation():
    m, t = settled()
    run(m, 12.0, t, va=(-0.6, 0.7))
    run(m, 2.0, t + 12.0)
    (event,) = m.events
    assert event.kind == "agitated" and event.start_s == pytest.approx(t, abs=0.01)


def test_the_subject_can_be_chosen():
    big = frame_result(0.0)
    small_face = Face(box=np.array([250, 10, 40, 40], np.float32), landmarks=landmarks())
    big.faces.append(FaceResult(7, small_face, big.faces[0].prediction))
    assert DriverMonitor(DriverConfig(subject="largest")).pick_subject(big).track_id == 1
    assert DriverMonitor(DriverConfig(subject="7")).pick_subject(big).track_id == 7
    assert DriverMonitor(DriverConfig(subject="central")).pick_subject(big).track_id == 1


def test_no_face_gives_a_row_with_unknown_eyes():
    m, t = settled()
    state = m.update(FrameResult(Frame(index=0, time_s=t, bgr=_TEXTURE), []))
    assert state.track_id is None and state.eye_state == "unknown" and state.zone == "unknown"


def test_config_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"microsleep_s": 1.5, "yawns_drowsy": 4, "subject": "central",
                                                 "road_direction": [20, -5]}))
    config = load_config(tmp_path / "a.json")
    assert (config.microsleep_s, config.yawns_drowsy, config.subject, config.road_direction) == \
        (1.5, 4, "central", (20.0, -5.0))
    (tmp_path / "b.toml").write_text("distracted_s = 2.5\n")
    assert load_config(tmp_path / "b.toml").distracted_s == 2.5
    (tmp_path / "c.json").write_text('{"microsleeps": 2}')
    with pytest.raises(ConfigError, match="unknown setting 'microsleeps'"):
        load_config(tmp_path / "c.json")
    (tmp_path / "d.json").write_text('{"sleep_s": "long"}')
    with pytest.raises(ConfigError, match="sleep_s must be a number"):
        load_config(tmp_path / "d.json")


def test_dashboard_shows_unknown_eyes_the_zone_and_event_banners():
    from realtime_affect.driver.dashboard import draw_dashboard
    from realtime_affect.driver.monitor import DriverState
    from realtime_affect.ui.overlay import OverlayState

    result = frame_result(0.0)
    blank = np.zeros_like(result.frame.bgr)
    result.frame.bgr = blank
    state = DriverState(time_s=0.0, track_id=1, eye_state="unknown", zone="down", active=["yawning", "microsleep"])
    img = draw_dashboard(blank, result, state, OverlayState())
    x, y, w, h = (int(v) for v in result.faces[0].face.box)
    assert (img[5:200, -240:] != 0).any()  # the panel
    assert (img[:, 0] == (0, 0, 255)).all(axis=1).mean() > 0.9  # red border: microsleep is the most urgent
    inside = img[y + 8:y + h - 8, x + 8:x + w - 8]
    assert (inside == 0).all()  # nothing drawn over the face


def test_eye_settings_in_a_config_file_flat_or_as_a_table(tmp_path):
    (tmp_path / "e.json").write_text(json.dumps({"closed_below": 0.25, "eyes": {"blink_cue": 0.7}, "sleep_s": 4}))
    config = load_config(tmp_path / "e.json")
    assert (config.eyes.closed_below, config.eyes.blink_cue, config.sleep_s) == (0.25, 0.7, 4.0)
    (tmp_path / "f.json").write_text(json.dumps({"eyes": {"closed_under": 0.3}}))
    with pytest.raises(ConfigError, match="unknown eye setting 'closed_under'"):
        load_config(tmp_path / "f.json")


def test_dark_lenses_with_reflections_still_hide_the_eyes():
    m, t = settled()
    frame = frame_result(t, eye_open=SHUT)
    bgr = _TEXTURE.copy()
    lens = np.full((31, 108, 3), 20, np.uint8)
    lens[11:13, 30:34] = 230  # a highlight: the lens is dark but no longer flat
    bgr[85:116, 92:200] = lens
    frame.frame.bgr = bgr
    state = m.update(frame)
    assert state.eye_state == "unknown"


def test_a_squint_the_blink_cue_calls_closed_raises_no_alarm_and_is_open_for_perclos():
    m, t = settled()
    squint = {"eyeBlinkLeft": 0.7, "eyeBlinkRight": 0.7, "eyeSquintLeft": 0.8, "eyeSquintRight": 0.8}
    states = run(m, 2.0, t, eye_open=1.7, shapes=squint)  # openness about 0.3: narrowed, not shut
    run(m, 1.0, t + 2.0)
    assert states[-1].eye_state == "closed" and m.events == []
    assert [c.kind for c in m.closures] == ["squint"] and states[-1].perclos == 0.0


def test_the_monitor_reads_the_eye_state_the_rows_measured():
    """One eye estimator, configured once: rows measured with other eye options (a run's ``AnalyzerOptions.eyes``)
    give the driver their state, not one of its own; unmeasured results are measured with ``DriverConfig.eyes``."""
    from realtime_affect.faces.eyes import EyeOptions
    from realtime_affect.faces.row_measures import RowMeasurer

    strict = RowMeasurer(EyeOptions(open_level_prior=2.0))  # an open level no eye reaches: every eye reads closed
    measured = [strict.measure(frame_result(i / FPS)) for i in range(10)]
    monitor = DriverMonitor()
    states = [monitor.update(r) for r in measured]
    assert {r.faces[0].measures.eye_state for r in measured} == {"closed"}
    assert {s.eye_state for s in states} == {"closed"}
    own = [DriverMonitor().update(frame_result(i / FPS)) for i in range(10)][-1:]
    unmeasured = DriverMonitor()
    assert [unmeasured.update(frame_result(i / FPS)).eye_state for i in range(10)][-1] == "open" == own[0].eye_state


def test_held_times_a_condition_from_its_first_true_frame_and_resets_when_false():
    from realtime_affect.driver.monitor import _Held

    held = _Held()
    assert held.update(False, 0.0) == 0.0 and held.since is None
    assert held.update(True, 1.0) == 0.0 and held.since == 1.0
    assert held.update(True, 2.5) == 1.5
    assert held.update(False, 2.6) == 0.0 and held.since is None
    assert held.update(True, 3.0) == 0.0 and held.since == 3.0


def _open_mouth(m: DriverMonitor, start: float, seconds: float, **shapes: float) -> list:
    """A wide mouth (MAR 0.6) held for ``seconds`` with these blendshapes (jawOpen 0.8)."""
    return run(m, seconds, start, mouth_open=24.0, shapes={"jawOpen": 0.8, **shapes})


@pytest.mark.parametrize("wide, yawn", [(0.05, True), (0.07, False)])
def test_widened_eyes_make_a_wide_mouth_surprise_not_a_yawn(wide, yawn):
    m, t = settled()
    _open_mouth(m, t, 2.0, eyeWideLeft=wide, eyeWideRight=wide)
    run(m, 1.0, t + 2.0)
    assert ("yawning" in kinds(m)) is yawn


@pytest.mark.parametrize("brow, eye_open, yawn", [(0.34, OPEN, True), (0.36, OPEN, False), (0.6, 2.4, True)])
def test_raised_brows_over_open_eyes_are_surprise_over_narrowed_eyes_a_yawn(brow, eye_open, yawn):
    """eye_open 2.4 is about half this driver's open level: narrowed, as in a yawn."""
    m, t = settled()
    run(m, 2.0, t, mouth_open=24.0, eye_open=eye_open,
        shapes={"jawOpen": 0.8, "browOuterUpLeft": brow, "browOuterUpRight": brow})
    run(m, 1.0, t + 2.0)
    assert ("yawning" in kinds(m)) is yawn


def test_three_surprised_faces_raise_no_yawn_and_no_drowsiness():
    m, t = settled()
    for _ in range(3):
        _open_mouth(m, t, 2.0, eyeWideLeft=0.3, eyeWideRight=0.3, browOuterUpLeft=0.7, browOuterUpRight=0.7)
        run(m, 3.0, t + 2.0)
        t += 5.0
    assert kinds(m) == []


def test_an_open_frame_inside_a_squeeze_does_not_split_the_closure():
    m, t = settled()
    run(m, 0.5, t, eye_open=SHUT)
    run(m, 1 / FPS, t + 0.5)  # one frame reads open (under closure_reopen_s)
    run(m, 0.4, t + 0.5 + 1 / FPS, eye_open=SHUT)
    run(m, 1.0, t + 0.9 + 1 / FPS)
    long = [c for c in m.closures if c.duration_s > 0.1]
    assert len(long) == 1 and long[0].duration_s == pytest.approx(0.9 + 1 / FPS, abs=0.04)
    m2, t2 = settled()
    run(m2, 0.3, t2, eye_open=SHUT)
    run(m2, 0.2, t2 + 0.3)  # open for 0.2 s: the closure has ended
    run(m2, 0.3, t2 + 0.5, eye_open=SHUT)
    run(m2, 1.0, t2 + 0.8)
    assert len([c for c in m2.closures if c.duration_s > 0.1]) == 2


def test_a_yawns_squeezed_eyes_are_no_blinks():
    m, t = settled()
    states = _open_mouth(m, t, 1.0)
    for i in range(4):  # the eyes squeeze shut and open during the yawn: none of it is a blink
        states += run(m, 0.2, t + 1.0 + 0.4 * i, mouth_open=24.0, eye_open=SHUT, shapes={"jawOpen": 0.8})
        states += run(m, 0.2, t + 1.2 + 0.4 * i, mouth_open=24.0, shapes={"jawOpen": 0.8})
    states += run(m, 1.0, t + 2.6)
    assert "yawning" in kinds(m)
    assert not any(s.blink for s in states) and {c.kind for c in m.closures if c.start_s >= t} == {"yawn"}


def test_blink_min_s_turns_one_frame_closures_into_flickers():
    m, t = settled()
    m.config.blink_min_s = 0.06
    run(m, 1 / FPS, t, eye_open=SHUT)
    states = run(m, 0.5, t + 1 / FPS)
    assert [c.kind for c in m.closures] == ["flicker"] and not any(s.blink for s in states)
    m2, t2 = settled()
    run(m2, 1 / FPS, t2, eye_open=SHUT)
    assert any(s.blink for s in run(m2, 0.5, t2 + 1 / FPS))  # by default a one-frame closure is a blink


def test_a_yawning_subject_is_labelled_yawning_not_by_its_expression(monkeypatch):
    """The expression model has no yawn (a yawn reads as anger): the dashboard says what the monitor knows."""
    from realtime_affect.driver import dashboard
    from realtime_affect.driver.monitor import DriverState
    from realtime_affect.ui.overlay import OverlayState, _label

    seen = {}
    monkeypatch.setattr(dashboard, "draw", lambda *a, **kw: seen.update(kw) or a[0])
    result = frame_result(0.0, expression="anger")
    for yawn, expected in ((True, {1: "yawning"}), (False, None)):
        dashboard.draw_dashboard(result.frame.bgr, result, DriverState(time_s=0.0, track_id=1, yawn=yawn),
                                 OverlayState())
        assert seen["labels"] == expected
    face = result.faces[0]
    assert _label(face, {1: "yawning"}) == "#1 yawning" and _label(face).startswith("#1 anger")
