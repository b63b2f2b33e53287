"""Annotated video sink (H.264 via PyAV): every input frame, with overlays, at the input's timestamps."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from ..overlay import OverlayState, draw
from ..types import FrameResult
from . import SinkError, prepare_output

TIME_BASE = Fraction(1, 90000)


class VideoSink:
    """Writes one output frame per input frame; PTS from each frame's ``time_s`` keeps the timing."""

    def __init__(self, path: str | Path, fps: float = 30.0, overwrite: bool = False) -> None:
        self.path = prepare_output(path, overwrite)
        self.fps = fps
        self.frames = 0
        self._container = None
        self._stream = None
        self._state = OverlayState()
        self._last_pts = -1

    def _open(self, width: int, height: int) -> None:
        import av

        try:
            self._container = av.open(str(self.path), "w")
        except (OSError, av.error.FFmpegError) as exc:
            raise SinkError(f"{self.path}: cannot write ({exc})") from exc
        stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(100000))
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        stream.options = {"preset": "veryfast", "crf": "23"}
        self._stream = stream

    def write(self, result: FrameResult) -> None:
        """One input frame with the standard overlay drawn on it."""
        self.write_image(draw(result.frame.bgr, result, self._state), result.frame.time_s)

    def write_image(self, img, time_s: float) -> None:
        """An already drawn BGR frame shown at ``time_s`` (for custom overlays such as dashboards)."""
        import av

        if self._container is None:
            self._open(img.shape[1], img.shape[0])
        img = img[: self._stream.height, : self._stream.width]
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        pts = int(round(time_s / TIME_BASE))
        frame.pts = max(pts, self._last_pts + 1)
        frame.time_base = TIME_BASE
        self._last_pts = frame.pts
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (OSError, av.error.FFmpegError) as exc:
            raise SinkError(f"{self.path}: write failed ({exc})") from exc
        self.frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
