"""Overlay renderer, JSON lines and annotated-video sinks, the camera source and live mode."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT
from helpers import PEXELS, SINGLE_FACE, decode_frames, read_csv, read_xwd, write_video

from realtime_affect.cli import main
from realtime_affect.types import Face, FaceResult, Frame, FrameResult, Prediction
from realtime_affect.ui.overlay import OverlayState, draw


def _result(box=(100, 80, 120, 140), va=(0.5, -0.5), au=0.9) -> FrameResult:
    frame = Frame(index=0, time_s=0.0, bgr=np.zeros((360, 640, 3), np.uint8))
    pred = Prediction(expression=np.eye(8, dtype=np.float32)[4] * 0.9 + 0.0125,
                      action_units=np.full(12, au, np.float32), valence_arousal=np.array(va, np.float32))
    face = Face(box=np.array(box, np.float32), landmarks=np.zeros((478, 3), np.float32))
    return FrameResult(frame, [FaceResult(3, face, pred, temporal=True)])


def _changed(a: np.ndarray, b: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> bool:
    return bool((a[y0:y1, x0:x1] != b[y0:y1, x0:x1]).any())


def _textured(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _faces_result(bgr: np.ndarray, boxes, au=0.9) -> FrameResult:
    faces = []
    for i, box in enumerate(boxes, start=1):
        pred = Prediction(expression=np.eye(8, dtype=np.float32)[4] * 0.9 + 0.0125,
                          action_units=np.full(12, au, np.float32), valence_arousal=np.array((0.5, -0.5), np.float32))
        face = Face(box=np.array(box, np.float32), landmarks=np.zeros((478, 3), np.float32))
        faces.append(FaceResult(i, face, pred, temporal=True))
    return FrameResult(Frame(index=0, time_s=0.0, bgr=bgr), faces)


def _inside_untouched(img: np.ndarray, frame: np.ndarray, box, border: int = 4) -> bool:
    x, y, w, h = (int(round(v)) for v in box)
    return not _changed(img, frame, x + border, y + border, x + w - border, y + h - border)


def test_overlay_draws_box_bars_chips_and_circumplex_beside_the_face():
    result = _result()
    blank = result.frame.bgr
    img = draw(blank, result, OverlayState(), fps=25.0, latency_ms=12.0)
    assert not (blank != 0).any(), "the input frame must not be modified"
    x, y, w, h = 100, 80, 120, 140
    assert _changed(img, blank, x - 1, y - 1, x + 3, y + h)  # box edge
    assert _changed(img, blank, x + w + 2, y, x + w + 40, y + 40)  # the face's panel starts right of the box
    assert _changed(img, blank, x, y - 20, x + 60, y - 2)  # its label just above the box
    assert _inside_untouched(img, blank, (x, y, w, h))
    assert _changed(img, blank, 0, 0, 60, 40)  # fps / latency text
    assert not _changed(img, blank, 450, 250, 640, 360)  # nothing far from the face


def test_overlay_panel_is_taller_with_active_aus_and_the_trail_grows():
    state = OverlayState()
    off, on = _result(au=0.1), _result(au=0.9)
    rows_changed = [int((draw(r.frame.bgr, r) != 0).any(axis=(1, 2)).sum()) for r in (off, on)]
    assert rows_changed[1] > rows_changed[0]  # AU chips add rows to the panel
    for v in np.linspace(-0.8, 0.8, 5):
        draw(off.frame.bgr, _result(va=(v, v)), state)
    assert len(state.trails[3]) == 5


@pytest.mark.parametrize("size", [(240, 320), (360, 640), (1080, 1920)])
@pytest.mark.parametrize("layout", ["centre", "right", "left", "two", "three"])
def test_overlay_and_dashboard_never_cover_a_face(size, layout):
    from realtime_affect.driver.dashboard import draw_dashboard
    from realtime_affect.driver.monitor import DriverState

    h, w = size
    boxes = {"centre": [(w * 0.3, h * 0.2, w * 0.4, h * 0.6)],
             "right": [(w * 0.55, h * 0.05, w * 0.4, h * 0.7)],
             "left": [(w * 0.02, h * 0.1, w * 0.35, h * 0.6)],
             "two": [(w * 0.05, h * 0.2, w * 0.3, h * 0.5), (w * 0.6, h * 0.1, w * 0.3, h * 0.5)],
             "three": [(w * 0.02, h * 0.02, w * 0.25, h * 0.4), (w * 0.4, h * 0.3, w * 0.2, h * 0.3),
                       (w * 0.72, h * 0.55, w * 0.25, h * 0.4)]}[layout]
    frame = _textured(h, w)
    result = _faces_result(frame, boxes)
    driver = DriverState(time_s=0.0, track_id=1, ear=0.1, eye_state="closed", closure_s=1.2,
                         active=["microsleep", "yawning"])
    for img in (draw(frame, result, OverlayState(), fps=30.0, latency_ms=9.0),
                draw_dashboard(frame, result, driver, OverlayState(), fps=30.0)):
        for box in boxes:
            assert _inside_untouched(img, frame, box, border=max(4, int(w / 320 * 3)))
        assert (img != frame).any(axis=2).mean() > 0.02  # panels were drawn somewhere


def test_overlay_grows_with_the_frame():
    small, large = _textured(360, 640), _textured(1080, 1920)
    changed = []
    for frame, box in ((small, (100, 80, 120, 140)), (large, (300, 240, 360, 420))):
        img = draw(frame, _faces_result(frame, [box]), OverlayState())
        changed.append(int((img != frame).any(axis=2).sum()))
    assert changed[1] > 4 * changed[0]  # 3x the size: panels about 9x the area


def test_jsonl_and_annotated_video_match_the_input(tmp_path, tiny_model):
    import av

    out_video, out_jsonl, out_csv = tmp_path / "a.mp4", tmp_path / "a.jsonl", tmp_path / "a.csv"
    assert main(["--video", str(SINGLE_FACE), "--jsonl", str(out_jsonl), "--out", str(out_video), "--csv",
                 str(out_csv), "--out-size", "input", "--model", str(tiny_model), "--no-display", "-q"]) == 0
    records = [json.loads(line) for line in out_jsonl.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(72))
    rows = read_csv(out_csv)
    assert sum(len(r["faces"]) for r in records) == len(rows)
    first = records[5]["faces"][0]
    assert set(first["expressions"]) >= {"neutral", "happiness"} and len(first["action_units"]) == 12
    with av.open(str(SINGLE_FACE)) as src, av.open(str(out_video)) as dst:
        src_times = [f.time for f in src.decode(video=0)]
        dst_frames = list(dst.decode(video=0))
    assert len(dst_frames) == len(src_times) == 72
    np.testing.assert_allclose([f.time for f in dst_frames], src_times, atol=1e-3)
    assert dst_frames[0].width == 640 and dst_frames[0].height == 360


def test_annotated_videos_of_small_inputs_are_drawn_large_enough_to_read(tmp_path, tiny_model):
    """A 480x854 phone clip: the default --out is drawn 720 px wide with text at the live window's size (about
    13 px capitals); --out-size input keeps 480x854 (and its text about 6 px)."""
    import av
    import cv2

    from realtime_affect.ui.layout import video_zoom

    phone = write_video(tmp_path / "phone.mp4", [cv2.resize(cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE), (480, 854))
                                                 for f in decode_frames(SINGLE_FACE, 20)])
    sizes = {}
    for mode in ("auto", "input"):
        out = tmp_path / f"{mode}.mp4"
        args = ["--video", str(phone), "--out", str(out), "--model", str(tiny_model), "--no-display", "-q"]
        assert main(args + ([] if mode == "auto" else ["--out-size", "input"])) == 0
        with av.open(str(out)) as dst:
            first = next(dst.decode(video=0))
            sizes[mode] = (first.width, first.height)
    assert sizes == {"auto": (720, 1281), "input": (480, 854)} or sizes == {"auto": (720, 1280), "input": (480, 854)}
    assert video_zoom(480, 854) == (1.5, 1.0) and video_zoom(1920, 1080) == (1.0, 1.0)
    assert video_zoom(480, 854, "input") == (1.0, 0.0)


class FakeCapture:
    """Stands in for cv2.VideoCapture: frames from a clip at a fixed rate, then a stall or the end."""

    def __init__(self, frames, fps: float = 30.0, stall: bool = False) -> None:
        self.frames, self.delay, self.stall, self.i = frames, 1.0 / fps, stall, 0

    def isOpened(self) -> bool:
        return True

    def set(self, *_):
        return True

    def read(self):
        if self.i >= len(self.frames):
            if self.stall:
                time.sleep(60)
            return False, None
        time.sleep(self.delay)
        self.i += 1
        return True, self.frames[self.i - 1]

    def release(self) -> None:
        self.i = len(self.frames)


def test_camera_source_keeps_only_the_newest_frame():
    from helpers import decode_frames

    from realtime_affect.sources import CameraSource

    frames = decode_frames(SINGLE_FACE, 30)
    got = []
    with CameraSource(0, capture=FakeCapture(frames, fps=200)) as cam:
        for frame in cam:
            time.sleep(0.03)  # a slow consumer
            got.append(frame)
    assert 0 < len(got) < 30  # frames were skipped, not queued
    assert cam.dropped > 0
    times = [f.time_s for f in got]
    assert times == sorted(times) and all(f.captured_at is not None for f in got)


def test_a_camera_that_stops_delivering_ends_the_stream():
    from helpers import decode_frames

    from realtime_affect.sources import CameraSource

    frames = decode_frames(SINGLE_FACE, 5)
    with CameraSource(0, capture=FakeCapture(frames, stall=True), stall_timeout_s=0.5) as cam:
        got = list(cam)
    assert 1 <= len(got) <= 5 and cam.truncated and "no frame" in cam.error


def test_live_analyzer_reports_each_frame_at_once_and_with_lookahead(tiny_model):
    from helpers import decode_frames

    from realtime_affect.analysis.session import RunningMode, open_session
    from realtime_affect.models.loader import open_model

    frames = [Frame(index=i, time_s=i / 30, bgr=img) for i, img in enumerate(decode_frames(SINGLE_FACE, 20))]
    with open_model(tiny_model) as model:
        for lookahead in (0, 3):
            with open_session(model, RunningMode.LIVE, lookahead=lookahead) as live:
                emitted = [len(live.process(f)) for f in frames]
                rest = live.flush()
            assert emitted == [0] * lookahead + [1] * (20 - lookahead)
            assert len(rest) == lookahead
    # faces are reported from the third frame (track birth), by the GRU


def test_camera_that_does_not_exist_is_one_line_exit_2(cli, tiny_model, tmp_path):
    proc = cli("--camera", "97", "--no-display", "--csv", str(tmp_path / "o.csv"), "--model", str(tiny_model))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "camera 97" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_camera_without_a_display_points_to_no_display(cli):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "realtime_affect.cli", "--camera", "0"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 2 and "--no-display" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.display
@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xwd") is None,
                    reason="needs Xvfb and xwd (apt-get install xvfb x11-apps)")
def test_live_window_under_xvfb_shows_the_overlay(tmp_path, tiny_model):
    """The real window on a virtual display: a video with a face, shown with overlays, screenshot checked."""
    display = ":97"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        env = {**os.environ, "DISPLAY": display}
        proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.cli", "--video", str(PEXELS),
                                 "--model", str(tiny_model), "-q"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        shot = tmp_path / "screen.xwd"
        found, width = 0, None
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None and found <= 200:
            time.sleep(1.0)
            subprocess.run(["xwd", "-root", "-silent", "-display", display, "-out", str(shot)], check=True,
                           timeout=30)
            px = read_xwd(shot)
            # the overlay's colour for track 1 (BGR 120, 255, 120)
            found = int(((px[..., 1] > 240) & (abs(px[..., 0].astype(int) - 120) < 20)
                         & (abs(px[..., 2].astype(int) - 120) < 20)).sum())
            if found > 200 and width is None and shutil.which("xwininfo"):
                info = subprocess.run(["xwininfo", "-display", display, "-name", "realtime-affect"],
                                      capture_output=True, text=True, timeout=30).stdout
                width = int(info.split("Width:")[1].split()[0]) if "Width:" in info else None
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130), stderr
        assert "Traceback" not in stderr
        assert found > 200, "no overlay visible in the window"
        if shutil.which("xwininfo"):  # the 640x360 clip shown at a readable size on the 1280x800 screen
            assert width is not None and width >= 1000, width
    finally:
        xvfb.terminate()


def test_python_api_iterates_videos_calls_back_and_takes_caller_frames(tiny_model):
    from helpers import decode_frames

    from realtime_affect import Analyzer

    seen = []
    with Analyzer(model=tiny_model) as analyzer:
        results = list(analyzer.video(SINGLE_FACE, callback=seen.append))
        assert len(results) == len(seen) == 72
        assert all(isinstance(r.faces[0].prediction.expression, np.ndarray) for r in results)
        assert results[10].faces[0].track_id == 1
        with analyzer.session() as session:
            out = [session.process(img, i / 30) for i, img in enumerate(decode_frames(SINGLE_FACE, 10))]
        assert [len(r.faces) for r in out][:2] == [0, 0] and all(len(r.faces) == 1 for r in out[2:])
        with analyzer.session() as session, pytest.raises(ValueError, match="BGR uint8"):
            session.process(np.zeros((4, 4), np.float32), 0.0)


def test_window_zoom_enlarges_small_frames_and_draws_readable_text():
    """The live window shows a 640x360 clip at about 1088x612 on a 1280x800 screen and draws its overlay at
    that size: boxes follow the zoom, and text is at least 12 pixels tall."""
    from realtime_affect.ui.layout import WINDOW_MIN_SCALE, window_zoom
    from realtime_affect.ui.overlay import text_panel

    zoom = window_zoom(640, 360, 1280, 800)
    assert 1.6 < zoom < 1.9 and 640 * zoom <= 1280 and 360 * zoom <= 800
    assert window_zoom(3840, 2160, 1280, 800) < 0.3  # 4K reduced to fit
    frame = np.zeros((360, 640, 3), np.uint8)
    face = Face(box=np.array([100, 50, 120, 150], np.float32), landmarks=np.zeros((478, 3), np.float32))
    pred = Prediction(np.eye(8, dtype=np.float32)[4], np.zeros(12, np.float32), np.zeros(2, np.float32))
    result = FrameResult(Frame(0, 0.0, frame, "x"), [FaceResult(1, face, pred)])
    out = draw(frame, result, zoom=zoom, min_scale=WINDOW_MIN_SCALE)
    assert out.shape[:2] == (round(360 * zoom), round(640 * zoom))
    from realtime_affect.ui.overlay import track_colour

    box_colour = np.all(np.abs(out.astype(int) - track_colour(1)) < 10, axis=2)
    ys, xs = np.nonzero(box_colour)
    assert abs(xs.min() - 100 * zoom) < 6 and abs(ys.max() - 200 * zoom) < 6
    ink = text_panel(["Happiness"], WINDOW_MIN_SCALE).image.max(axis=2) > 128
    rows = np.flatnonzero(ink.any(axis=1))
    assert rows.max() - rows.min() + 1 >= 12
    small = draw(frame, result)  # --out and the default: the input's size, as before
    assert small.shape == frame.shape
