"""What an analysis session is asked to do: nested options (finder, tracker, eyes) and the session's own, validated
in one place (``AnalyzerOptions.validate``, run when the options are made and again when a session opens).

    AnalyzerOptions(finder=FinderOptions(max_faces=1, full_range=False), temporal=False)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from realtime_affect.errors import OptionsError
from realtime_affect.faces.eyes import EyeOptions
from realtime_affect.faces.finder_options import FinderOptions
from realtime_affect.faces.tracking import TrackerOptions

if TYPE_CHECKING:  # pragma: no cover
    from realtime_affect.temporal.baseline import BaselineCorrector, NeutralReading

__all__ = ["AnalyzerOptions", "FinderOptions", "TrackerOptions", "EyeOptions"]


@dataclass
class AnalyzerOptions:
    """Options of one analysis: where faces come from (``finder``), how they are followed (``tracker``), how
    eyes are read (``eyes``, shared by the rows and the driver monitor), and what the session does with them."""

    #: Finding faces: how many, how small, full-range sweeps (``faces/finder.py``).
    finder: FinderOptions = field(default_factory=FinderOptions)
    #: Following faces across frames (``faces/tracking.py``).
    tracker: TrackerOptions = field(default_factory=TrackerOptions)
    #: Reading eye state for every row (and the driver monitor, which reads the rows' state).
    eyes: EyeOptions = field(default_factory=EyeOptions)
    #: Use the sequence model when the model has one (off: per-frame student predictions).
    temporal: bool = True
    #: Hop between centred windows (default: half a window).
    hop: int | None = None
    #: Videos: analyse about this many frames per second (by timestamp), rows only for those frames, the
    #: temporal model's windows over them; None: every frame.
    sample_fps: float | None = None
    #: Files on a multi-core CPU: run the ONNX student in a helper process at idle priority
    #: (models/student_process.py); None: when it can help (see ``student_process.wanted``), False: never.
    student_process: bool | None = None
    #: Per-person neutral baseline (``temporal/baseline.py``): a ``NeutralReading`` applied to every face,
    #: "auto" (each track learns its own from its calm frames), a ``BaselineCorrector`` (kept by the caller, e.g.
    #: to save what it learnt), or None (readings as the model gives them).
    baseline: Union["NeutralReading", "BaselineCorrector", str, None] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> "AnalyzerOptions":
        """Raise ``OptionsError`` (one line, naming the option) for a value out of range; returns ``self``."""
        f, t = self.finder, self.tracker
        _check(isinstance(f.max_faces, int) and f.max_faces >= 1, "finder.max_faces", f.max_faces, "at least 1")
        _check(isinstance(f.sweep_every, int) and f.sweep_every >= 1, "finder.sweep_every", f.sweep_every,
               "at least 1 frame")
        _check(f.min_face_size >= 0, "finder.min_face_size", f.min_face_size, "0 or more pixels")
        _check(0.0 <= f.unfitted_min_score <= 1.0, "finder.unfitted_min_score", f.unfitted_min_score,
               "between 0 and 1")
        _check(0.0 < f.overlap <= 1.0, "finder.overlap", f.overlap, "above 0, at most 1")
        _check(isinstance(f.sweep_lag, int) and f.sweep_lag >= 0, "finder.sweep_lag", f.sweep_lag, "0 or more")
        _check(t.min_hits >= 1, "tracker.min_hits", t.min_hits, "at least 1")
        _check(t.max_gap_s >= 0, "tracker.max_gap_s", t.max_gap_s, "0 or more seconds")
        _check(0.0 <= t.min_iou <= 1.0, "tracker.min_iou", t.min_iou, "between 0 and 1")
        _check(t.max_centre_distance > 0, "tracker.max_centre_distance", t.max_centre_distance, "above 0")
        _check(self.hop is None or (isinstance(self.hop, int) and self.hop >= 1), "hop", self.hop,
               "at least 1 frame")
        _check(self.sample_fps is None or (math.isfinite(self.sample_fps) and self.sample_fps > 0), "sample_fps",
               self.sample_fps, "a positive number of frames per second")
        if isinstance(self.baseline, str) and self.baseline != "auto":
            raise OptionsError(f"baseline must be a NeutralReading, 'auto' or None (got {self.baseline!r})")
        return self


def _check(ok: bool, name: str, value: object, wanted: str) -> None:
    if not ok:
        raise OptionsError(f"{name} is {value!r}: it must be {wanted}", option=name, wanted=wanted)
