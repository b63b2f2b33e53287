"""Frame sources: video files and network streams (PyAV, decoded ahead in a thread), images.

Every source yields ``Frame`` objects with time taken from the stream (PTS), never from frame counts.
Unusable input raises ``SourceError`` with a one-line message when the source is opened; a stream
that breaks part way ends cleanly with ``truncated`` set, after every frame read so far.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


class SourceError(RuntimeError):
    """An input cannot be read at all (missing, not a video, empty, unreachable)."""


def is_stream_url(text: str) -> bool:
    return text.lower().startswith(STREAM_PREFIXES)


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


def check_readable_file(path: Path) -> None:
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a directory (use --images for a folder of images)")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: permission denied")


def read_image(path: Path) -> np.ndarray:
    """Any common image as 8-bit BGR: greyscale, RGBA and 16-bit images are converted."""
    import cv2

    check_readable_file(path)
    data = np.fromfile(str(path), dtype=np.uint8)  # works with non-ASCII names everywhere
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SourceError(f"{path}: not a readable image")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(img)


def list_images(location: str | Path) -> list[Path]:
    """The images of a folder (sorted by name) or a single image file."""
    path = Path(location)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise SourceError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return images


class ImageSource:
    """Still images, each on its own (no tracking, no temporal model)."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self.name = str(self.paths[0].parent) if len(self.paths) > 1 else str(self.paths[0])
        self.truncated = False
        self.error: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            try:
                bgr = read_image(path)
            except SourceError as exc:
                if len(self.paths) == 1:
                    raise
                log.warning("skipped %s", exc)
                continue
            yield Frame(index=index, time_s=0.0, bgr=bgr, source=path.name, image_path=str(path))

    def close(self) -> None:
        pass

    def __enter__(self) -> "ImageSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
            from .native_logs import quiet_native_stderr

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
