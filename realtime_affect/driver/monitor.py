"""Driver monitoring: per-subject signals over time and events with hysteresis.

Defaults and where they come from (all configurable in ``DriverConfig``):
- Eyes closed: eye aspect ratio below 0.20 (Soukupova & Cech 2016, "Real-time eye blink detection using
  facial landmarks"); closure is not counted while the mouth smiles broadly (laughter squints the eyes) or
  while the eyes look down (lowered lids on a downward gaze give the same low EAR as closed eyes; without
  a per-driver gaze calibration the two cannot be told apart, so only head pose drives distraction).
- PERCLOS: share of the last 60 s with the eyes closed; drowsy at 0.15 or more (Wierwille et al. 1994;
  the FHWA PERCLOS studies, Dinges & Grace 1998, use a one-minute window).
- Long closure: eyes closed for 1.0 s or more is a drowsiness event at once (microsleeps: 0.5-15 s).
- Blinks: closures of at most 500 ms; blink rate per minute over the window.
- Yawn: mouth aspect ratio above 0.6 for 1.5 s or more (yawns last about 4-7 s).
- Distraction ("eyes off road"): head yaw beyond 30 degrees or pitch below -20 degrees for 2.0 s or more
  (NHTSA visual-manual guidelines: glances longer than 2 s away from the road raise crash risk;
  Klauer et al. 2006).
- Agitated: valence below -0.3 with arousal above 0.4 for 10 s or more (sustained negative, aroused affect).
Each event starts when its condition has held for ``on_s`` and ends when it has been false for ``off_s``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from realtime_affect.faces.landmarker import BLENDSHAPES
from realtime_affect.types import FaceResult, FrameResult
from realtime_affect.driver.signals import eye_aspect_ratio, head_pose, mouth_aspect_ratio

_SMILE = (BLENDSHAPES.index("mouthSmileLeft"), BLENDSHAPES.index("mouthSmileRight"))
_LOOK_DOWN = (BLENDSHAPES.index("eyeLookDownLeft"), BLENDSHAPES.index("eyeLookDownRight"))


@dataclass
class DriverConfig:
    ear_closed: float = 0.20
    laugh_smile: float = 0.6
    look_down: float = 0.5
    perclos_window_s: float = 60.0
    perclos_drowsy: float = 0.15
    perclos_min_s: float = 10.0  # PERCLOS needs this much history before it can raise an event
    long_closure_s: float = 1.0
    blink_max_s: float = 0.5
    mar_yawn: float = 0.6
    yawn_on_s: float = 1.5
    yaw_limit_deg: float = 30.0
    pitch_down_deg: float = -20.0
    distracted_on_s: float = 2.0
    agitated_valence: float = -0.3
    agitated_arousal: float = 0.4
    agitated_on_s: float = 10.0
    off_s: float = 1.0  # hysteresis: how long a condition must be false before its event ends
    subject: str = "largest"  # "largest", "central", or a track id as text


@dataclass
class Event:
    kind: str  # drowsy, distracted, yawning, agitated
    track_id: int
    start_s: float
    end_s: float | None = None
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DriverState:
    """Signals of the subject in one frame, and the events active now."""

    time_s: float
    track_id: int | None
    ear: float = float("nan")
    mar: float = float("nan")
    yaw: float = float("nan")
    pitch: float = float("nan")
    roll: float = float("nan")
    eyes_closed: bool = False
    perclos: float = 0.0
    blinks_per_min: float = 0.0
    closure_s: float = 0.0
    active: list[str] = field(default_factory=list)


class _Hysteresis:
    """A condition that must hold ``on_s`` to start and be false ``off_s`` to end."""

    def __init__(self, on_s: float, off_s: float) -> None:
        self.on_s, self.off_s = on_s, off_s
        self.true_since: float | None = None
        self.false_since: float | None = None
        self.active = False

    def update(self, condition: bool, t: float) -> str | None:
        """Returns "start" or "end" when the state changes."""
        if condition:
            self.false_since = None
            if self.true_since is None:
                self.true_since = t
            if not self.active and t - self.true_since >= self.on_s:
                self.active = True
                return "start"
        else:
            self.true_since = None
            if self.false_since is None:
                self.false_since = t
            if self.active and t - self.false_since >= self.off_s:
                self.active = False
                return "end"
        return None


class DriverMonitor:
    """Feed ``FrameResult``s in time order; get a ``DriverState`` per frame and ``Event``s with start/end."""

    KINDS = ("drowsy", "distracted", "yawning", "agitated")

    def __init__(self, config: DriverConfig | None = None) -> None:
        self.config = config or DriverConfig()
        c = self.config
        self._conditions = {
            "drowsy": _Hysteresis(0.0, c.off_s),
            "distracted": _Hysteresis(c.distracted_on_s, c.off_s),
            "yawning": _Hysteresis(c.yawn_on_s, c.off_s),
            "agitated": _Hysteresis(c.agitated_on_s, c.off_s),
        }
        self._closed_history: deque[tuple[float, bool]] = deque()
        self._blinks: deque[float] = deque()
        self._closed_since: float | None = None
        self._track: int | None = None
        self._open: dict[str, Event] = {}
        self.events: list[Event] = []
        self._callbacks: list[Callable[[Event, str], None]] = []

    def on_event(self, callback: Callable[[Event, str], None]) -> None:
        """``callback(event, "start" | "end")`` for every event change."""
        self._callbacks.append(callback)

    def pick_subject(self, result: FrameResult) -> FaceResult | None:
        faces = result.faces
        if not faces:
            return None
        how = self.config.subject
        if how == "largest":
            return max(faces, key=lambda f: float(f.face.box[2] * f.face.box[3]))
        if how == "central":
            h, w = result.frame.bgr.shape[:2]
            return min(faces, key=lambda f: float(np.hypot(f.face.box[0] + f.face.box[2] / 2 - w / 2,
                                                           f.face.box[1] + f.face.box[3] / 2 - h / 2)))
        wanted = int(how)
        return next((f for f in faces if f.track_id == wanted), None)

    def update(self, result: FrameResult) -> DriverState:
        c = self.config
        t = result.time_s
        subject = self.pick_subject(result)
        if subject is None:
            state = DriverState(time_s=t, track_id=None)
            for kind in self.KINDS:  # nobody to watch: conditions are false, events end with hysteresis
                self._step(kind, False, t, None, "")
            state.active = [k for k, e in self._open.items()]
            return state
        if subject.track_id != self._track:  # a new subject: start its history afresh
            self._closed_history.clear()
            self._blinks.clear()
            self._closed_since = None
            self._track = subject.track_id
        lms = subject.face.landmarks
        if subject.face.fitted:
            ear, mar = eye_aspect_ratio(lms), mouth_aspect_ratio(lms)
        else:  # aligned from the detector's keypoints: no eye or mouth contour to measure
            ear, mar = float("nan"), float("nan")
        yaw, pitch, roll = head_pose(subject.face.pose)
        shapes = subject.face.blendshapes
        laughing = shapes is not None and float(np.mean(shapes[list(_SMILE)])) > c.laugh_smile
        looking_down = shapes is not None and float(np.mean(shapes[list(_LOOK_DOWN)])) > c.look_down
        closed = bool(ear < c.ear_closed) and not laughing and not looking_down
        # closure episodes -> blinks and long closures
        if closed and self._closed_since is None:
            self._closed_since = t
        closure = t - self._closed_since if self._closed_since is not None else 0.0
        if not closed and self._closed_since is not None:
            if closure <= c.blink_max_s:  # short closures are blinks (one frame may be shorter than 50 ms)
                self._blinks.append(t)
            self._closed_since = None
            closure = 0.0
        # PERCLOS over the sliding window (time-weighted by frame spacing)
        self._closed_history.append((t, closed))
        while self._closed_history and t - self._closed_history[0][0] > c.perclos_window_s:
            self._closed_history.popleft()
        while self._blinks and t - self._blinks[0] > c.perclos_window_s:
            self._blinks.popleft()
        span = self._closed_history[-1][0] - self._closed_history[0][0]
        perclos = float(np.mean([s for _, s in self._closed_history]))
        blink_rate = len(self._blinks) * 60.0 / max(span, 1.0)
        va = subject.prediction.valence_arousal
        drowsy = closure >= c.long_closure_s or (span >= c.perclos_min_s and perclos >= c.perclos_drowsy)
        away = (not np.isnan(yaw)) and (abs(yaw) > c.yaw_limit_deg or pitch < c.pitch_down_deg)
        checks = {
            "drowsy": (drowsy, f"eyes closed {closure:.1f} s" if closure >= c.long_closure_s else f"PERCLOS {perclos:.2f}"),
            "distracted": (away, f"head yaw {yaw:.0f} deg, pitch {pitch:.0f} deg"),
            "yawning": (bool(mar > c.mar_yawn), f"mouth opening {mar:.2f}"),
            "agitated": (bool(va[0] < c.agitated_valence and va[1] > c.agitated_arousal),
                         f"valence {va[0]:.2f}, arousal {va[1]:.2f}"),
        }
        for kind, (cond, reason) in checks.items():
            self._step(kind, cond, t, subject.track_id, reason)
        return DriverState(time_s=t, track_id=subject.track_id, ear=ear, mar=mar, yaw=yaw, pitch=pitch, roll=roll,
                           eyes_closed=closed, perclos=perclos, blinks_per_min=blink_rate, closure_s=closure,
                           active=list(self._open))

    def _step(self, kind: str, condition: bool, t: float, track_id: int | None, reason: str) -> None:
        change = self._conditions[kind].update(condition, t)
        if change == "start":
            event = Event(kind=kind, track_id=track_id if track_id is not None else -1, start_s=t, reason=reason)
            self._open[kind] = event
            self.events.append(event)
            for cb in self._callbacks:
                cb(event, "start")
        elif change == "end" and kind in self._open:
            event = self._open.pop(kind)
            event.end_s = t
            for cb in self._callbacks:
                cb(event, "end")

    def finish(self, t: float) -> list[Event]:
        """Close every open event at ``t`` (end of stream); returns all events."""
        for kind in list(self._open):
            event = self._open.pop(kind)
            event.end_s = t
            for cb in self._callbacks:
                cb(event, "end")
        return self.events
