"""Soak the dashboard server on loopback: a source publishing frames the whole time while clients come and go
(results subscribers, page views, browser cameras dropped mid-frame) and a few slow readers never read. Prints
memory, threads and file descriptors at the start and the end, and checks that frames still arrive in order.

    python benchmarks/soak_server.py --minutes 60          # the long run reported in docs/soak.md
    (tests/test_serve_soak.py runs the same for a bounded number of cycles)
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Usage:
    rss_mb: float
    threads: int
    fds: int

    @staticmethod
    def now() -> "Usage":
        gc.collect()
        rss = 0.0
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
        return Usage(round(rss, 1), len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd")))


@dataclass
class SoakReport:
    start: Usage
    end: Usage
    cycles: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    published: int = 0
    in_order: bool = False
    last_frames: list[int] = field(default_factory=list)
    rounds: list[tuple[float, Usage]] = field(default_factory=list)  # (seconds in, usage) after each round

    def lines(self) -> list[str]:
        return [f"soak: {self.seconds:.0f} s, {self.published} frames published, cycles "
                + ", ".join(f"{k} {v}" for k, v in self.cycles.items()),
                f"start: {self.start.rss_mb} MB, {self.start.threads} threads, {self.start.fds} fds",
                f"end:   {self.end.rss_mb} MB, {self.end.threads} threads, {self.end.fds} fds",
                f"frames in order at the end: {self.in_order}",
                *(f"  after {s:5.0f} s: {u.rss_mb} MB, {u.threads} threads, {u.fds} fds" for s, u in self.rounds)]


class Publisher(threading.Thread):
    """A source: one small analysed frame (one face) every ``1 / fps`` seconds, for as long as the soak runs."""

    def __init__(self, state, fps: float = 60.0) -> None:
        super().__init__(name="soak-source", daemon=True)
        self.state, self.fps = state, fps
        self.stop = threading.Event()
        self.count = 0

    def run(self) -> None:
        from realtime_affect.types import Face, FaceResult, Frame, FrameResult, Prediction

        publisher = self.state.publisher("soak")
        img = np.full((180, 320, 3), 90, np.uint8)
        prediction = Prediction(expression=np.full(8, 0.125, np.float32), action_units=np.zeros(12, np.float32),
                                valence_arousal=np.zeros(2, np.float32))
        face = Face(box=np.array([100, 40, 80, 100], np.float32), landmarks=np.zeros((478, 3), np.float32), score=0.9)
        while not self.stop.wait(1.0 / self.fps):
            frame = Frame(index=self.count, time_s=self.count / self.fps, bgr=img, source="soak")
            publisher.publish(FrameResult(frame=frame, faces=[FaceResult(face=face, track_id=1,
                                                                         prediction=prediction)]))
            self.count += 1


def _ws_url(server, path: str) -> str:
    return server.url(path).replace("http://", "ws://")


def _subscribe_once(server, path: str) -> None:
    from websockets.sync.client import connect

    with connect(_ws_url(server, path), open_timeout=10, max_size=None) as ws:
        ws.recv(timeout=10)  # hello
        ws.recv(timeout=10)  # a frame


def _masked_frame(opcode: int, payload: bytes, announce: int | None = None) -> bytes:
    """A client's WebSocket frame (masked, as clients must); ``announce``: the length the header claims."""
    length = len(payload) if announce is None else announce
    mask = os.urandom(4)
    head = bytes([0x80 | opcode]) + (bytes([0x80 | length]) if length < 126 else
                                     bytes([0x80 | 126]) + struct.pack(">H", length) if length < 65536 else
                                     bytes([0x80 | 127]) + struct.pack(">Q", length))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _camera_dropped_mid_frame(server) -> None:
    """A browser camera (a plain socket speaking WebSocket) that sends a bad frame, then is cut off while a
    frame is half sent."""
    import base64

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /ws/camera HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                     .encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the camera socket during the handshake")
            answer += chunk
        if b" 101 " not in answer.split(b"\r\n", 1)[0]:
            raise ConnectionError(answer.split(b"\r\n", 1)[0].decode())
        header = json.dumps({"id": 1}).encode()
        sock.sendall(_masked_frame(0x2, struct.pack(">I", len(header)) + header + b"\xff\xd8 not a jpeg"))
        sock.sendall(_masked_frame(0x2, os.urandom(1024), announce=65536)[:1024 + 14])  # 1 KiB of 64 KiB
        sock.shutdown(socket.SHUT_RDWR)


def _slow_reader(server, stop: threading.Event) -> None:
    """Subscribes and never reads until the soak ends (the server must not keep its frames)."""
    from websockets.sync.client import connect

    try:
        with connect(_ws_url(server, "/ws/view"), open_timeout=10, max_size=None, ping_interval=None,
                     close_timeout=2):
            stop.wait()
    except Exception:  # noqa: BLE001 - a reader this slow may be dropped: that is the server's right
        pass


def _frames_in_order(server, count: int = 30) -> tuple[bool, list[int]]:
    from websockets.sync.client import connect

    frames = []
    with connect(_ws_url(server, "/ws/results"), open_timeout=10) as ws:
        ws.recv(timeout=10)
        while len(frames) < count:
            message = json.loads(ws.recv(timeout=10))
            if message["type"] == "frame":
                frames.append(message["frame"])
    return all(b > a for a, b in zip(frames, frames[1:])), frames


def soak(model, subscribe_cycles: int, view_cycles: int, camera_cycles: int, minutes: float | None = None,
         slow_readers: int = 3) -> SoakReport:
    """Run the soak for the given cycles (or, with ``minutes``, round after round until that time is up)."""
    import tempfile
    from pathlib import Path

    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.serve.access import AccessPolicy
    from realtime_affect.serve.browser_camera import BrowserCameras, CameraLimits
    from realtime_affect.serve.hub import Hub
    from realtime_affect.serve.server import ServerThread
    from realtime_affect.serve.state import ServeState

    state = ServeState(Hub(), AccessPolicy(), record_dir=Path(tempfile.gettempdir()) / "affect-soak-recordings")
    state.cameras = BrowserCameras(model, AnalyzerOptions(), state.publisher, CameraLimits(max_clients=4))
    server = ServerThread(state, "127.0.0.1", 0).start()
    source = Publisher(state)
    source.start()
    stop_slow = threading.Event()
    try:
        _subscribe_once(server, "/ws/results")  # warm up: the first of each kind allocates once
        _subscribe_once(server, "/ws/view")
        _camera_dropped_mid_frame(server)
        time.sleep(1.0)
        start = Usage.now()
        readers = [threading.Thread(target=_slow_reader, args=(server, stop_slow), daemon=True)
                   for _ in range(slow_readers)]
        for reader in readers:
            reader.start()
        cycles = {"subscribe": 0, "view": 0, "camera_dropped": 0}
        rounds: list[tuple[float, Usage]] = []
        t0 = time.monotonic()
        deadline = t0 + minutes * 60 if minutes else None
        while True:
            for _ in range(subscribe_cycles):
                _subscribe_once(server, "/ws/results")
                cycles["subscribe"] += 1
            for _ in range(view_cycles):
                _subscribe_once(server, "/ws/view")
                cycles["view"] += 1
            for _ in range(camera_cycles):
                _camera_dropped_mid_frame(server)
                cycles["camera_dropped"] += 1
            rounds.append((time.monotonic() - t0, Usage.now()))
            if deadline is None or time.monotonic() >= deadline:
                break
        stop_slow.set()
        for reader in readers:
            reader.join(timeout=10)
        in_order, frames = _frames_in_order(server)
        time.sleep(2.0)  # the server notices the last closes
        end = Usage.now()
        return SoakReport(start, end, cycles, time.monotonic() - t0, source.count, in_order, frames[-5:], rounds)
    finally:
        stop_slow.set()
        source.stop.set()
        source.join(timeout=10)
        server.stop()
        state.cameras.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=None, help="run rounds until this much time is up")
    parser.add_argument("--subscribe", type=int, default=2000)
    parser.add_argument("--view", type=int, default=300)
    parser.add_argument("--camera", type=int, default=300)
    args = parser.parse_args()
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model

    with open_model(resolve_model(None, "auto"), backend="auto", threads=1) as model:
        report = soak(model, args.subscribe, args.view, args.camera, args.minutes)
    for line in report.lines():
        print(line)


if __name__ == "__main__":
    main()
