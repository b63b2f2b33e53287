"""The Python API for embedding: open a model once, then analyse videos, streams or images.

    from realtime_affect import Analyzer
    with Analyzer() as analyzer:
        for result in analyzer.video("clip.mp4"):
            happy = [f.track_id for f in result.faces if f.prediction.top_expression == "happiness"]
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from realtime_affect.analysis.options import AnalyzerOptions
from realtime_affect.types import FrameResult


class Analyzer:
    """Holds a loaded model; every call to ``video``/``images``/``camera`` analyses one input in its own analysis
    session (fresh tracking). ``stop()`` ends the loops running now, and none that start after it."""

    def __init__(self, model: str | Path | None = None, backend: str = "auto", device: str = "cpu",
                 options: AnalyzerOptions | None = None) -> None:
        from realtime_affect.models.defaults import resolve_model
        from realtime_affect.models.loader import open_model
        from realtime_affect.system.cores import model_threads

        self.options = options or AnalyzerOptions()
        self.model = open_model(resolve_model(model, backend), backend=backend, device=device,
                                threads=model_threads())  # the landmarker has its own thread (system/cores.py)
        self._running: set[threading.Event] = set()  # one stop flag per loop running now
        self._lock = threading.Lock()

    @contextmanager
    def _loop(self) -> Iterator[threading.Event]:
        """A stop flag for one loop, set by ``stop()`` while the loop runs."""
        event = threading.Event()
        with self._lock:
            self._running.add(event)
        try:
            yield event
        finally:
            with self._lock:
                self._running.discard(event)

    def video(self, location: str | Path, callback: Callable[[FrameResult], None] | None = None,
              reconnect_s: float | None = None) -> Iterator[FrameResult]:
        """Results for every frame of a video file or stream URL, in order (a stream that drops is retried
        for ``reconnect_s`` seconds: None, 30 s for streams; files are never retried)."""
        from realtime_affect.runner import analyze_video
        from realtime_affect.sources import VideoSource

        with self._loop() as stop, VideoSource(location, reconnect_s=reconnect_s) as source:
            for result in analyze_video(self.model, source, self.options, stop=stop):
                if callback is not None:
                    callback(result)
                yield result

    def images(self, paths: Sequence[str | Path]) -> Iterator[FrameResult]:
        """Results for still images (or folders of them), each on its own."""
        from realtime_affect.runner import analyze_images
        from realtime_affect.sources import list_images

        files: list[Path] = []
        for path in paths:
            files.extend(list_images(path))
        with self._loop() as stop:
            yield from analyze_images(self.model, files, self.options, stop=stop)

    def measure_baseline(self, paths: Sequence[str | Path]):
        """A person's neutral reading from images and/or videos of their neutral face; pass it as
        ``AnalyzerOptions(baseline=...)`` (or set ``analyzer.options.baseline``) to read every face relative
        to it, or keep it with ``temporal.baseline.save_baseline``."""
        from realtime_affect.runner import measure_baseline

        with self._loop() as stop:
            return measure_baseline(self.model, paths, self.options, stop=stop)

    def camera(self, device: int | str = 0, lookahead: int = 0,
               callback: Callable[[FrameResult], None] | None = None) -> Iterator[FrameResult]:
        """Live results from a camera (newest frame wins); ends on ``stop()`` or when the camera stops."""
        from realtime_affect.runner import analyze_camera
        from realtime_affect.sources import CameraSource

        with self._loop() as stop, CameraSource(device) as source:
            for result in analyze_camera(self.model, source, self.options, lookahead, stop=stop):
                if callback is not None:
                    callback(result)
                yield result

    def session(self) -> "FrameSession":
        """Feed frames you already have (numpy BGR + timestamp) and get results at once, with tracking."""
        return FrameSession(self)

    def stop(self) -> None:
        """Ask the ``video``/``images``/``camera`` loops running now (in other threads) to finish after the current
        frame; loops started later run as usual."""
        with self._lock:
            for event in self._running:
                event.set()

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> "Analyzer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameSession:
    """Frames from the caller: ``process(bgr, time_s)`` returns that frame's results immediately.

    Tracking and the temporal model keep their state between calls; use one session per video stream,
    and close it (or use ``with``) to release the landmarker.
    """

    def __init__(self, analyzer: Analyzer) -> None:
        from realtime_affect.analysis.session import RunningMode, open_session

        self._session = open_session(analyzer.model, RunningMode.LIVE, analyzer.options)
        self._index = 0

    def process(self, bgr, time_s: float) -> FrameResult:
        """Results for one BGR frame (H, W, 3) uint8 taken at ``time_s`` seconds (must grow)."""
        import numpy as np

        from realtime_affect.types import Frame

        image = np.asarray(bgr)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
        frame = Frame(index=self._index, time_s=float(time_s), bgr=image, source="frames")
        self._index += 1
        return self._session.process(frame)[0]

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "FrameSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
