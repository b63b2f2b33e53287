"""Run sources through the analyzer: one generator per input, stoppable between frames.

Shared by the CLI and the Python API; nothing here chooses exit codes or prints.
"""
from __future__ import annotations

import logging
import threading
from contextlib import closing, nullcontext
from pathlib import Path
from typing import Iterator, Sequence

from realtime_affect.faces.ahead import faces_ahead, timed_frames
from realtime_affect.faces.finder import FaceFinder, FinderOptions
from realtime_affect.models import student_process
from realtime_affect.models.backends.base import AffectModel
from realtime_affect.pipeline import AnalyzerOptions, StreamAnalyzer
from realtime_affect.sources import ImageSource, VideoSource
from realtime_affect.sources.sampling import sample_frames
from realtime_affect.system.cores import usable_cores
from realtime_affect.timing import StageTimer
from realtime_affect.types import FrameResult

log = logging.getLogger(__name__)


#: Frames after which a file's background sweep is merged, whatever the machine (so the results are the same
#: everywhere): time enough for ~8 ms of detector work on idle cycles; a new face a sweep finds appears this
#: much later.
SWEEP_LAG = 6


def _finder(options: AnalyzerOptions, video: bool, background_sweeps: bool = False, sweep_lag: int = 0,
            idle_sweeps: bool = False) -> FaceFinder:
    return FaceFinder(FinderOptions(max_faces=options.max_faces, sweep_every=options.sweep_every,
                                    min_face_size=options.min_face_size, full_range=options.full_range,
                                    unfitted_min_score=options.unfitted_min_score,
                                    background_sweeps=background_sweeps, sweep_lag=sweep_lag,
                                    idle_sweeps=idle_sweeps), video=video)


def _idle_sweeps(options: AnalyzerOptions) -> bool:
    """Whether background sweeps run at idle priority (``options.idle_sweeps``; by default with at least 2
    cores, where the landmarker leaves cycles free). A file's rows never depend on it; in live mode, where a
    sweep joins when it is done, a busy machine delays the faces it finds instead of every frame."""
    return options.idle_sweeps if options.idle_sweeps is not None else usable_cores() >= 2


def analyze_video(model: AffectModel, source: VideoSource, options: AnalyzerOptions | None = None,
                  timer: StageTimer | None = None, stop: threading.Event | None = None,
                  overlap: bool = True) -> Iterator[FrameResult]:
    """Results for every frame of an opened video source, in order; ends early when ``stop`` is set,
    after emitting every frame processed so far. With ``overlap`` a worker thread decodes and finds the
    faces of the next frames while this thread runs the models on the current one (``faces/ahead.py``), and on
    a multi-core CPU the student runs in a helper process at idle priority (``models/student_process.py``).
    Full-range sweeps after the first run in the background and are merged ``SWEEP_LAG`` frames later
    (``faces/finder.py``), on idle-priority threads where that helps."""
    options = options or AnalyzerOptions()
    timer = timer or StageTimer()
    helper = student_process.start_for(model, options) if overlap else None  # starts beside the landmarker
    finder = _finder(options, video=True, sweep_lag=SWEEP_LAG, idle_sweeps=_idle_sweeps(options))
    with helper or nullcontext(), finder as landmarks:
        analyzer = StreamAnalyzer(model, landmarks, options, timer=timer, student_process=helper)
        frames = timed_frames(sample_frames(source, options.sample_fps), timer)
        if overlap:
            with closing(faces_ahead(frames, analyzer.find, stop=stop)) as found:  # joined before the finder closes
                for frame, faces in found:
                    yield from analyzer.process(frame, faces)
        else:
            for frame in frames:
                if stop is not None and stop.is_set():
                    break
                yield from analyzer.process(frame)
        yield from analyzer.flush()


def analyze_images(model: AffectModel, paths: Sequence[str | Path], options: AnalyzerOptions | None = None,
                   timer: StageTimer | None = None, stop: threading.Event | None = None) -> Iterator[FrameResult]:
    """Results for still images, each on its own (no tracking, no temporal model)."""
    options = options or AnalyzerOptions()
    timer = timer or StageTimer()
    with _finder(options, video=False) as landmarks, ImageSource(paths) as source:
        analyzer = StreamAnalyzer(model, landmarks, options, stills=True, timer=timer)
        for frame in source:
            if stop is not None and stop.is_set():
                break
            yield from analyzer.process(frame)


def analyze_camera(model: AffectModel, source, options: AnalyzerOptions | None = None, lookahead: int = 0,
                   timer: StageTimer | None = None, stop: threading.Event | None = None) -> Iterator[FrameResult]:
    """Results per camera frame as soon as each is processed (newest frame wins, nothing queues)."""
    from realtime_affect.pipeline import LiveAnalyzer

    options = options or AnalyzerOptions()
    timer = timer or StageTimer()
    finder = _finder(options, video=True, background_sweeps=True, idle_sweeps=_idle_sweeps(options))
    with finder as landmarks:  # no frame waits for a sweep
        analyzer = LiveAnalyzer(model, landmarks, options, lookahead=lookahead, timer=timer)
        for frame in source:
            if stop is not None and stop.is_set():
                break
            yield from analyzer.process(frame)
        yield from analyzer.flush()


def measure_baseline(model: AffectModel, paths: Sequence[str | Path], options: AnalyzerOptions | None = None,
                     stop: threading.Event | None = None, sample_fps: float = 10.0):
    """A person's neutral reading (``temporal.baseline.NeutralReading``) from images and/or videos of their
    neutral face: the largest face of every image, and of every analysed video frame (about ``sample_fps``
    a second, read as a video run reads them: the temporal model on), summarised by the median of each value.
    Raises ``BaselineError`` when no face is found."""
    from dataclasses import replace

    from realtime_affect.sources.base import IMAGE_SUFFIXES
    from realtime_affect.temporal.baseline import NeutralReading

    options = replace(options or AnalyzerOptions(), baseline=None, max_faces=1)
    images = [Path(p) for p in paths if Path(p).suffix.lower() in IMAGE_SUFFIXES]
    videos = [p for p in paths if Path(p).suffix.lower() not in IMAGE_SUFFIXES]
    readings = []
    if images:
        readings += [r.faces[0].prediction for r in analyze_images(model, images, options, stop=stop) if r.faces]
    for location in videos:
        with VideoSource(location) as source:
            video_options = replace(options, sample_fps=sample_fps)
            readings += [r.faces[0].prediction for r in analyze_video(model, source, video_options, stop=stop)
                         if r.faces]
    return NeutralReading.from_predictions(readings)
