"""affect-serve and affect-live --serve over real sockets on loopback: the message schema, 20 subscribers and one
that never reads, browser-camera frames (good, malformed, oversized), token/origin/host refusals, recording and
replay, and the CLIs' errors and Ctrl-C. The browser itself is tested in test_dashboard_browser.py."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
websockets = pytest.importorskip("websockets")
from helpers import free_port  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS  # noqa: E402
from realtime_affect.serve.access import AccessPolicy  # noqa: E402
from realtime_affect.serve.hub import Hub  # noqa: E402
from realtime_affect.serve.protocol import pack  # noqa: E402
from realtime_affect.serve.server import ServerThread  # noqa: E402
from realtime_affect.serve.state import ServeState  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "tests" / "data" / "single_face.mp4"  # 72 frames, 30 fps, 640x360, one face
JSONL_FACE_FIELDS = {"track_id", "box", "score", "expression", "expressions", "action_units", "valence", "arousal",
                     "temporal", "fitted", "head_yaw", "head_pitch", "head_roll", "gaze_yaw", "gaze_pitch",
                     "eye_open_l", "eye_open_r", "blink", "quality", "quality_flags", "expr_confidence", "baseline"}


@pytest.fixture(scope="module")
def model():
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model

    m = open_model(resolve_model(None, "auto"), backend="auto", threads=1)
    yield m
    m.close()


@pytest.fixture
def served(model, tmp_path):
    """A server with browser cameras on a free loopback port; yields (state, server)."""
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.serve.browser_camera import BrowserCameras, CameraLimits

    state = ServeState(Hub(), AccessPolicy(), tmp_path / "recordings")
    state.cameras = BrowserCameras(model, AnalyzerOptions(), state.publisher, CameraLimits(max_clients=2))
    server = ServerThread(state, "127.0.0.1", 0).start()
    yield state, server
    server.stop()
    state.cameras.shutdown()


def ws_url(server, path: str) -> str:
    return server.url(path).replace("http://", "ws://")


def http(server, path: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    request = urllib.request.Request(server.url(path), method=method, headers=headers or {},
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def play(model, state: ServeState, name: str = "single_face.mp4") -> int:
    """Analyse the clip at its own frame rate into the server, as affect-serve --video does; returns frames."""
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.runner import analyze_video
    from realtime_affect.serve.source_loop import paced
    from realtime_affect.sources import VideoSource

    publisher = state.publisher(name)
    with VideoSource(CLIP) as source:
        for result in paced(analyze_video(model, source, AnalyzerOptions()), threading.Event(), fast=False):
            publisher.publish(result)
    publisher.end(None)
    return publisher.frames


def collect(url: str, out: list, ready: threading.Event) -> None:
    with connect(url, open_timeout=10) as ws:
        out.append(json.loads(ws.recv(timeout=10)))
        ready.set()
        while True:
            message = json.loads(ws.recv(timeout=30))
            out.append(message)
            if message["type"] == "end":
                return


def test_twenty_subscribers_get_every_frame_in_the_jsonl_schema_while_one_never_reads(model, served):
    state, server = served
    stalled = socket.create_connection(("127.0.0.1", server.port))  # a client that opens and never reads
    stalled.sendall(f"GET /ws/results HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    stalled.settimeout(0.5)
    streams = [[] for _ in range(20)]
    readies = [threading.Event() for _ in streams]
    threads = [threading.Thread(target=collect, args=(ws_url(server, "/ws/results"), s, r), daemon=True)
               for s, r in zip(streams, readies)]
    for t in threads:
        t.start()
    assert all(r.wait(20) for r in readies), "not every subscriber got its hello"
    assert state.hub.count == 21
    t0 = time.monotonic()
    frames = play(model, state)
    took = time.monotonic() - t0
    for t in threads:
        t.join(30)
    assert frames == 72 and took >= 2.0  # played at its own pace (72 frames at 30 fps = 2.4 s), not stalled
    for stream in streams:
        hello, *rest, end = stream
        assert hello["type"] == "hello" and hello["schema"] == "realtime-affect/results" and hello["version"] == 1
        assert hello["expressions"] == list(EXPRESSIONS) and hello["action_units"] == list(ACTION_UNITS)
        assert hello["ended"] == []
        assert end == {"schema": "realtime-affect/results", "version": 1, "type": "end", "source": "single_face.mp4",
                       "replay": None}
        assert [m["frame"] for m in rest] == list(range(72))  # every frame, in order
        message = rest[40]
        assert message["source"] == "single_face.mp4" and (message["width"], message["height"]) == (640, 360)
        assert len(message["faces"]) == 1 and set(message["faces"][0]) == JSONL_FACE_FIELDS
        x, y, w, h = message["faces"][0]["box"]
        assert 0 < x < 640 and 0 < y < 360 and 40 < w < 640 and 40 < h < 360
        assert sum(message["faces"][0]["expressions"].values()) == pytest.approx(1.0, abs=0.02)
    stalled.close()


def test_browser_camera_frames_are_answered_and_bad_ones_refused_without_closing(served):
    import cv2
    from helpers import decode_frames

    _, server = served
    frame = next(iter(decode_frames(CLIP, limit=20)))
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    with connect(ws_url(server, "/ws/camera"), open_timeout=10, max_size=None) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello" and hello["sources"] == [f"browser-{hello['client_id']}"]
        ws.send(b"\x00\x01")
        assert "4-byte header" in json.loads(ws.recv(timeout=10))["message"]
        ws.send("hello")
        assert "binary" in json.loads(ws.recv(timeout=10))["message"]
        ws.send(pack({"id": 1}, b"not a jpeg"))
        assert json.loads(ws.recv(timeout=10))["message"] == "the frame is not a JPEG or PNG image"
        big = cv2.imencode(".jpg", np.zeros((1200, 2000, 3), np.uint8))[1].tobytes()
        ws.send(pack({"id": 2}, big))
        assert "larger than 1920x1080" in json.loads(ws.recv(timeout=10))["message"]
        answers = []
        for n in range(3, 6):  # the socket is still open after four refusals
            ws.send(pack({"id": n, "sent_ms": 1000.0 * n}, jpeg))
            answers.append(json.loads(ws.recv(timeout=30)))
        assert [a["client"]["id"] for a in answers] == [3, 4, 5]
        assert all(a["type"] == "frame" and a["client"]["sent_ms"] == 1000.0 * a["client"]["id"] for a in answers)
        assert len(answers[-1]["faces"]) == 1 and answers[-1]["faces"][0]["expression"] in EXPRESSIONS
    with connect(ws_url(server, "/ws/camera"), open_timeout=10, max_size=None) as ws:
        ws.recv(timeout=10)
        ws.send(b"\x00" * (3 * 1024 * 1024))  # over the 2 MiB limit: the socket is closed with 1009
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    status, body = http(server, "/api/status")  # and the server keeps serving
    assert status == 200 and json.loads(body)["browser_camera"] is True


def test_token_origin_and_host_refusals(tmp_path):
    state = ServeState(Hub(), AccessPolicy(bind_host="0.0.0.0", token="s3cret"), tmp_path)
    server = ServerThread(state, "127.0.0.1", 0).start()
    try:
        base = f"ws://127.0.0.1:{server.port}"
        for url, headers in [(f"{base}/ws/results", {}), (f"{base}/ws/results?token=wrong", {}),
                             (f"{base}/ws/results?token=s3cret", {"Origin": "http://evil.example"})]:
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                connect(url, additional_headers=headers, open_timeout=10)
            assert refused.value.response.status_code == 403
        assert b"token" in refused.value.response.body or b"origin" in refused.value.response.body
        with connect(f"{base}/ws/results?token=s3cret", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        with connect(f"{base}/ws/results", additional_headers={"X-Affect-Token": "s3cret"}, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        page = f"http://127.0.0.1:{server.port}/"
        assert http(server, "/")[0] == 200  # server.url carries the token
        with pytest.raises(urllib.error.HTTPError) as no_token:
            urllib.request.urlopen(page, timeout=10)
        assert no_token.value.code == 403 and b"token" in no_token.value.read()
        assert http(server, "/nowhere")[0] == 404
        assert http(server, "/static/../../etc/passwd")[0] == 404
        status, body = http(server, "/api/record", "POST", {"action": "start", "source": "x"},
                            {"Origin": "http://evil.example"})
        assert status == 403 and b"origin" in body
    finally:
        server.stop()
    loop_state = ServeState(Hub(), AccessPolicy(), tmp_path)  # loopback, no token: DNS-rebinding guard on Host
    server = ServerThread(loop_state, "127.0.0.1", 0).start()
    try:
        assert http(server, "/api/status", headers={"Host": "attacker.example"})[0] == 403
        assert http(server, "/api/status", headers={"Host": f"localhost:{server.port}"})[0] == 200
    finally:
        server.stop()


def test_recording_from_the_api_is_replayed_from_its_file(model, served):
    from realtime_affect.results import read_results

    state, server = served
    publisher = state.publisher("single_face.mp4")
    assert http(server, "/api/record", "POST", {"action": "start", "source": "nope"})[0] == 404
    assert http(server, "/api/record", "POST", {"action": "start", "source": "single_face.mp4",
                                                "format": "xls"})[0] == 400
    status, body = http(server, "/api/record", "POST", {"action": "start", "source": "single_face.mp4",
                                                        "format": "parquet"})
    assert status == 200, body
    started = json.loads(body)
    play(model, state)  # the end of the source closes its recording
    assert publisher.recording is None
    results, video = Path(started["recording"]), Path(started["video"])
    df = read_results(results)
    assert len(df) >= 60 and set(df["track_id"]) == {1}
    from helpers import decode_frames

    assert len(list(decode_frames(video))) == 72
    replays = json.loads(http(server, "/api/status")[1])["replays"]
    assert replays == [{"name": results.name, "kind": "recording", "video": True, "overlays_drawn": True}]
    status, body = http(server, f"/api/replay/{results.name}")
    data = json.loads(body)
    assert status == 200 and len(data["frames"]) == df["frame"].nunique() and data["video"] is True
    assert data["frames"][10]["faces"][0]["expression"] in EXPRESSIONS
    status, mp4 = http(server, f"/api/replay/{results.name}/video")
    assert status == 200 and mp4 == video.read_bytes()
    assert http(server, "/api/replay/..%2F..%2Fetc%2Fpasswd")[0] == 404  # only files it wrote


def test_a_driver_recording_holds_the_driver_signals_and_events_and_replays_them(model, tmp_path):
    from realtime_affect.driver.outputs import DRIVER_COLUMNS

    state = ServeState(Hub(), AccessPolicy(), tmp_path / "recordings", driver=True)
    with ServerThread(state, "127.0.0.1", 0) as server:
        state.publisher("single_face.mp4")
        status, body = http(server, "/api/record", "POST", {"action": "start", "source": "single_face.mp4"})
        assert status == 200, body
        play(model, state)
        results = Path(json.loads(body)["recording"])
        signals = results.with_name(results.stem + ".driver.csv")
        events = results.with_name(results.stem + ".events.jsonl")
        rows = signals.read_text().splitlines()
        assert rows[0].split(",") == list(DRIVER_COLUMNS) and len(rows) == 73  # a row per frame
        assert events.exists()
        status, body = http(server, f"/api/replay/{results.name}")
        data = json.loads(body)
        assert status == 200 and data["events"] == []  # an alert face: the recording has no event
        assert data["frames"][10]["driver"]["eye_state"] in ("open", "closed", "unknown")


def test_an_ended_source_cannot_be_recorded_and_the_page_has_its_icon(model, served):
    state, server = served
    play(model, state)  # the source ends
    status, body = http(server, "/api/record", "POST", {"action": "start", "source": "single_face.mp4"})
    assert status == 409 and "has ended" in json.loads(body)["error"]
    assert not state.record_dir.exists() or not list(state.record_dir.iterdir())  # nothing written
    status, icon = http(server, "/favicon.ico")
    assert status == 200 and icon.startswith(b"<svg")


def test_text_sent_on_the_results_socket_gets_an_error_message(served):
    _, server = served
    with connect(ws_url(server, "/ws/results"), open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        ws.send("subscribe please")
        answer = json.loads(ws.recv(timeout=10))
    assert answer["type"] == "error" and "takes no messages" in answer["message"]


def test_a_recording_that_cannot_be_written_stops_with_a_message_and_analysis_goes_on(model, tmp_path):
    from realtime_affect.serve.streams import StreamPublisher
    from realtime_affect.sinks import SinkWriteError

    class FullDisk:
        results_path = tmp_path / "r.csv"

        def write(self, result, driver_state=None):
            raise SinkWriteError(f"{self.results_path}: write failed (No space left on device)")

        def close(self):
            pass

        def replay(self):
            from realtime_affect.serve.recording import Replay

            return Replay("r.csv", self.results_path, None, "recording", True)

    sent = []

    class Hub:
        count = 0

        def publish(self, message, jpeg=None):
            sent.append(message)

    publisher = StreamPublisher(Hub(), "cam")
    publisher._recording = FullDisk()
    from realtime_affect.types import Frame, FrameResult

    frame = Frame(index=0, time_s=0.0, bgr=np.zeros((8, 8, 3), np.uint8), source="cam")
    publisher.publish(FrameResult(frame=frame, faces=[]))
    publisher.publish(FrameResult(frame=frame, faces=[]))  # the analysis goes on
    assert publisher.recording is None and publisher.frames == 2
    errors = [m for m in sent if m["type"] == "error"]
    assert len(errors) == 1 and errors[0]["recording"] == "stopped" and "No space left" in errors[0]["message"]


def test_affect_serve_cli_errors_and_clean_ctrl_c(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "realtime_affect.serve.cli", "--video", str(tmp_path / "no.mp4")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no.mp4" in missing.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = subprocess.run([sys.executable, "-m", "realtime_affect.serve.cli", "--port",
                               str(taken.getsockname()[1])], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert busy.returncode == 2 and "could not listen" in busy.stderr and busy.stderr.count("\n") == 1
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.serve.cli", "--video", str(CLIP), "--port",
                             str(port), "--host", "0.0.0.0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "serving on" not in line and time.monotonic() < deadline:
            line += proc.stderr.readline()
        assert "warning" in line and "token=" in line  # off loopback: a token, printed once, and a warning
        token = line.split("token=")[1].split()[0].rstrip(")")
        with connect(f"ws://127.0.0.1:{port}/ws/results?token={token}", open_timeout=10) as ws:
            messages = [json.loads(ws.recv(timeout=30)) for _ in range(5)]
        assert messages[0]["type"] == "hello" and all(m["type"] in ("frame", "end") for m in messages[1:])
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/record", method="POST",
                                         data=json.dumps({"action": "start", "source": CLIP.name}).encode(),
                                         headers={"X-Affect-Token": token})
        started = json.loads(urllib.request.urlopen(request, timeout=30).read())
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)  # while recording: the files are closed, complete
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "stopped; recordings closed" in err and "Traceback" not in err
        from helpers import decode_frames

        from realtime_affect.results import read_results

        recorded = Path(started["recording"])
        recorded = recorded if recorded.is_absolute() else tmp_path / recorded  # the server ran in tmp_path
        assert len(read_results(recorded)) >= 5
        assert len(list(decode_frames(recorded.with_suffix(".mp4")))) >= 5
    finally:
        if proc.poll() is None:
            proc.kill()


def test_affect_live_serve_plays_a_file_at_its_speed_and_offers_its_replay(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "realtime_affect.cli", "--video", str(CLIP), "--no-display",
                             "--csv", str(tmp_path / "out.csv"), "--serve", str(port), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        got: list = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with connect(f"ws://127.0.0.1:{port}/ws/results", open_timeout=5) as ws:
                    while True:
                        got.append(json.loads(ws.recv(timeout=30)))
                        if got[-1]["type"] == "end":
                            break
                break
            except (ConnectionRefusedError, OSError):
                time.sleep(0.05)
        assert got and got[-1]["type"] == "end" and got[-1]["replay"], got[-1:]
        status, body = http_port(port, f"/api/replay/{got[-1]['replay']}")
        assert status == 200 and len(json.loads(body)["frames"]) == 72
        status, _ = http_port(port, f"/api/replay/{got[-1]['replay']}/video")
        assert status == 200  # the input video beside its results
        assert proc.poll() is None  # still serving the replay after the run
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0  # the run was complete: Ctrl-C only ended the serving
    assert got[0]["type"] == "hello"
    frames = [m for m in got if m["type"] == "frame"]
    assert frames and frames[-1]["frame"] == 71 and frames[-1]["source"] == "single_face.mp4"
    sent = [m["analysed_at"] for m in frames]
    assert sent[-1] - sent[0] >= 2.0  # paced: 72 frames at 30 fps take 2.4 s, as the video plays
    assert len((tmp_path / "out.csv").read_text().splitlines()) > 1


def http_port(port: int, path: str):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_driver_signals_join_each_message_with_driver(model):
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.runner import analyze_video
    from realtime_affect.serve.streams import StreamPublisher
    from realtime_affect.sources import VideoSource

    publisher = StreamPublisher(Hub(), "single_face.mp4", driver=True)
    with VideoSource(CLIP) as source:
        messages = [publisher.publish(r) for r in analyze_video(model, source, AnalyzerOptions())]
    driver = messages[-1]["driver"]
    assert driver["eye_state"] == "open" and driver["eyes_closed"] is False and driver["track_id"] == 1
    assert 0.0 <= driver["perclos"] <= 1.0 and driver["zone"] in ("road", "left", "right", "down", "up", "unknown")
    json.dumps(messages, allow_nan=False)  # every message is valid JSON (no NaN)
