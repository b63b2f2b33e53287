"""The dashboard in a real browser (headless Chromium over the DevTools protocol; skipped where Chromium is not
installed): the live view of the server's video with its overlay on the face and filled plots, a visitor's
camera (Chromium's fake camera playing a clip) analysed on the server, and the replay of the finished file.
Screenshots are checked for what a person would see."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("websockets")
from browser import Browser, chromium_path, write_y4m  # noqa: E402
from helpers import free_port  # noqa: E402

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed (apt install chromium)")
DATA = Path(__file__).resolve().parent / "data"


class Served:
    """``affect-serve`` in its own process, as a user starts it."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.serve.cli", *args, "--port",
                                      str(self.port)], stderr=subprocess.PIPE, text=True, cwd=cwd)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"affect-serve did not start: {self.proc.stderr.read()}") from None
                time.sleep(0.1)
        self.url = f"http://127.0.0.1:{self.port}/"

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return err


def _rect(browser: Browser, element: str) -> tuple[float, float, float, float]:
    return tuple(browser.evaluate(f"(() => {{const r = document.getElementById('{element}').getBoundingClientRect();"
                                  f" return [r.left, r.top, r.width, r.height]; }})()"))


def box_on_screen(browser: Browser) -> tuple[float, float, float, float]:
    """Where the newest message's first face box is on the screen (x0, y0, x1, y1)."""
    left, top, width, _ = _rect(browser, "view")
    m = browser.evaluate("affect.lastMessage")
    s = width / m["width"]
    x, y, w, h = m["faces"][0]["box"]
    return left + x * s, top + y * s, left + (x + w) * s, top + (y + h) * s


def drawn_box(shot: np.ndarray, rect) -> tuple[float, float, float, float] | None:
    """Bounding box of track 1's box colour (#ff6b6b) inside ``rect`` of a screenshot."""
    left, top, width, height = (int(round(v)) for v in rect)
    part = shot[top:top + height, left:left + width].astype(int)
    b, g, r = part[..., 0], part[..., 1], part[..., 2]
    mask = (r > 215) & (abs(g - 107) < 40) & (abs(b - 107) < 40)
    if mask.sum() < 50:
        return None
    ys, xs = np.nonzero(mask)
    return left + xs.min(), top + ys.min(), left + xs.max(), top + ys.max()


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def plotted_pixels(shot: np.ndarray, rect) -> int:
    """Coloured pixels in a plot's drawing area (the axes and legend are left out)."""
    left, top, width, height = (int(round(v)) for v in rect)
    scale = width / 560
    part = shot[top:top + height, left + int(36 * scale):left + width - int(98 * scale)].astype(int)
    return int(((part.max(axis=2) - part.min(axis=2)) > 80).sum())


def test_live_view_draws_the_box_on_the_face_and_fills_the_plots(tmp_path):
    served = Served("--video", str(DATA / "WolfgangLanger_Pexels.mp4"), "--no-browser-camera", cwd=tmp_path)
    try:
        with Browser() as browser:
            browser.open(served.url)
            browser.wait_for("window.affect && affect.frames > 40 && affect.faces > 0", timeout=60)
            shot = browser.screenshot(tmp_path / "live.png")
            expected = box_on_screen(browser)
            drawn = drawn_box(shot, _rect(browser, "view"))
            assert drawn is not None, "no face box drawn on the video"
            assert iou(drawn, expected) > 0.6, (drawn, expected)
            assert plotted_pixels(shot, _rect(browser, "plot-expressions")) > 300
            assert plotted_pixels(shot, _rect(browser, "plot-va")) > 40
            assert browser.evaluate("affect.mode") == "server" and browser.evaluate("affect.errors") == []
            reading = browser.evaluate("document.getElementById('readings').textContent")
            assert reading.startswith("#1 ") and "valence" in reading
            browser.evaluate("document.getElementById('record').click()")  # record a stretch from the page
            browser.wait_for("document.getElementById('record-status').textContent.startsWith('recording to')",
                             timeout=30)
            time.sleep(1.5)
            browser.evaluate("document.getElementById('record').click()")
            saved = browser.wait_for("(t => t.startsWith('saved') && t)(document.getElementById('record-status')"
                                     ".textContent)", timeout=30)
            recorded = tmp_path / "recordings" / saved.split()[1]
            assert recorded.suffix == ".csv" and recorded.with_suffix(".mp4").is_file()
            from realtime_affect.results import read_results

            assert len(read_results(recorded)) >= 10  # about 1.5 s of the clip at 24 fps, one face
            options = browser.evaluate("[...document.getElementById('replay-list').options].map(o => o.value)")
            assert recorded.name in options
            browser.evaluate("document.getElementById('layer-boxes').click()")  # the boxes layer off
            frames = browser.evaluate("affect.frames")
            browser.wait_for(f"affect.frames > {frames + 3}", timeout=30)
            assert drawn_box(browser.screenshot(tmp_path / "no_boxes.png"), _rect(browser, "view")) is None
    finally:
        served.stop()


def test_browser_camera_is_analysed_on_the_server_and_answered(tmp_path):
    clip = write_y4m(DATA / "WolfgangLanger_Pexels.mp4", tmp_path / "camera.y4m", seconds=4)
    served = Served(cwd=tmp_path)  # only visitors' cameras
    try:
        with Browser(fake_camera=clip) as browser:
            browser.open(served.url)
            browser.wait_for("window.affect && affect.frames > 15 && affect.faces > 0", timeout=60)
            assert browser.evaluate("affect.mode") == "camera"
            assert browser.evaluate("affect.source").startswith("browser-")
            latencies = browser.evaluate("affect.latencies")
            assert len(latencies) >= 15 and all(0 < v < 5000 for v in latencies)
            shot = browser.screenshot(tmp_path / "camera.png")
            drawn = drawn_box(shot, _rect(browser, "view"))
            assert drawn is not None and iou(drawn, box_on_screen(browser)) > 0.5
            assert browser.evaluate("affect.errors") == []
    finally:
        served.stop()


def test_a_finished_file_is_offered_for_replay_with_a_scrub_bar(tmp_path):
    served = Served("--video", str(DATA / "single_face.mp4"), "--fast", "--no-browser-camera", cwd=tmp_path)
    try:
        with Browser() as browser:
            browser.open(served.url)
            ended = browser.wait_for("window.affect && affect.ended", timeout=60)
            assert ended["replay"] == "single_face.csv"
            assert browser.evaluate("document.getElementById('record').disabled")  # nothing more to record
            browser.evaluate("document.getElementById('banner-replay').click()")
            assert browser.wait_for("affect.replay && affect.replay.frames", timeout=30) == 72
            assert browser.evaluate("document.getElementById('conn').textContent") == "replay (no live connection)"
            browser.wait_for("affect.replay.ready", timeout=30)  # the video can be shown
            browser.evaluate("(() => { const s = document.getElementById('scrub'); s.value = 50;"
                             " s.dispatchEvent(new Event('input')); })()")
            browser.wait_for("affect.replay.index === 50 && !document.getElementById('replay-video').seeking",
                             timeout=30)
            time_label = browser.evaluate("document.getElementById('replay-time').textContent")
            assert time_label == "1.7 s"  # frame 50 of a 30 fps file
            shot = browser.screenshot(tmp_path / "replay.png")
            view = _rect(browser, "view")
            assert view[2] > 300 and view[3] > 150  # the video is shown
            drawn = drawn_box(shot, view)
            assert drawn is not None  # the overlay of frame 50, drawn on the original video
            assert plotted_pixels(shot, _rect(browser, "plot-expressions")) > 300
    finally:
        served.stop()


SHARED_DRIVER = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "driver"


def _looped_upright(clip: Path, out: Path, loops: int = 3) -> Path:
    """``clip`` (a phone video stored sideways with a rotation flag) upright, ``loops`` times over: a driver whose
    slow closures come back every 6.3 s, so the page sees one whatever its start-up takes."""
    import av

    from realtime_affect.sources import VideoSource

    with VideoSource(clip) as source:  # applies the rotation, as every run does
        frames = [f.bgr for f in source]
        fps = source.info.fps
    h, w = frames[0].shape[:2]
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        for _ in range(loops):
            for bgr in frames:
                frame = av.VideoFrame.from_ndarray(bgr[:h - h % 2, :w - w % 2], format="bgr24")
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out


@pytest.mark.skipif(not SHARED_DRIVER.is_dir(), reason="../shared/media/driver is not here")
def test_the_driver_page_raises_the_alarm_during_a_closure_and_logs_it(tmp_path):
    clip = _looped_upright(next(SHARED_DRIVER.glob("02_*")), tmp_path / "desk.mp4")
    served = Served("--video", str(clip), "--driver", "--no-browser-camera", cwd=tmp_path)
    try:
        with Browser() as browser:
            browser.open(served.url)
            alarm = ("(e => !e.hidden && e.textContent.includes('MICROSLEEP'))"
                     "(document.getElementById('driver-alarm'))")
            for _ in range(3):  # the clip's closure comes back every 6.3 s: until a screenshot catches the alarm
                browser.wait_for(alarm, timeout=60)
                signals, log, rect = browser.evaluate(
                    "[document.getElementById('driver-signals').textContent, document.getElementById('driver-log')"
                    ".textContent, (r => [r.left, r.top, r.width, r.height])(document.getElementById('driver-alarm')"
                    ".getBoundingClientRect())]")
                shot = browser.screenshot(tmp_path / "driver_alarm.png")
                if browser.evaluate(alarm):
                    break
            left, top, width, height = (int(round(v)) for v in rect)
            assert width > 100 and height >= 24  # a banner a person sees, not a chip
            part = shot[top:top + height, left:left + width].astype(int)
            red = (part[..., 2] > 180) & (part[..., 1] < 60) & (part[..., 0] < 60)
            assert red.mean() > 0.5, red.mean()  # the most urgent event's colour
            white = (part.min(axis=2) > 200).sum()
            assert white > 100  # its text
            assert "eyes CLOSED" in signals and "PERCLOS" in signals and "blinks/min" in signals
            assert "MICROSLEEP" in log and " now" in log  # the running event log, with its start time
            start = float(log.split(" s")[0])
            assert 3.8 <= start % (151 / 24) <= 4.8, log  # the desk clip's third closure: at about 4.3 s
            browser.wait_for("document.getElementById('driver-alarm').hidden", timeout=30)  # the eyes reopen
            assert "to " in browser.evaluate("document.getElementById('driver-log').textContent")
            assert browser.evaluate("affect.errors") == []

            # the run ends: its replay shows the driver panel at the cursor and all the run's events
            ended = browser.wait_for("affect.ended", timeout=120)
            browser.evaluate("document.getElementById('banner-replay').click()")
            frames = browser.wait_for("affect.replay && affect.replay.ready && affect.replay.frames", timeout=60)
            closure = int(round((start + 1.0) * 24)) % frames  # a frame inside that closure, once confirmed
            browser.evaluate(f"(() => {{ const s = document.getElementById('scrub'); s.value = {closure};"
                             " s.dispatchEvent(new Event('input')); })()")
            browser.wait_for(f"affect.replay.index === {closure}", timeout=30)
            shown = browser.evaluate(
                "[document.getElementById('driver-panel').hidden, document.getElementById('driver-alarm').hidden,"
                " document.getElementById('driver-alarm').textContent, document.getElementById('driver-signals')"
                ".textContent, document.getElementById('driver-log').textContent]")
            browser.screenshot(tmp_path / "driver_replay.png")
            assert ended["replay"] and shown[0] is False and shown[1] is False, shown
            assert "MICROSLEEP" in shown[2] and "eyes CLOSED" in shown[3], shown
            assert shown[4].count("MICROSLEEP") >= 3 and "to " in shown[4], shown  # every loop's closure
    finally:
        served.stop()


def test_a_page_opened_before_the_source_waits_for_it_and_a_portrait_video_leaves_the_controls_in_view(tmp_path):
    """A kiosk opened while the server starts: it must wait for the server's source (not fall back to a camera
    it does not have), then show the portrait video with the controls still on screen and only the active AUs."""
    import threading

    import cv2
    from helpers import decode_frames, write_video

    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_video
    from realtime_affect.serve.access import AccessPolicy
    from realtime_affect.serve.browser_camera import BrowserCameras, CameraLimits
    from realtime_affect.serve.hub import Hub
    from realtime_affect.serve.server import ServerThread
    from realtime_affect.serve.source_loop import paced
    from realtime_affect.serve.state import ServeState
    from realtime_affect.sources import VideoSource

    portrait = write_video(tmp_path / "portrait.mp4", [cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE)
                                                       for f in decode_frames(DATA / "single_face.mp4")] * 3)
    with open_model(resolve_model(None, "auto"), backend="auto", threads=1) as model:
        state = ServeState(Hub(), AccessPolicy(), tmp_path / "rec", expects_source=True)
        state.cameras = BrowserCameras(model, AnalyzerOptions(), state.publisher, CameraLimits(max_clients=2))
        server = ServerThread(state, "127.0.0.1", 0).start()
        stop = threading.Event()

        def play() -> None:
            publisher = state.publisher("portrait.mp4")
            with VideoSource(portrait) as source:
                for result in paced(analyze_video(model, source, AnalyzerOptions()), stop, fast=False):
                    publisher.publish(result)
            publisher.end(None)

        try:
            with Browser() as browser:  # 1400x900
                browser.open(server.url())
                browser.wait_for("window.affect && affect.mode", timeout=30)
                time.sleep(1.5)  # the source has not started: the page waits for it
                assert browser.evaluate("affect.mode") == "server"
                assert "waiting for the server's source" in browser.evaluate(
                    "document.getElementById('readings').textContent")
                player = threading.Thread(target=play, daemon=True)
                player.start()
                browser.wait_for("affect.frames > 60", timeout=60)
                shot = browser.screenshot(tmp_path / "portrait_page.png")
                view, controls = _rect(browser, "view"), _rect(browser, "controls")
                assert view[3] > view[2] > 100  # portrait, shown
                assert controls[1] + controls[3] <= 900  # the controls are on screen below it
                assert browser.evaluate("affect.plots.aus.shown.length") <= 4  # the active AUs only
                assert "analysed" in browser.evaluate("document.getElementById('fps').textContent")
                assert drawn_box(shot, view) is not None
                player.join(timeout=60)
        finally:
            stop.set()
            server.stop()
            state.cameras.shutdown()
