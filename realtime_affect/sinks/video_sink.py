"""Annotated video sink (H.264 via PyAV): every input frame, with overlays, at the input's timestamps.

Failures are told apart: one that is the output's fault (disk full, no permission, read-only file system)
raises ``SinkWriteError`` and stops the run; one that is not (the encoder or muxer refuses a frame) ends the
video where it is (still playable) and raises ``SinkFailed``: a ``SinkSet`` drops this sink and the other
outputs go on.

MP4 and MOV outputs are written fragmented (a fragment per key frame, a key frame every 2 s), so a video whose
writer was killed plays up to its last fragment instead of not at all (a plain MP4's index is written last).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from realtime_affect.errors import is_output_fault
from realtime_affect.sinks import SinkError, SinkFailed, SinkWriteError, prepare_output
from realtime_affect.types import FrameResult
from realtime_affect.ui.overlay import OverlayState, draw

TIME_BASE = Fraction(1, 90000)
#: Fragmented MP4: playable up to the last whole fragment when the writer is killed.
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
KEYFRAME_EVERY_S = 2.0


class VideoSink:
    """Writes one output frame per input frame; PTS from each frame's ``time_s`` keeps the timing."""

    def __init__(self, path: str | Path, fps: float = 30.0, overwrite: bool = False, size: str = "auto") -> None:
        """``size``: ``auto`` (small inputs enlarged, readable text: ``ui.layout.video_zoom``) or ``input``."""
        self.path = prepare_output(path, overwrite)
        self.size = size
        self._zoom: tuple[float, float] | None = None
        self.fps = fps
        self.frames = 0
        self._container = None
        self._stream = None
        self._state = OverlayState()
        self._last_pts = -1
        self._failed = False

    def _open(self, width: int, height: int) -> None:
        import av

        try:
            fragmented = self.path.suffix.lower() in (".mp4", ".mov", ".m4v")
            self._container = av.open(str(self.path), "w", options=FRAGMENTED if fragmented else {})
        except (OSError, av.error.FFmpegError) as exc:
            raise SinkError(f"{self.path}: cannot write ({exc})") from exc
        stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(100000))
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        # The encoder must count time as finely as the stream: with its default (1 / frame rate) PyAV
        # rescales every frame's PTS onto that grid, irregular timestamps collide, and the muxer refuses
        # the non-increasing DTS ("Invalid argument").
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.gop_size = max(1, round(self.fps * KEYFRAME_EVERY_S))
        stream.options = {"preset": "veryfast", "crf": "23", "bf": "0"}  # no B-frames: no decode delay to shift times
        self._stream = stream

    def write(self, result: FrameResult) -> None:
        """One input frame with the standard overlay drawn on it."""
        if self._zoom is None:  # from the first frame: the video keeps that size
            from realtime_affect.ui.layout import video_zoom

            h, w = result.frame.bgr.shape[:2]
            self._zoom = video_zoom(w, h, self.size)
        zoom, min_scale = self._zoom
        self.write_image(draw(result.frame.bgr, result, self._state, zoom=zoom, min_scale=min_scale),
                         result.frame.time_s)

    def write_image(self, img, time_s: float) -> None:
        """An already drawn BGR frame shown at ``time_s`` (for custom overlays such as dashboards)."""
        import av

        if self._failed:
            raise SinkFailed(f"{self.path}: the video has stopped (the encoder refused a frame)")
        if self._container is None:
            self._open(img.shape[1], img.shape[0])
        h, w = self._stream.height, self._stream.width
        if img.shape[0] - h not in (0, 1) or img.shape[1] - w not in (0, 1):  # a frame of another size
            import cv2

            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        img = img[:h, :w]
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        pts = int(round(time_s / TIME_BASE))
        frame.pts = max(pts, self._last_pts + 1)
        frame.time_base = TIME_BASE
        self._last_pts = frame.pts
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            self._fail(exc)
            return
        self.frames += 1

    def _fail(self, exc: BaseException) -> None:
        if is_output_fault(exc):
            raise SinkWriteError(f"{self.path}: write failed ({exc})") from exc
        self._failed = True
        message = (f"{self.path}: the video stops after {self.frames} frames: the encoder refused a frame "
                   f"({type(exc).__name__}: {exc}); the other outputs are complete")
        try:
            self._finish(flush=True)  # the frames the encoder already took still go out, as far as they can
        except SinkFailed:
            pass
        raise SinkFailed(message) from exc

    def _finish(self, flush: bool) -> None:
        import av

        container, self._container = self._container, None
        if container is None:
            return
        try:
            if flush:
                for packet in self._stream.encode():
                    container.mux(packet)
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            if is_output_fault(exc):
                raise SinkWriteError(f"{self.path}: write failed ({exc})") from exc
            if not self._failed:
                self._failed = True
                raise SinkFailed(f"{self.path}: the video's last frames could not be written ({exc})") from exc
        finally:
            try:
                container.close()
            except (OSError, av.error.FFmpegError, ValueError) as exc:
                if is_output_fault(exc):
                    raise SinkWriteError(f"{self.path}: write failed ({exc})") from exc

    def close(self) -> None:
        self._finish(flush=True)

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
