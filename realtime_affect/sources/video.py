"""Video files and network streams, decoded by PyAV in a background thread into a bounded queue; time
comes from the stream's timestamps (PTS), never from frame counts. PyAV is imported when a video is opened."""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from realtime_affect.sources.base import SourceError, check_readable_file, is_stream_url
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


class VideoSource:
    """A video file or network stream, decoded by PyAV in a background thread into a bounded queue."""

    def __init__(self, location: str | Path, queue_size: int = 8, open_timeout_s: float = 10.0,
                 read_timeout_s: float = 10.0) -> None:
        import av

        self._av = av
        self.location = str(location)
        self.name = self.location if is_stream_url(self.location) else Path(self.location).name
        if not is_stream_url(self.location):
            check_readable_file(Path(self.location))
        options = {"rtsp_transport": "tcp"} if self.location.lower().startswith("rtsp") else {}
        try:
            self._container = av.open(self.location, options=options, timeout=(open_timeout_s, read_timeout_s))
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
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{self.location}: has no video stream (audio only?)")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self.info = self._probe()
        self.truncated = False
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
        index = 0
        start_pts = None
        last_time = -1.0
        step = 1.0 / self.info.fps
        try:
            for frame in self._container.decode(self._stream):
                if self._stop.is_set():
                    return
                if frame.pts is not None and frame.time_base is not None:
                    if start_pts is None:
                        start_pts = frame.pts
                    time_s = float((frame.pts - start_pts) * frame.time_base)
                else:
                    time_s = last_time + step if last_time >= 0 else 0.0
                if time_s <= last_time:  # keep time strictly increasing (B-frame PTS glitches)
                    time_s = last_time + 1e-6
                last_time = time_s
                bgr = _rotate(frame.to_ndarray(format="bgr24"), frame.rotation)
                self._put(Frame(index=index, time_s=time_s, bgr=bgr, source=self.name,
                                rgb=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
                index += 1
        except (av.error.InvalidDataError, av.error.EOFError, av.error.FFmpegError, OSError) as exc:
            self.truncated = True
            self.error = f"{self.name}: stream broke after {index} frames ({type(exc).__name__}); " \
                         f"annotated what was read"
            log.warning(self.error)
        except Exception as exc:  # never let the thread die silently
            self.error = f"{self.name}: decoding failed after {index} frames: {exc}"
            self._put(exc)
        finally:
            self._put(_END)

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
            item = self._queue.get()
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
        try:
            self._container.close()
        except Exception:  # closing a broken container must not mask the real error
            pass

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
