"""The per-face steps every running mode shares: the student on a frame's aligned faces, and a frame's results
assembled from its faces' outputs (prediction, temporal flag, baseline, row measures).

A new per-face step is added here once, and every mode (image, video, live) has it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime_affect.errors import OptionsError
from realtime_affect.faces import align
from realtime_affect.faces.eyes import EyeOptions
from realtime_affect.faces.row_measures import RowMeasurer
from realtime_affect.models.backends.base import AffectModel
from realtime_affect.temporal.baseline import BaselineCorrector, NeutralReading, reference_from_card
from realtime_affect.temporal.feature_windows import Observation
from realtime_affect.timing import StageTimer
from realtime_affect.types import Face, FaceResult, Frame, FrameResult, Prediction, calibrated_confidence


@dataclass
class Entry:
    """One face of one frame on its way to a result: its track (``track_id`` -1 until the track is confirmed),
    the student's outputs, and its observation in the temporal model's windows."""

    key: int
    face: Face
    student: dict[str, np.ndarray]
    track_id: int = -1
    obs: Observation | None = None
    dropped: bool = False


def prediction(outputs: dict[str, np.ndarray], temperature: float = 1.0) -> Prediction:
    """A ``Prediction`` from one face's model outputs (student or temporal), with its calibrated confidence."""
    expression = np.asarray(outputs["expression"], dtype=np.float32)
    return Prediction(expression=expression, action_units=np.asarray(outputs["action_units"], dtype=np.float32),
                      valence_arousal=np.asarray(outputs["valence_arousal"], dtype=np.float32),
                      confidence=calibrated_confidence(expression, temperature))


def baseline_corrector(baseline: NeutralReading | BaselineCorrector | str | None, card,
                       temperature: float) -> BaselineCorrector | None:
    """The corrector an ``AnalyzerOptions.baseline`` asks for (None: no baseline)."""
    if baseline is None or isinstance(baseline, BaselineCorrector):
        return baseline
    if isinstance(baseline, str):
        if baseline != "auto":
            raise OptionsError(f"baseline must be a NeutralReading, 'auto' or None (got {baseline!r})")
        return BaselineCorrector(reference_from_card(card), auto=True, temperature=temperature)
    return BaselineCorrector(reference_from_card(card), fixed=baseline, temperature=temperature)


class StudentRunner:
    """Aligns every face of a frame and runs the student once on the whole batch."""

    def __init__(self, model: AffectModel, timer: StageTimer, process=None) -> None:
        self.model = model
        self.card = model.card
        self.timer = timer
        self.process = process  # a StudentProcess (takes the uint8 crops), or None: the model here
        self._crops = np.empty((16, self.card.input_size, self.card.input_size, 3), dtype=np.uint8)

    def __call__(self, bgr: np.ndarray, faces: list[Face]) -> list[dict[str, np.ndarray]]:
        if not faces:
            return []
        if len(faces) > self._crops.shape[0]:
            self._crops = np.empty((len(faces),) + self._crops.shape[1:], dtype=np.uint8)
        with self.timer.stage("align"):
            crops = align.crops(bgr, [f.landmarks for f in faces], self.card.input_size, out=self._crops)
        with self.timer.stage("student"):
            out = self.process(crops, self.run_here) if self.process is not None else self.run_here(crops)
        return [{name: value[i] for name, value in out.items()} for i in range(len(faces))]

    def run_here(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """The student on aligned uint8 crops, in this process."""
        return self.model.student(align.to_input(crops, self.card.mean, self.card.std))


class ResultAssembler:
    """A frame's ``FrameResult`` from its entries: the temporal prediction where the sequence model gave one
    (else the student's), faces in track order, read against the baseline, then measured (pose, gaze, eyes,
    quality) with one eye estimator per track."""

    def __init__(self, model: AffectModel, baseline, eyes: EyeOptions | None = None) -> None:
        self.temperature = float(model.card.expression_temperature)
        self.baseline = baseline_corrector(baseline, model.card, self.temperature)
        self.measurer = RowMeasurer(eyes)

    def __call__(self, frame: Frame, entries: list[Entry], still: bool = False) -> FrameResult:
        faces = []
        for entry in entries:
            if entry.dropped or entry.track_id < 0:
                continue
            use_seq = entry.obs is not None and entry.obs.weight > 0
            pred = prediction(entry.obs.mean() if use_seq else entry.student, self.temperature)
            faces.append(FaceResult(entry.track_id, entry.face, pred, temporal=use_seq))
        faces.sort(key=lambda r: r.track_id)
        result = FrameResult(frame, faces)
        if self.baseline is not None:
            for face in result.faces:
                face.prediction, face.baseline = self.baseline(face.track_id, result.time_s, face.prediction)
        return self.measurer.measure(result, still=still)
