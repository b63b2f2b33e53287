"""Run sources through the analyzer: one generator per input, stoppable between frames.

Shared by the CLI and the Python API; nothing here chooses exit codes or prints.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Iterator, Sequence

from realtime_affect.analysis.options import AnalyzerOptions
from realtime_affect.analysis.session import RunningMode, open_session
from realtime_affect.faces.ahead import timed_frames
from realtime_affect.models.backends.base import AffectModel
from realtime_affect.sources import ImageSource, VideoSource
from realtime_affect.sources.sampling import sample_frames
from realtime_affect.timing import StageTimer
from realtime_affect.types import FrameResult

log = logging.getLogger(__name__)


def analyze_video(model: AffectModel, source: VideoSource, options: AnalyzerOptions | None = None,
                  timer: StageTimer | None = None, stop: threading.Event | None = None,
                  overlap: bool = True) -> Iterator[FrameResult]:
    """Results for every frame of an opened video source, in order; ends early when ``stop`` is set,
    after emitting every frame processed so far. With ``overlap`` a worker thread decodes and finds the
    faces of the next frames while this thread runs the models on the current one (``faces/ahead.py``), and on
    a multi-core CPU the student runs in a helper process at idle priority (``models/student_process.py``).
    Full-range sweeps after the first run in the background and are merged ``SWEEP_LAG`` frames later
    (``analysis/session.py``), on idle-priority threads where that helps."""
    options = options or AnalyzerOptions()
    timer = timer or StageTimer()
    with open_session(model, RunningMode.VIDEO, options, timer=timer, helper_process=overlap) as session:
        yield from session.run(timed_frames(sample_frames(source, options.sample_fps), timer), stop, overlap)


def analyze_images(model: AffectModel, paths: Sequence[str | Path], options: AnalyzerOptions | None = None,
                   timer: StageTimer | None = None, stop: threading.Event | None = None) -> Iterator[FrameResult]:
    """Results for still images, each on its own (no tracking, no temporal model)."""
    with open_session(model, RunningMode.IMAGE, options, timer=timer) as session, ImageSource(paths) as source:
        for frame in source:
            if stop is not None and stop.is_set():
                break
            yield from session.process(frame)


def analyze_camera(model: AffectModel, source, options: AnalyzerOptions | None = None, lookahead: int = 0,
                   timer: StageTimer | None = None, stop: threading.Event | None = None) -> Iterator[FrameResult]:
    """Results per camera frame as soon as each is processed (newest frame wins, nothing queues); full-range
    sweeps run in the background, so no frame waits for one."""
    with open_session(model, RunningMode.LIVE, options, timer=timer, lookahead=lookahead,
                      background_sweeps=True) as session:
        yield from session.run(source, stop)


def measure_baseline(model: AffectModel, paths: Sequence[str | Path], options: AnalyzerOptions | None = None,
                     stop: threading.Event | None = None, sample_fps: float = 10.0):
    """A person's neutral reading (``temporal.baseline.NeutralReading``) from images and/or videos of their
    neutral face: the largest face of every image, and of every analysed video frame (about ``sample_fps``
    a second, read as a video run reads them: the temporal model on), summarised by the median of each value.
    Raises ``BaselineError`` when no face is found."""
    from dataclasses import replace

    from realtime_affect.sources.base import IMAGE_SUFFIXES
    from realtime_affect.temporal.baseline import NeutralReading

    options = options or AnalyzerOptions()
    options = replace(options, baseline=None, finder=replace(options.finder, max_faces=1))
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
