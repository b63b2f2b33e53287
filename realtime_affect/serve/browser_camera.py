"""Frames from visitors' browser cameras (``/ws/camera``), analysed on the server, answered to the sender.

Each browser gets its own tracker and temporal state (its own live analysis session) and a one-frame slot: a frame
that arrives while the previous one is still waiting replaces it (newest frame wins), so a fast camera or a
slow server never builds a queue and the latency stays one frame's work. One worker thread serves every
browser in turn; the model is shared with the server's own source. Limits per browser: frame bytes (the
socket's maximum message size), frame size in pixels, and frames per second.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from realtime_affect.errors import InputError
from realtime_affect.serve.schema import error_message

log = logging.getLogger(__name__)


@dataclass
class CameraLimits:
    max_width: int = 1920
    max_height: int = 1080
    max_fps: float = 30.0
    max_clients: int = 4


class FrameRefused(InputError, ValueError):
    """A browser frame that breaks a limit or cannot be decoded (the answer names which)."""


def decode_frame(jpeg: bytes, limits: CameraLimits) -> np.ndarray:
    import cv2

    if not jpeg:
        raise FrameRefused("the frame carries no image")
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameRefused("the frame is not a JPEG or PNG image")
    h, w = image.shape[:2]
    if w > limits.max_width or h > limits.max_height:
        raise FrameRefused(f"frame of {w}x{h} pixels is larger than {limits.max_width}x{limits.max_height}")
    return image


@dataclass(eq=False)
class BrowserClient:
    """One visitor's camera: its pending frame and where its answers go (``reply`` is thread-safe)."""

    id: int
    reply: Callable[[dict], None]
    pending: tuple[dict, bytes, float] | None = None
    replaced: int = 0
    answered: int = 0
    closed: bool = False
    session: object = None  # its AnalysisSession (LIVE), opened and closed on the worker thread
    started: float = field(default_factory=time.monotonic)
    _arrivals: list[float] = field(default_factory=list)

    def over_rate(self, max_fps: float, now: float) -> bool:
        """True when this frame would exceed ``max_fps`` over the last second (it is then dropped)."""
        self._arrivals = [t for t in self._arrivals if now - t < 1.0]
        if len(self._arrivals) >= max_fps:
            return True
        self._arrivals.append(now)
        return False


class BrowserCameras:
    """The browser-camera clients and the worker thread that analyses their newest frames."""

    def __init__(self, model, options, publisher_for: Callable[[str], object],
                 limits: CameraLimits | None = None) -> None:
        self.model = model
        self.options = options
        self.limits = limits or CameraLimits()
        self._publisher_for = publisher_for
        self._clients: dict[int, BrowserClient] = {}
        self._retired: list[BrowserClient] = []  # left, landmarker still to close (on the worker thread)
        self._next_id = 1
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="browser-cameras", daemon=True)
        self._thread.start()

    def open(self, reply: Callable[[dict], None]) -> BrowserClient | None:
        """A new client, or None when ``max_clients`` cameras are already streaming."""
        with self._wake:
            if len(self._clients) >= self.limits.max_clients:
                return None
            client = BrowserClient(self._next_id, reply)
            self._next_id += 1
            self._clients[client.id] = client
            return client

    def close(self, client: BrowserClient) -> None:
        with self._wake:
            client.closed = True
            if self._clients.pop(client.id, None) is not None:
                self._retired.append(client)
            self._wake.notify()

    def submit(self, client: BrowserClient, header: dict, jpeg: bytes) -> None:
        """Called on the event loop for each frame received; never blocks."""
        now = time.monotonic()
        if client.over_rate(self.limits.max_fps, now):
            client.reply(error_message(f"more than {self.limits.max_fps:g} frames a second: frame dropped"))
            return
        with self._wake:
            if client.pending is not None:
                client.replaced += 1
            client.pending = (header, jpeg, now)
            self._wake.notify()

    def shutdown(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout=10)
        with self._wake:
            leaving, self._retired = list(self._clients.values()) + self._retired, []
            self._clients.clear()
        for client in leaving:
            self._release(client)

    def _next_job(self) -> tuple[BrowserClient, tuple[dict, bytes, float]] | None:
        with self._wake:
            while not self._stop:
                leaving, self._retired = self._retired, []
                for client in leaving:
                    self._release(client)
                waiting = [c for c in self._clients.values() if c.pending is not None]
                if waiting:
                    client = min(waiting, key=lambda c: c.pending[2])  # the oldest waiting frame first
                    job, client.pending = client.pending, None
                    return client, job
                self._wake.wait(timeout=0.5)
            return None

    def _run(self) -> None:
        while True:
            got = self._next_job()
            if got is None:
                return
            client, (header, jpeg, received) = got
            try:
                self._analyse(client, header, jpeg, received)
            except FrameRefused as exc:
                client.reply(error_message(str(exc)))
            except Exception as exc:  # one bad frame must not end the service for everyone
                log.exception("browser camera %d: frame failed", client.id)
                client.reply(error_message(f"the server could not analyse this frame ({type(exc).__name__})"))

    def _analyse(self, client: BrowserClient, header: dict, jpeg: bytes, received: float) -> None:
        from realtime_affect.types import Frame

        image = decode_frame(jpeg, self.limits)
        if client.session is None:
            from realtime_affect.analysis.session import RunningMode, open_session

            client.session = open_session(self.model, RunningMode.LIVE, self.options)
        name = f"browser-{client.id}"
        frame = Frame(index=client.answered, time_s=received - client.started, bgr=image, source=name,
                      captured_at=received)
        results = client.session.process(frame)
        publisher = self._publisher_for(name)
        sent = header.get("sent_ms")
        for result in results:
            info = {"id": header.get("id"), "sent_ms": sent if isinstance(sent, (int, float)) else None,
                    "server_ms": round((time.monotonic() - received) * 1000.0, 2), "replaced": client.replaced}
            message = publisher.publish(result, client=info)
            client.answered += 1
            client.reply(message)

    @staticmethod
    def _release(client: BrowserClient) -> None:
        session, client.session = client.session, None
        if session is not None:
            session.close()
