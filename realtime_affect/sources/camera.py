"""Cameras, read by OpenCV in a thread that keeps only the newest frame (a slow consumer skips frames, it
never lags behind)."""
from __future__ import annotations

import logging
import threading
from typing import Iterator

import numpy as np

from realtime_affect.sources.base import SourceError
from realtime_affect.types import Frame

log = logging.getLogger(__name__)


class CameraSource:
    """A camera (index or device path) read by OpenCV in a thread that keeps only the newest frame.

    Frames are never queued: a slow consumer gets the latest picture and skips the rest. Timestamps come
    from a monotonic clock at capture. ``stall_timeout_s`` ends the stream when the camera stops
    delivering frames.
    """

    def __init__(self, device: int | str, width: int | None = None, height: int | None = None,
                 stall_timeout_s: float = 5.0, capture=None) -> None:
        import cv2

        self.name = f"camera {device}"
        self.stall_timeout_s = stall_timeout_s
        self.truncated = False
        self.error: str | None = None
        if capture is None:
            from realtime_affect.system.native_logs import quiet_native_stderr

            dev = int(device) if isinstance(device, str) and device.isdigit() else device
            with quiet_native_stderr():  # OpenCV's backends print probing warnings for missing cameras
                capture = cv2.VideoCapture(dev)
        self._cap = capture
        if not self._cap.isOpened():
            raise SourceError(f"{self.name}: cannot be opened (no such camera, or it is busy)")
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._lock = threading.Condition()
        self._latest: tuple[float, np.ndarray] | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._read, name=f"capture:{device}", daemon=True)
        self._start = None
        self.dropped = 0

    def _read(self) -> None:
        import time

        while not self._stop.is_set():
            ok, img = self._cap.read()
            now = time.monotonic()
            if not ok or img is None:
                break
            with self._lock:
                if self._latest is not None:
                    self.dropped += 1
                self._latest = (now, img)
                self._seq += 1
                self._lock.notify_all()
        with self._lock:
            self._ended = True
            self._lock.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        import time

        if not self._thread.is_alive() and not self._ended:
            self._thread.start()
        index = 0
        while not self._stop.is_set():
            with self._lock:
                deadline = time.monotonic() + self.stall_timeout_s
                while self._latest is None and not self._ended:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self.truncated = True
                        self.error = f"{self.name}: no frame for {self.stall_timeout_s:.0f} s; stopped"
                        log.warning(self.error)
                        return
                    self._lock.wait(timeout=min(remaining, 0.5))
                if self._latest is None:
                    if index == 0:
                        raise SourceError(f"{self.name}: delivered no frame")
                    return
                stamp, img = self._latest
                self._latest = None
            if self._start is None:
                self._start = stamp
            yield Frame(index=index, time_s=stamp - self._start, bgr=img, source=self.name, captured_at=stamp)
            index += 1

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._cap.release()

    def __enter__(self) -> "CameraSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
