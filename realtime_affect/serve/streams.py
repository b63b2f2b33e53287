"""What happens to each analysed frame of a served source: the driver monitor (with ``--driver``), the frame
message to every subscriber (with the JPEG when a page watches), and the recording when one runs."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path

from realtime_affect.serve.hub import Hub
from realtime_affect.serve.recording import Recording, Replay
from realtime_affect.serve.schema import end_message, error_message, frame_message

log = logging.getLogger(__name__)

JPEG_QUALITY = 80
MAX_VIEW_WIDTH = 1280  # frames sent to pages are scaled down to at most this width
#: Pages get the picture with at most this many frames a second (every frame's readings still come, as text):
#: a file analysed with --fast runs at 100+ fps here, and 20 pages would otherwise cost the analysis a quarter
#: of its speed in JPEG encoding and copying.
VIEW_FPS = 30.0


def encode_jpeg(bgr) -> bytes:
    """JPEG of a BGR frame for the page (the page scales boxes by its picture's size over width, height)."""
    import cv2

    if bgr.shape[1] > MAX_VIEW_WIDTH:
        scale = MAX_VIEW_WIDTH / bgr.shape[1]
        bgr = cv2.resize(bgr, (MAX_VIEW_WIDTH, round(bgr.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise ValueError("could not encode the frame as JPEG")
    return data.tobytes()


class RecentRate:
    """Frames per second over the last ``seconds`` (results of a file come in small bursts: a second-long
    window would show the bursts, not the rate)."""

    def __init__(self, seconds: float = 3.0) -> None:
        self.seconds = seconds
        self._times: deque[float] = deque()

    def tick(self) -> float | None:
        now = time.monotonic()
        self._times.append(now)
        while now - self._times[0] > self.seconds:
            self._times.popleft()
        if len(self._times) < 2:
            return None
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)


class StreamPublisher:
    """One source's frames -> subscribers (and its recording). Called from that source's analysis thread."""

    def __init__(self, hub: Hub, name: str, driver: bool = False, fps: float = 30.0) -> None:
        self.hub = hub
        self.name = name
        self.fps = fps
        self.rate = RecentRate()
        self.frames = 0
        self._monitor = None
        self._driver_files: list = []  # recording.DriverFiles of a run's results (affect-serve --video)
        if driver:
            from realtime_affect.driver.monitor import DriverMonitor

            self._monitor = DriverMonitor()
            self._monitor.on_event(self._on_event)
        self._recording: Recording | None = None
        self._last_picture = float("-inf")
        self._last_time = 0.0
        self._lock = threading.Lock()
        self.replays: list[Replay] = []
        self.ended = False
        self.final_replay: str | None = None  # the replay offered when the source ended

    @property
    def driver(self) -> bool:
        return self._monitor is not None

    def _on_event(self, event, change: str) -> None:
        with self._lock:
            recording = self._recording
        if recording is not None:
            recording.event(event, change)
        for files in list(self._driver_files):
            files.event(event, change)

    def finish_driver(self) -> None:
        """The source ends: the driver events still on end at its last frame (and are written)."""
        if self._monitor is not None and self.frames:
            self._monitor.finish(self._last_time)

    def attach_driver_files(self, files) -> None:
        """Write the driver's signals and events into ``files`` from now on (until ``detach_driver_files``)."""
        self._driver_files.append(files)

    def detach_driver_files(self, files) -> None:
        if files in self._driver_files:
            self._driver_files.remove(files)

    def publish(self, result, client: dict | None = None) -> dict:
        """Send one analysed frame; returns its message (for a browser camera's own reply)."""
        state = self._monitor.update(result) if self._monitor is not None else None
        self._last_time = result.frame.time_s
        message = frame_message(result, self.rate.tick(), state, client)
        self.frames += 1
        if state is not None:
            for files in list(self._driver_files):
                files.write(result.frame.index, state)
        with self._lock:
            recording = self._recording
        if recording is not None:
            try:
                recording.write(result, state)
            except Exception as exc:  # a full disk stops the recording, never the analysis
                log.error("recording %s stopped: %s", recording.results_path, exc)
                self.stop_recording()
                self.hub.publish(error_message(f"the recording of {self.name} stopped: {exc}", source=self.name,
                                               recording="stopped"))
        if self.hub.count:
            jpeg = None
            now = time.monotonic()
            if self.hub.wants_frames() and now - self._last_picture >= 0.9 / VIEW_FPS:
                jpeg = encode_jpeg(result.frame.bgr)
                self._last_picture = now
            self.hub.publish(message, jpeg)
        return message

    def start_recording(self, folder: Path, fmt: str, video: bool = True) -> Recording:
        with self._lock:
            if self._recording is not None:
                return self._recording
            self._recording = Recording(folder, self.name, fmt, self.fps, video, driver=self.driver)
            return self._recording

    def stop_recording(self) -> Replay | None:
        with self._lock:
            recording, self._recording = self._recording, None
        if recording is None:
            return None
        recording.close()
        replay = recording.replay()
        self.replays.append(replay)
        return replay

    @property
    def recording(self) -> Recording | None:
        return self._recording

    def end(self, replay: Replay | None) -> None:
        """The source finished: close its recording and tell the subscribers (with the replay on offer)."""
        self.finish_driver()
        self.stop_recording()
        if replay is not None:
            self.replays.append(replay)
        self.ended, self.final_replay = True, replay.name if replay is not None else None
        self.hub.publish(end_message(self.name, replay.name if replay is not None else None))
