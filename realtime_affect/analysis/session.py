"""The analysis session: one input's face finder, tracker, student, temporal model, baseline and row measures,
opened together by ``open_session`` and closed together.

The finder is opened here and nowhere else (``tests/test_architecture.py`` holds every other module to it): the
running mode decides how it sweeps for small faces (files: in the background, merged exactly ``SWEEP_LAG``
frames later, so the rows never depend on the machine; cameras: merged when done; stills: in line), and
whether the student may run in a helper process (files on a multi-core CPU).
"""
from __future__ import annotations

import logging
import threading
from contextlib import closing
from dataclasses import replace
from enum import Enum
from typing import Iterable, Iterator

from realtime_affect.analysis.assembly import ResultAssembler, StudentRunner
from realtime_affect.analysis.modes import ImageSteps, LiveSteps, VideoSteps
from realtime_affect.analysis.options import AnalyzerOptions
from realtime_affect.errors import OptionsError
from realtime_affect.models.backends.base import AffectModel
from realtime_affect.timing import StageTimer
from realtime_affect.types import Face, Frame, FrameResult

log = logging.getLogger(__name__)

#: Frames after which a file's background sweep is merged, whatever the machine (so the results are the same
#: everywhere): time enough for ~8 ms of detector work on idle cycles; a new face a sweep finds appears this
#: much later.
SWEEP_LAG = 6


class RunningMode(str, Enum):
    """How a session reads its frames (after MediaPipe Tasks' running modes)."""

    #: Independent stills: no tracking, no temporal model; results at once.
    IMAGE = "image"
    #: A file or stream: every frame, results in frame order once the temporal model's windows are final.
    VIDEO = "video"
    #: A camera or frames from the caller: each frame's results at once (or ``lookahead`` frames late).
    LIVE = "live"


class AnalysisSession:
    """One input's analysis: ``find`` the faces of a frame, ``process`` it, ``flush`` at the end, or ``run`` a
    whole sequence of frames. Made by ``open_session``; close it (or use ``with``) to release the finder."""

    def __init__(self, model: AffectModel, mode: RunningMode, options: AnalyzerOptions, finder, steps,
                 timer: StageTimer, helper=None) -> None:
        self.model = model
        self.mode = mode
        self.options = options
        self.timer = timer
        self._finder = finder
        self._steps = steps
        self._helper = helper
        self._warned_max_faces = False  # says "more than N faces" once per session
        self._closed = False

    # -- one frame at a time -------------------------------------------------------------------
    def find(self, frame: Frame) -> list[Face]:
        """The faces of one frame, at most ``finder.max_faces``, the largest kept (the landmarker's work: may
        run ahead in another thread, in frame order). Timed as the "landmarks" stage."""
        self.timer.count_frame()
        rgb, frame.rgb = frame.rgb, None  # frames wait for their temporal results with ``bgr`` alone
        with self.timer.stage("landmarks"):
            faces = self._finder.detect(rgb if rgb is not None else _rgb(frame.bgr), frame.time_s)
        return self._keep_largest(faces)

    def process(self, frame: Frame, faces: list[Face] | None = None) -> list[FrameResult]:
        """Feed one frame (and its faces, when ``find`` already ran on it); returns the frames whose results
        are now final: one for images and live frames, none or several for videos."""
        if faces is None:
            faces = self.find(frame)
        return self._steps.step(frame, faces)

    def flush(self) -> list[FrameResult]:
        """End of input: every frame still waiting (video: settles every open track)."""
        return self._steps.flush()

    # -- a whole input -------------------------------------------------------------------------
    def run(self, frames: Iterable[Frame], stop: threading.Event | None = None,
            overlap: bool = False) -> Iterator[FrameResult]:
        """Results for every frame of ``frames``, then ``flush``; ends early when ``stop`` is set, after emitting
        every frame processed so far. With ``overlap`` a worker thread decodes and finds the faces of the next
        frames while this thread runs the models on the current one (``faces/ahead.py``)."""
        if overlap:
            from realtime_affect.faces.ahead import faces_ahead

            with closing(faces_ahead(frames, self.find, stop=stop)) as found:  # joined before the finder closes
                for frame, faces in found:
                    yield from self.process(frame, faces)
        else:
            for frame in frames:
                if stop is not None and stop.is_set():
                    break
                yield from self.process(frame)
        yield from self.flush()

    def _keep_largest(self, faces: list[Face]) -> list[Face]:
        max_faces = self.options.finder.max_faces
        if len(faces) <= max_faces:
            return faces
        if not self._warned_max_faces:
            log.warning("more than %d faces in view: keeping the largest (raise --max-faces to keep more)", max_faces)
            self._warned_max_faces = True
        return sorted(faces, key=lambda f: -float(f.box[2] * f.box[3]))[:max_faces]

    def close(self) -> None:
        """Release the finder (its sweep threads first) and the student's helper process."""
        if self._closed:
            return
        self._closed = True
        try:
            self._finder.close()
        finally:
            if self._helper is not None:
                self._helper.close()

    def __enter__(self) -> "AnalysisSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_session(model: AffectModel, mode: RunningMode | str, options: AnalyzerOptions | None = None, *,
                 timer: StageTimer | None = None, lookahead: int = 0, helper_process: bool = False,
                 background_sweeps: bool = False) -> AnalysisSession:
    """Open the finder (and, for files, the student's helper process) and the per-stream state of one input.

    ``mode``: IMAGE, VIDEO or LIVE. ``lookahead`` (LIVE): report each frame that many frames late, with that
    many frames of future context. ``helper_process`` (VIDEO): run the ONNX student in a helper process at idle
    priority where it helps (``AnalyzerOptions.student_process``). ``background_sweeps`` (LIVE): merge full-range
    sweeps when they are done instead of in line (a camera: no frame waits; default off, so frames from a caller
    give the same rows on every machine)."""
    from realtime_affect.faces.finder import FaceFinder
    from realtime_affect.models import student_process

    mode = RunningMode(mode)
    options = (options or AnalyzerOptions()).validate()
    timer = timer or StageTimer()
    if lookahead < 0:
        raise OptionsError(f"lookahead is {lookahead}: it must be 0 or more frames")
    if mode is RunningMode.IMAGE and options.baseline == "auto":
        raise OptionsError("--baseline auto learns each person's neutral over time: use it with a video or a "
                           "camera, or give the person's neutral face with --baseline-from")
    finder_options = _finder_options(options, mode, background_sweeps)
    helper = student_process.start_for(model, options) if mode is RunningMode.VIDEO and helper_process else None
    try:  # the helper starts beside the landmarker
        finder = FaceFinder(finder_options, video=mode is not RunningMode.IMAGE)
    except BaseException:
        if helper is not None:
            helper.close()
        raise
    try:
        student = StudentRunner(model, timer, helper)
        assemble = ResultAssembler(model, options.baseline, options.eyes)
        temporal = bool(options.temporal and model.sequence is not None)
        if mode is RunningMode.IMAGE:
            steps = ImageSteps(student, assemble)
        elif mode is RunningMode.VIDEO:
            steps = VideoSteps(model, student, assemble, options.tracker, temporal, options.hop, timer)
        else:
            steps = LiveSteps(model, student, assemble, options.tracker, temporal, lookahead, timer)
    except BaseException:
        finder.close()
        if helper is not None:
            helper.close()
        raise
    return AnalysisSession(model, mode, options, finder, steps, timer, helper)


def _finder_options(options: AnalyzerOptions, mode: RunningMode, background: bool):
    """The finder's options for this mode: files sweep in the background, merged ``SWEEP_LAG`` frames later;
    cameras merge background sweeps when done; stills and callers' frames sweep in line."""
    finder = options.finder
    if mode is RunningMode.VIDEO:
        return replace(finder, background_sweeps=False, sweep_lag=SWEEP_LAG, idle_sweeps=idle_sweeps(options))
    if mode is RunningMode.LIVE and background:
        return replace(finder, background_sweeps=True, sweep_lag=0, idle_sweeps=idle_sweeps(options))
    return replace(finder, background_sweeps=False, sweep_lag=0, idle_sweeps=False)


def idle_sweeps(options: AnalyzerOptions) -> bool:
    """Whether background sweeps run at idle priority (``finder.idle_sweeps``; by default with at least 2 cores,
    where the landmarker leaves cycles free). A file's rows never depend on it; in live mode, where a sweep joins
    when it is done, a busy machine delays the faces it finds instead of every frame."""
    from realtime_affect.system.cores import usable_cores

    finder = options.finder
    return finder.idle_sweeps if finder.idle_sweeps is not None else usable_cores() >= 2


def _rgb(bgr):
    import cv2

    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
