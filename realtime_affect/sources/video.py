"""Video files and network streams, decoded by PyAV in a background thread into a bounded queue; time
comes from the stream's timestamps (PTS), never from frame counts. PyAV is imported when a video is opened."""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from realtime_affect.sources.base import STREAM_RECONNECT_S, SourceError, check_readable_file, is_stream_url
from realtime_affect.types import Frame

log = logging.getLogger(__name__)

@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int | None  # best estimate of the frame count, None for live streams
    duration_s: float | None
    rotation: int = 0


_END = object()


#: Waits between reconnection attempts: doubling from the first, capped at the last.
RECONNECT_BACKOFF_S = (0.5, 5.0)


class VideoSource:
    """A video file or network stream, decoded by PyAV in a background thread into a bounded queue.

    A network stream that stops or errors is reopened, with backoff, for up to ``reconnect_s`` seconds (None:
    ``STREAM_RECONNECT_S`` for streams, 0 for files); the outage is logged once, frame numbers go on, no frame is
    made up, and times go on from the last frame plus the outage's length (a live stream's timestamps restart
    on a new connection), so the gap shows in ``time_s``. A stream that has a duration (a file served over HTTP)
    keeps its own times and skips what it already gave; it ends normally at its end."""

    def __init__(self, location: str | Path, queue_size: int = 8, open_timeout_s: float = 10.0,
                 read_timeout_s: float = 10.0, reconnect_s: float | None = None) -> None:
        import av

        self._av = av
        self.location = str(location)
        self.is_stream = is_stream_url(self.location)
        self.name = self.location if self.is_stream else Path(self.location).name
        if not self.is_stream:
            check_readable_file(Path(self.location))
        if reconnect_s is not None and reconnect_s < 0:
            raise SourceError(f"--reconnect {reconnect_s:g}: must be 0 (off) or more seconds")
        self.reconnect_s = (STREAM_RECONNECT_S if self.is_stream else 0.0) if reconnect_s is None else reconnect_s
        if not self.is_stream:
            self.reconnect_s = 0.0
        self._timeouts = (open_timeout_s, read_timeout_s)
        self._container = self._open()
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{self.location}: has no video stream (audio only?)")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self.info = self._probe()
        self.truncated = False
        self.error: str | None = None
        self.outages: list[tuple[float, float]] = []  # (time_s of the last frame before, seconds without frames)
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _open(self):
        av = self._av
        options = {"rtsp_transport": "tcp"} if self.location.lower().startswith("rtsp") else {}
        try:
            return av.open(self.location, options=options, timeout=self._timeouts)
        except av.error.FileNotFoundError as exc:
            raise SourceError(f"{self.location}: no such file") from exc
        except av.error.PermissionError as exc:
            raise SourceError(f"{self.location}: permission denied") from exc
        except (av.error.InvalidDataError, av.error.EOFError) as exc:
            raise SourceError(f"{self.location}: not a readable video (the file is damaged or not a video)") from exc
        except av.error.FFmpegError as exc:
            raise SourceError(f"{self.location}: cannot open ({exc.strerror or type(exc).__name__})") from exc
        except OSError as exc:
            raise SourceError(f"{self.location}: cannot open ({exc})") from exc

    def _probe(self) -> VideoInfo:
        s = self._stream
        fps = float(s.average_rate or s.guessed_rate or 0) or 30.0
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / 1_000_000
        frames = int(s.frames) if s.frames else (int(round(duration * fps)) if duration else None)
        return VideoInfo(width=s.codec_context.width, height=s.codec_context.height, fps=fps, frames=frames,
                         duration_s=duration)

    # -- decoding thread ------------------------------------------------------------------------
    def _decode(self) -> None:
        import cv2

        av = self._av
        broken = (av.error.InvalidDataError, av.error.EOFError, av.error.FFmpegError, OSError)
        clock = _StreamClock(1.0 / self.info.fps)
        index = 0
        container, stream = self._container, self._stream
        try:
            while True:
                failure: BaseException | None = None
                try:
                    for frame in container.decode(stream):
                        if self._stop.is_set():
                            return
                        time_s = clock.time_of(frame)
                        if time_s is None:  # already given before the stream was reopened
                            continue
                        bgr = _rotate(frame.to_ndarray(format="bgr24"), frame.rotation)
                        self._put(Frame(index=index, time_s=time_s, bgr=bgr, source=self.name,
                                        rgb=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
                        index += 1
                except broken as exc:
                    failure = exc
                if failure is None and (self.info.duration_s is not None or not self.reconnect_s):
                    return  # the end of a file (or of a stream with a duration)
                reopened = self._reconnect(failure, index, clock) if self.reconnect_s else None
                if reopened is None:
                    if failure is not None or self.reconnect_s:
                        self.truncated = True
                        why = type(failure).__name__ if failure is not None else "the stream ended"
                        self.error = f"{self.name}: stream broke after {index} frames ({why}); annotated what was read"
                        log.warning(self.error)
                    return
                container, stream = reopened
        except Exception as exc:  # never let the thread die silently
            self.error = f"{self.name}: decoding failed after {index} frames: {exc}"
            self._put(exc)
        finally:
            if container is not self._container:
                _close_quietly(container)
            self._put(_END)

    def _reconnect(self, failure: BaseException | None, frames: int, clock: "_StreamClock"):
        """Reopen the stream with backoff for up to ``reconnect_s``; (container, stream), or None (gave up or
        stopped). Says so once when the outage starts and once when it ends."""
        why = f"{type(failure).__name__}: {failure}" if failure is not None else "the stream ended"
        log.warning("%s: stream dropped after %d frames (%s); reconnecting for up to %gs", self.name, frames, why,
                    self.reconnect_s)
        started = time.monotonic()
        wait = RECONNECT_BACKOFF_S[0]
        while not self._stop.is_set():
            left = self.reconnect_s - (time.monotonic() - started)
            if left <= 0:
                log.warning("%s: no stream for %gs; giving up", self.name, self.reconnect_s)
                return None
            if self._stop.wait(min(wait, left)):
                return None
            wait = min(wait * 2, RECONNECT_BACKOFF_S[1])
            try:
                container = self._open()
            except SourceError:
                continue
            if not container.streams.video:
                _close_quietly(container)
                continue
            outage = time.monotonic() - started
            _close_quietly(self._container)
            self._container = container
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            clock.reconnected(outage, keep_times=self.info.duration_s is not None)
            self.outages.append((clock.last_time, outage))
            log.warning("%s: reconnected after %.1fs without frames; going on", self.name, outage)
            return container, stream
        return None

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Frame]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._decode, name=f"decode:{self.name}", daemon=True)
            self._thread.start()
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():  # closed (from another thread): nothing more will come, not even _END
                    return
                continue
            if item is _END:
                return
            if isinstance(item, Exception):
                raise SourceError(self.error or str(item)) from item
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.get(timeout=0.05)
                except queue.Empty:
                    pass
            self._thread.join()
        _close_quietly(self._container)

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _StreamClock:
    """Frame times from a stream's timestamps (PTS), strictly increasing, across reconnections."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.last_time = -1.0
        self._start_pts: int | None = None
        self._offset = 0.0
        self._skip_until: float | None = None

    def time_of(self, frame) -> float | None:
        """The frame's time in seconds, or None for a frame already given before a reconnection."""
        if frame.pts is not None and frame.time_base is not None:
            if self._start_pts is None:
                self._start_pts = frame.pts
            time_s = self._offset + float((frame.pts - self._start_pts) * frame.time_base)
        else:
            time_s = self.last_time + self.step if self.last_time >= 0 else self._offset
        if self._skip_until is not None:
            if time_s <= self._skip_until:
                return None
            self._skip_until = None
        if time_s <= self.last_time:  # keep time strictly increasing (B-frame PTS glitches)
            time_s = self.last_time + 1e-6
        self.last_time = time_s
        return time_s

    def reconnected(self, outage_s: float, keep_times: bool) -> None:
        """A new connection: a stream with a duration keeps its times (what was given is skipped); a live one
        restarts its timestamps, so its times go on from the last frame plus the outage."""
        if keep_times:
            self._skip_until = self.last_time
            return
        self._start_pts = None
        self._offset = max(self.last_time, 0.0) + self.step + outage_s


def _close_quietly(container) -> None:
    try:
        container.close()
    except Exception:  # closing a broken container must not mask the real error
        pass


def _rotate(bgr: np.ndarray, degrees_ccw: int | float | None) -> np.ndarray:
    """Apply the display rotation (counter-clockwise degrees from the stream's display matrix)."""
    if not degrees_ccw:
        return bgr
    import cv2

    angle = int(round(degrees_ccw)) % 360
    if angle == 90:
        return cv2.rotate(bgr, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if angle == 180:
        return cv2.rotate(bgr, cv2.ROTATE_180)
    if angle == 270:
        return cv2.rotate(bgr, cv2.ROTATE_90_CLOCKWISE)
    return bgr
