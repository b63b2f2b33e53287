"""The glue: frame -> faces -> tracks -> aligned crops -> student -> windows -> sequence model -> results.

``StreamAnalyzer`` holds the state of one stream (tracker, landmarker, windows, frames waiting for
their temporal prediction) and returns ``FrameResult``s in frame order as they become final.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from realtime_affect.faces import align
from realtime_affect.faces.row_measures import RowMeasurer
from realtime_affect.faces.tracking import Tracker, TrackerOptions, TrackUpdate
from realtime_affect.models.backends.base import AffectModel
from realtime_affect.temporal.baseline import BaselineCorrector, NeutralReading, reference_from_card
from realtime_affect.temporal.feature_windows import CentredWindows, Observation, WindowJob
from realtime_affect.timing import StageTimer
from realtime_affect.types import Face, FaceResult, Frame, FrameResult, Prediction, calibrated_confidence

log = logging.getLogger(__name__)


@dataclass
class AnalyzerOptions:
    max_faces: int = 4
    #: Use the sequence model when the model has one (off: per-frame student predictions).
    temporal: bool = True
    #: Hop between centred windows (default: half a window).
    hop: int | None = None
    #: Files on a multi-core CPU: run the ONNX student in a helper process at idle priority
    #: (models/student_process.py); None: when it can help (see ``student_process.wanted``), False: never.
    student_process: bool | None = None
    #: Full-range detection for small and distant faces (see faces/finder.py), its sweep period, min face size.
    full_range: bool = True
    sweep_every: int = 20
    #: Background full-range sweeps (files: each merged ``runner.SWEEP_LAG`` frames later; live: when done) on
    #: idle-priority threads; None: with at least 2 cores, False: normal priority. A file's rows stay the same.
    idle_sweeps: bool | None = None
    min_face_size: int = 0
    #: A new face the landmarker cannot fit becomes a row only with at least this detector score
    #: (``faces/finder.py``; chosen with ``benchmarks/false_faces.py``).
    unfitted_min_score: float = 0.75
    #: Videos: analyse about this many frames per second (by timestamp), rows only for those frames, the
    #: temporal model's windows over them; None: every frame.
    sample_fps: float | None = None
    #: Per-person neutral baseline (``temporal/baseline.py``): a ``NeutralReading`` applied to every face,
    #: "auto" (each track learns its own from its calm frames), a ``BaselineCorrector`` (kept by the caller, e.g.
    #: to save what it learnt), or None (readings as the model gives them).
    baseline: "NeutralReading | BaselineCorrector | str | None" = None
    tracker: TrackerOptions = field(default_factory=TrackerOptions)


@dataclass
class _Entry:
    key: int
    face: Face
    student: dict[str, np.ndarray]
    obs: Observation | None = None
    dropped: bool = False


@dataclass
class _Pending:
    frame: Frame
    entries: list[_Entry]


def _prediction(outputs: dict[str, np.ndarray], temperature: float = 1.0) -> Prediction:
    expression = np.asarray(outputs["expression"], dtype=np.float32)
    return Prediction(expression=expression, action_units=np.asarray(outputs["action_units"], dtype=np.float32),
                      valence_arousal=np.asarray(outputs["valence_arousal"], dtype=np.float32),
                      confidence=calibrated_confidence(expression, temperature))


def baseline_corrector(baseline: NeutralReading | str | None, card, temperature: float) -> BaselineCorrector | None:
    """The corrector an ``AnalyzerOptions.baseline`` asks for (None: no baseline)."""
    if baseline is None or isinstance(baseline, BaselineCorrector):
        return baseline
    if isinstance(baseline, str):
        if baseline != "auto":
            raise ValueError(f"baseline must be a NeutralReading, 'auto' or None (got {baseline!r})")
        return BaselineCorrector(reference_from_card(card), auto=True, temperature=temperature)
    return BaselineCorrector(reference_from_card(card), fixed=baseline, temperature=temperature)


def apply_baseline(corrector: BaselineCorrector | None, result: FrameResult) -> FrameResult:
    """Each face of ``result`` read relative to its baseline (auto: learnt from the readings seen so far)."""
    if corrector is None:
        return result
    for face in result.faces:
        face.prediction, face.baseline = corrector(face.track_id, result.time_s, face.prediction)
    return result


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


class StreamAnalyzer:
    """Analyses one video stream frame by frame (or independent stills with ``stills=True``)."""

    def __init__(self, model: AffectModel, landmarks, options: AnalyzerOptions | None = None,
                 stills: bool = False, timer: StageTimer | None = None, student_process=None) -> None:
        self.model = model
        self.options = options or AnalyzerOptions()
        self.landmarks = landmarks
        self.stills = stills
        self.timer = timer or StageTimer()
        self.student = StudentRunner(model, self.timer, student_process)
        self.tracker = Tracker(self.options.tracker)
        self.measurer = RowMeasurer()
        self.temperature = float(model.card.expression_temperature)
        if stills and self.options.baseline == "auto":
            raise ValueError("--baseline auto learns each person's neutral over time: use it with a video or a "
                             "camera, or give the person's neutral face with --baseline-from")
        self.baseline = baseline_corrector(self.options.baseline, model.card, self.temperature)
        self.temporal = bool(self.options.temporal and model.sequence is not None and not stills)
        self.windows = CentredWindows(model.card.window, self.options.hop)
        self._pending: deque[_Pending] = deque()
        self._tentative: dict[int, list[_Entry]] = {}

    # -- public --------------------------------------------------------------------------------
    def find(self, frame: Frame) -> list[Face]:
        """The faces of one frame (the landmarker's work; may run ahead in another thread, in frame order)."""
        return _find_faces(self.landmarks, frame, self.options.max_faces, self.timer)

    def process(self, frame: Frame, faces: list[Face] | None = None) -> list[FrameResult]:
        """Feed one frame (and its faces, when ``find`` already ran on it); returns the frames whose
        results are now final (possibly none, or several)."""
        if faces is None:
            faces = self.find(frame)
        if self.stills:
            return [self._still_result(frame, faces)]
        update = self.tracker.update(faces, frame.time_s)
        outputs = self.student(frame.bgr, [o.face for o in update.observed])
        entries = [_Entry(o.key, o.face, out) for o, out in zip(update.observed, outputs)]
        self._pending.append(_Pending(frame, entries))
        self._apply(update, entries)
        return self._emit()

    def flush(self) -> list[FrameResult]:
        """End of stream: settle every open track and return all remaining frames."""
        self._apply(self.tracker.finish(), [])
        for pending in self._pending:
            for entry in pending.entries:
                if entry.face.track_id < 0:
                    entry.dropped = True
        return self._emit(force=True)

    # -- internals -----------------------------------------------------------------------------
    def _apply(self, update: TrackUpdate, entries: list[_Entry]) -> None:
        for key, track_id in update.born:
            for entry in self._tentative.pop(key, []):
                entry.face.track_id = track_id
                self._push(entry)
        for entry in entries:
            if entry.face.track_id >= 0:
                self._push(entry)
            else:
                self._tentative.setdefault(entry.key, []).append(entry)
        jobs: list[WindowJob] = []
        for key, confirmed in update.ended:
            if not confirmed:
                for entry in self._tentative.pop(key, []):
                    entry.dropped = True
            elif self.temporal:
                jobs.extend(self.windows.finish(key))
        if self.temporal:
            jobs.extend(self.windows.ready())
            self._run_sequence(jobs)

    def _push(self, entry: _Entry) -> None:
        if self.temporal:
            entry.obs = self.windows.push(entry.key, entry.student["features"])

    def _run_sequence(self, jobs: list[WindowJob]) -> None:
        if not jobs:
            return
        with self.timer.stage("sequence"):
            out = self.model.sequence(np.stack([job.features for job in jobs]))
            for i, job in enumerate(jobs):
                self.windows.accumulate(job, {name: value[i] for name, value in out.items()})

    def _ready(self, entry: _Entry) -> bool:
        if entry.dropped:
            return True
        if entry.face.track_id < 0:
            return False
        return not self.temporal or (entry.obs is not None and entry.obs.final)

    def _emit(self, force: bool = False) -> list[FrameResult]:
        results = []
        while self._pending and (force or all(self._ready(e) for e in self._pending[0].entries)):
            pending = self._pending.popleft()
            faces = []
            for entry in pending.entries:
                if entry.dropped or entry.face.track_id < 0:
                    continue
                use_seq = self.temporal and entry.obs is not None and entry.obs.weight > 0
                pred = _prediction(entry.obs.mean() if use_seq else entry.student, self.temperature)
                faces.append(FaceResult(entry.face.track_id, entry.face, pred, temporal=use_seq))
            faces.sort(key=lambda r: r.track_id)
            results.append(self.measurer.measure(apply_baseline(self.baseline, FrameResult(pending.frame, faces))))
        return results

    def _still_result(self, frame: Frame, faces: list[Face]) -> FrameResult:
        outputs = self.student(frame.bgr, faces)
        results = []
        for i, (face, out) in enumerate(zip(faces, outputs), start=1):
            face.track_id = i
            results.append(FaceResult(i, face, _prediction(out, self.temperature), temporal=False))
        return self.measurer.measure(apply_baseline(self.baseline, FrameResult(frame, results)), still=True)


def _find_faces(finder, frame: Frame, max_faces: int, timer: StageTimer) -> list[Face]:
    """The faces of one frame (timed as the "landmarks" stage), at most ``max_faces``, largest kept."""
    timer.frames += 1
    rgb, frame.rgb = frame.rgb, None  # frames wait for their temporal results with ``bgr`` alone
    with timer.stage("landmarks"):
        faces = finder.detect(rgb if rgb is not None else _rgb(frame.bgr), frame.time_s)
    return _keep_largest(faces, max_faces)


def _rgb(bgr: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


_warned_max_faces = False


def _keep_largest(faces: list[Face], max_faces: int) -> list[Face]:
    """At most ``max_faces`` faces, the largest first kept; says so once per process."""
    global _warned_max_faces
    if len(faces) <= max_faces:
        return faces
    if not _warned_max_faces:
        log.warning("more than %d faces in view: keeping the largest (raise --max-faces to keep more)", max_faces)
        _warned_max_faces = True
    return sorted(faces, key=lambda f: -float(f.box[2] * f.box[3]))[:max_faces]


class LiveAnalyzer:
    """Camera mode: results for each frame as soon as it is processed (or ``lookahead`` frames later).

    The GRU runs on each visible track's newest window and reports its last step (or the step
    ``lookahead`` frames back, which then also sees that many future frames). Faces of tracks not yet
    confirmed are not reported; nothing waits for them.
    """

    def __init__(self, model: AffectModel, landmarks, options: AnalyzerOptions | None = None,
                 lookahead: int = 0, timer: StageTimer | None = None) -> None:
        from realtime_affect.temporal.feature_windows import LiveWindows

        self.model = model
        self.options = options or AnalyzerOptions()
        self.landmarks = landmarks
        self.timer = timer or StageTimer()
        self.student = StudentRunner(model, self.timer)
        self.tracker = Tracker(self.options.tracker)
        self.measurer = RowMeasurer()
        self.temperature = float(model.card.expression_temperature)
        self.baseline = baseline_corrector(self.options.baseline, model.card, self.temperature)
        self.temporal = bool(self.options.temporal and model.sequence is not None)
        self.lookahead = lookahead if self.temporal else 0
        self.windows = LiveWindows(model.card.window, self.lookahead)
        self._entries: dict[int, deque[_Entry]] = {}
        self._pending: deque[_Pending] = deque()

    def process(self, frame: Frame) -> list[FrameResult]:
        faces = _find_faces(self.landmarks, frame, self.options.max_faces, self.timer)
        update = self.tracker.update(faces, frame.time_s)
        for key, _ in update.ended:
            self.windows.drop(key)
            self._entries.pop(key, None)
        confirmed = [o for o in update.observed if o.confirmed]
        outputs = self.student(frame.bgr, [o.face for o in confirmed])
        entries = [_Entry(o.key, o.face, out) for o, out in zip(confirmed, outputs)]
        if self.temporal and entries:
            for entry in entries:
                self.windows.push(entry.key, entry.student["features"])
                history = self._entries.setdefault(entry.key, deque(maxlen=self.model.card.window))
                history.append(entry)
            batch, steps = zip(*(self.windows.latest(e.key) for e in entries))
            with self.timer.stage("sequence"):
                out = self.model.sequence(np.stack(batch))
            for i, (entry, step) in enumerate(zip(entries, steps)):
                history = self._entries[entry.key]
                target = history[step - (self.model.card.window - len(history))] if len(history) else entry
                target.obs = Observation(feature=entry.student["features"])
                target.obs.add({name: value[i, step] for name, value in out.items()}, 1.0)
                target.obs.final = True
        self._pending.append(_Pending(frame, entries))
        results = []
        while len(self._pending) > self.lookahead:
            results.append(self._result(self._pending.popleft()))
        return results

    def flush(self) -> list[FrameResult]:
        results = [self._result(p) for p in self._pending]
        self._pending.clear()
        return results

    def _result(self, pending: _Pending) -> FrameResult:
        faces = []
        for entry in pending.entries:
            use_seq = entry.obs is not None and entry.obs.weight > 0
            pred = _prediction(entry.obs.mean() if use_seq else entry.student, self.temperature)
            faces.append(FaceResult(entry.face.track_id, entry.face, pred, temporal=use_seq))
        faces.sort(key=lambda r: r.track_id)
        return self.measurer.measure(apply_baseline(self.baseline, FrameResult(pending.frame, faces)))
