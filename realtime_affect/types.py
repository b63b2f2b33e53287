"""Plain data passed between pipeline stages: frames in, faces in the middle, results out.

numpy at every boundary; no heavy imports.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS


@dataclass
class Frame:
    """One decoded picture. ``time_s`` comes from the stream (PTS) or the caller's clock."""

    index: int
    time_s: float
    bgr: np.ndarray
    source: str = ""
    #: For image input: the file this frame came from (each image stands alone).
    image_path: str | None = None
    #: time.monotonic() when the frame was captured (cameras), for latency measurement.
    captured_at: float | None = None
    #: The same picture in RGB order (MediaPipe's input) when the source made it in its own thread, off the
    #: landmarker's critical path; the face finder takes it (and drops it) instead of converting ``bgr``.
    rgb: np.ndarray | None = None

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])


@dataclass
class Face:
    """One face found in a frame, in pixels of that frame.

    ``box`` is (x, y, w, h); ``landmarks`` is (478, 3) with x, y in pixels and z relative;
    ``blendshapes`` is (52,) MediaPipe scores or None; ``pose`` is MediaPipe's 4x4 facial
    transformation matrix or None. ``fitted`` is False for a face the full-range detector found but
    the landmarker could not fit (profile, heavy occlusion): ``landmarks`` are then the five alignment
    points (5, 3) from the detector's keypoints, and its reading is less reliable. A face is made once by the
    finder and never changed after (``dataclasses.replace`` makes a changed copy); its track id lives on the
    result (``FaceResult.track_id``).
    """

    box: np.ndarray
    landmarks: np.ndarray
    score: float = 1.0
    blendshapes: np.ndarray | None = None
    pose: np.ndarray | None = None
    fitted: bool = True


@dataclass
class Prediction:
    """Model outputs for one face: probabilities and valence/arousal."""

    expression: np.ndarray  # (8,) probabilities summing to 1
    action_units: np.ndarray  # (12,) independent probabilities
    valence_arousal: np.ndarray  # (2,) in [-1, 1]
    #: The top class's probability after the model's calibration (temperature scaling; see
    #: ``calibrated_confidence``): how often a reading this confident is right. NaN when not computed.
    confidence: float = float("nan")

    @property
    def top_expression(self) -> str:
        return EXPRESSIONS[int(np.argmax(self.expression))]

    @property
    def valence(self) -> float:
        return float(self.valence_arousal[0])

    @property
    def arousal(self) -> float:
        return float(self.valence_arousal[1])

    def au(self, name: str) -> float:
        """Probability of one action unit, by name such as ``"AU12"``."""
        return float(self.action_units[ACTION_UNITS.index(name)])


def calibrated_confidence(expression: np.ndarray, temperature: float) -> float:
    """The top probability of ``softmax(log(p) / temperature)``: the same top class, a confidence that matches
    accuracy on validation data when ``temperature`` was fitted there (``scripts/calibrate_expression.py``)."""
    logits = np.log(np.clip(np.asarray(expression, np.float64), 1e-7, 1.0)) / temperature
    logits -= logits.max()
    e = np.exp(logits)
    return float(e.max() / e.sum())


@dataclass
class FaceMeasures:
    """Where one face's head and eyes point and how far to trust its reading (NaN: unknown, never invented).

    Angles in degrees: yaw > 0 towards the person's own left, pitch > 0 up. Eye openness in [0, 1] against the
    person's (track's) own open level; ``blink`` is True on the frame a blink (a closure under 1 s) ends.
    """

    head_yaw: float = float("nan")
    head_pitch: float = float("nan")
    head_roll: float = float("nan")
    gaze_yaw: float = float("nan")
    gaze_pitch: float = float("nan")
    eye_open_l: float = float("nan")
    eye_open_r: float = float("nan")
    blink: bool = False
    quality: float = float("nan")
    quality_flags: str = ""
    #: "open", "closed" or "unknown" (``faces.eyes``): the state the driver monitor reads, not a CSV column.
    eye_state: str = "unknown"


@dataclass
class FaceResult:
    """What the runtime reports for one tracked face in one frame."""

    track_id: int
    face: Face
    prediction: Prediction
    #: True when the temporal model produced ``prediction``; False for per-frame student output.
    temporal: bool = False
    #: Head pose, gaze, eyes and quality (``faces.row_measures``); None before they are measured.
    measures: FaceMeasures | None = None
    #: True when ``prediction`` is read relative to a per-person neutral baseline (``temporal/baseline.py``).
    baseline: bool = False


@dataclass
class FrameResult:
    """All faces of one frame, in the order of ``track_id``."""

    frame: Frame
    faces: list[FaceResult] = field(default_factory=list)

    @property
    def index(self) -> int:
        return self.frame.index

    @property
    def time_s(self) -> float:
        return self.frame.time_s
