"""What differs between the running modes: how a frame's faces become entries and when their results are final.

- ``ImageSteps``: each still on its own; faces numbered 1..n, the student's readings, results at once.
- ``VideoSteps``: tracking and centred windows (``temporal.feature_windows.CentredWindows``); a frame's results
  come once every face's windows are final, in frame order (possibly several at once, or none).
- ``LiveSteps``: tracking and each track's newest window (``LiveWindows``); a frame's results at once (or
  ``lookahead`` frames later); faces of tracks not yet confirmed are not reported.

Everything shared (the student, the result assembly) lives in ``assembly.py``; the session holds one of these.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from realtime_affect.analysis.assembly import Entry, ResultAssembler, StudentRunner
from realtime_affect.faces.tracking import Tracker, TrackerOptions, TrackUpdate
from realtime_affect.models.backends.base import AffectModel
from realtime_affect.temporal.feature_windows import CentredWindows, LiveWindows, Observation, WindowJob
from realtime_affect.timing import StageTimer
from realtime_affect.types import Face, Frame, FrameResult


@dataclass
class _Pending:
    frame: Frame
    entries: list[Entry]


class ImageSteps:
    """Independent stills: no tracking, no temporal model."""

    def __init__(self, student: StudentRunner, assemble: ResultAssembler) -> None:
        self.student, self.assemble = student, assemble

    def step(self, frame: Frame, faces: list[Face]) -> list[FrameResult]:
        outputs = self.student(frame.bgr, faces)
        entries = [Entry(i, face, out, track_id=i) for i, (face, out) in enumerate(zip(faces, outputs), start=1)]
        return [self.assemble(frame, entries, still=True)]

    def flush(self) -> list[FrameResult]:
        return []


class VideoSteps:
    """A file or stream: every frame, in order, each face read through centred windows of its track."""

    def __init__(self, model: AffectModel, student: StudentRunner, assemble: ResultAssembler,
                 tracker: TrackerOptions, temporal: bool, hop: int | None, timer: StageTimer) -> None:
        self.model, self.student, self.assemble, self.timer = model, student, assemble, timer
        self.tracker = Tracker(tracker)
        self.temporal = temporal
        self.windows = CentredWindows(model.card.window, hop)
        self._pending: deque[_Pending] = deque()
        self._tentative: dict[int, list[Entry]] = {}

    def step(self, frame: Frame, faces: list[Face]) -> list[FrameResult]:
        update = self.tracker.update(faces, frame.time_s)
        outputs = self.student(frame.bgr, [o.face for o in update.observed])
        entries = [Entry(o.key, o.face, out, track_id=o.track_id) for o, out in zip(update.observed, outputs)]
        self._pending.append(_Pending(frame, entries))
        self._apply(update, entries)
        return self._emit()

    def flush(self) -> list[FrameResult]:
        """End of stream: settle every open track and return all remaining frames."""
        self._apply(self.tracker.finish(), [])
        for pending in self._pending:
            for entry in pending.entries:
                if entry.track_id < 0:
                    entry.dropped = True
        return self._emit(force=True)

    def _apply(self, update: TrackUpdate, entries: list[Entry]) -> None:
        for key, track_id in update.born:
            for entry in self._tentative.pop(key, []):
                entry.track_id = track_id
                self._push(entry)
        for entry in entries:
            if entry.track_id >= 0:
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

    def _push(self, entry: Entry) -> None:
        if self.temporal:
            entry.obs = self.windows.push(entry.key, entry.student["features"])

    def _run_sequence(self, jobs: list[WindowJob]) -> None:
        if not jobs:
            return
        with self.timer.stage("sequence"):
            out = self.model.sequence(np.stack([job.features for job in jobs]))
            for i, job in enumerate(jobs):
                self.windows.accumulate(job, {name: value[i] for name, value in out.items()})

    def _ready(self, entry: Entry) -> bool:
        if entry.dropped:
            return True
        if entry.track_id < 0:
            return False
        return not self.temporal or (entry.obs is not None and entry.obs.final)

    def _emit(self, force: bool = False) -> list[FrameResult]:
        results = []
        while self._pending and (force or all(self._ready(e) for e in self._pending[0].entries)):
            pending = self._pending.popleft()
            results.append(self.assemble(pending.frame, pending.entries))
        return results


class LiveSteps:
    """A camera or caller's frames: each frame's results at once (or ``lookahead`` frames late).

    The GRU runs on each visible track's newest window and reports its last step (or the step ``lookahead``
    frames back, which then also sees that many future frames)."""

    def __init__(self, model: AffectModel, student: StudentRunner, assemble: ResultAssembler,
                 tracker: TrackerOptions, temporal: bool, lookahead: int, timer: StageTimer) -> None:
        self.model, self.student, self.assemble, self.timer = model, student, assemble, timer
        self.tracker = Tracker(tracker)
        self.temporal = temporal
        self.lookahead = lookahead if temporal else 0
        self.windows = LiveWindows(model.card.window, self.lookahead)
        self._history: dict[int, deque[Entry]] = {}
        self._pending: deque[_Pending] = deque()

    def step(self, frame: Frame, faces: list[Face]) -> list[FrameResult]:
        update = self.tracker.update(faces, frame.time_s)
        for key, _ in update.ended:
            self.windows.drop(key)
            self._history.pop(key, None)
        confirmed = [o for o in update.observed if o.confirmed]
        outputs = self.student(frame.bgr, [o.face for o in confirmed])
        entries = [Entry(o.key, o.face, out, track_id=o.track_id) for o, out in zip(confirmed, outputs)]
        if self.temporal and entries:
            self._run_sequence(entries)
        self._pending.append(_Pending(frame, entries))
        results = []
        while len(self._pending) > self.lookahead:
            pending = self._pending.popleft()
            results.append(self.assemble(pending.frame, pending.entries))
        return results

    def _run_sequence(self, entries: list[Entry]) -> None:
        window = self.model.card.window
        for entry in entries:
            self.windows.push(entry.key, entry.student["features"])
            self._history.setdefault(entry.key, deque(maxlen=window)).append(entry)
        batch, steps = zip(*(self.windows.latest(e.key) for e in entries))
        with self.timer.stage("sequence"):
            out = self.model.sequence(np.stack(batch))
        for i, (entry, step) in enumerate(zip(entries, steps)):
            history = self._history[entry.key]
            target = history[step - (window - len(history))] if len(history) else entry
            target.obs = Observation(feature=entry.student["features"])
            target.obs.add({name: value[i, step] for name, value in out.items()}, 1.0)
            target.obs.final = True

    def flush(self) -> list[FrameResult]:
        results = [self.assemble(p.frame, p.entries) for p in self._pending]
        self._pending.clear()
        return results
