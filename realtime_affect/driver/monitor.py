"""Driver monitoring: per-frame signals of one subject and events with Euro NCAP's durations.

Feed ``FrameResult``s in time order to ``DriverMonitor.update``; each returns a ``DriverState`` (the frame's
signals and the events active now). The eyes are read once, by the rows (``faces.row_measures``, with the
analysis options' ``eyes``, which a driver run sets from ``DriverConfig.eyes``); results that come unmeasured
are measured here by the same code, with ``DriverConfig.eyes``. Events are reported through ``on_event`` callbacks when they start and when
they end, and kept in ``events``; every closure of the eyes is kept in ``closures``. Definitions, defaults and
their sources: ``config.DriverConfig`` and the README's "Driver monitoring" section.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from realtime_affect.driver.attention import AttentionEstimator, Gaze
from realtime_affect.driver.config import DriverConfig
from realtime_affect.faces.eyes import CLOSED, OPEN, UNKNOWN
from realtime_affect.faces.landmarker import BLENDSHAPES
from realtime_affect.faces.measures import eye_aspect_ratio, mouth_aspect_ratio
from realtime_affect.faces.row_measures import RowMeasurer
from realtime_affect.labels import EXPRESSIONS
from realtime_affect.types import FaceResult, FrameResult

KINDS = ("microsleep", "sleep", "drowsy", "yawning", "distracted", "distracted_vats", "unresponsive",
         "eyes_unavailable", "agitated")
_JAW = BLENDSHAPES.index("jawOpen")
_EYE_WIDE = (BLENDSHAPES.index("eyeWideLeft"), BLENDSHAPES.index("eyeWideRight"))
_BROW_OUTER_UP = (BLENDSHAPES.index("browOuterUpLeft"), BLENDSHAPES.index("browOuterUpRight"))
_EMOTIONS = [EXPRESSIONS.index(e) for e in ("anger", "disgust", "fear", "happiness", "sadness", "surprise")]
_HAPPINESS = EXPRESSIONS.index("happiness")
#: frames further apart than this (a stalled stream) count for this long in time-weighted measures
_MAX_FRAME_GAP_S = 0.2


@dataclass
class Event:
    kind: str  # one of KINDS
    track_id: int
    start_s: float  # when the condition began (not when it was confirmed)
    end_s: float | None = None  # when it stopped; None while it lasts
    peak: float = 0.0  # the largest value of the event's measure (see README)
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Closure:
    """One closure of the eyes, from the first closed frame to the first open one."""

    start_s: float
    end_s: float
    track_id: int
    kind: str  # blink (blink_min_s to microsleep_s), microsleep, sleep, expressive (laughing, crying; a blink
    #           when short), yawn (squeezed), squint (closed by the blink cue only, never below the closed level:
    #           no alarm), flicker (shorter than blink_min_s: no blink)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class DriverState:
    """Signals of the subject in one frame, and the events active now."""

    time_s: float
    track_id: int | None
    eye_open_left: float = float("nan")  # openness in [0, 1] against this driver's open level; NaN: unknown
    eye_open_right: float = float("nan")
    eye_state: str = UNKNOWN  # open, closed, unknown
    blink: bool = False  # a blink (closure shorter than microsleep_s) ended in this frame
    closure_s: float = 0.0  # how long the eyes have been closed now
    perclos: float = 0.0  # P80 share over the last minute, of frames with a known eye state
    perclos_known_s: float = 0.0  # seconds of known eye state behind it
    blinks_per_min: float = 0.0
    blink_duration_s: float = float("nan")  # mean over the last minute
    mouth_open: float = float("nan")  # mouth aspect ratio
    yawn: bool = False
    yaw: float = float("nan")
    pitch: float = float("nan")
    roll: float = float("nan")
    gaze_yaw: float = float("nan")
    gaze_pitch: float = float("nan")
    zone: str = "unknown"  # road, left, right, down, up, unknown
    off_road_s: float = 0.0  # how long the eyes have been off the road now
    ear: float = float("nan")  # raw eye aspect ratio (mean of the measurable eyes)
    active: list[str] = field(default_factory=list)
    #: kind -> when each active event began (its condition, not its confirmation), for event logs
    active_since: dict[str, float] = field(default_factory=dict)

    @property
    def eyes_closed(self) -> bool:
        return self.eye_state == CLOSED

    @property
    def mar(self) -> float:
        return self.mouth_open


class _Episode:
    """A condition that runs from its first true frame; ``gap_s`` of false frames end it."""

    def __init__(self, gap_s: float) -> None:
        self.gap_s = gap_s
        self.start: float | None = None
        self.last_true: float | None = None

    def update(self, condition: bool, t: float) -> tuple[float, float] | None:
        """Returns (start, end) of an episode that ended in this frame."""
        if condition:
            if self.start is None:
                self.start = t
            self.last_true = t
            return None
        if self.start is not None and t - self.last_true > self.gap_s:
            ended = (self.start, t if self.gap_s == 0 else self.last_true)
            self.start = self.last_true = None
            return ended
        return None

    def duration(self, t: float) -> float:
        return 0.0 if self.start is None else t - self.start


class _Held:
    """How long a condition has held without a break: ``since`` is when it last became true (None while false)."""

    def __init__(self) -> None:
        self.since: float | None = None

    def update(self, condition: bool, t: float) -> float:
        """Feed this frame's condition; returns how long it has held now (0 while false)."""
        if not condition:
            self.since = None
        elif self.since is None:
            self.since = t
        return 0.0 if self.since is None else t - self.since


class _Means:
    """Running means of named values over an episode (NaN values are left out)."""

    def __init__(self) -> None:
        self._sums: dict[str, list[float]] = {}

    def add(self, **values: float) -> None:
        for name, value in values.items():
            if not math.isnan(value):
                total = self._sums.setdefault(name, [0.0, 0])
                total[0] += value
                total[1] += 1

    def mean(self, name: str) -> float:
        total = self._sums.get(name)
        return total[0] / total[1] if total else math.nan


class _Window:
    """Time-weighted samples over a sliding window, with running sums (constant cost per frame)."""

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.items: deque[tuple[float, float, float]] = deque()  # (t, weight, value)
        self._total = 0.0
        self._weighted = 0.0

    def add(self, t: float, weight: float, value: float) -> None:
        self.items.append((t, weight, value))
        self._total += weight
        self._weighted += weight * value
        self.trim(t)

    def trim(self, t: float) -> None:
        while self.items and t - self.items[0][0] > self.span_s:
            _, weight, value = self.items.popleft()
            self._total -= weight
            self._weighted -= weight * value
        if not self.items:
            self._total = self._weighted = 0.0

    def total(self) -> float:
        return max(self._total, 0.0)

    def weighted(self) -> float:
        return max(self._weighted, 0.0)

    def first_positive(self, default: float) -> float:
        """The time of the oldest sample with a positive value."""
        return next((t for t, _, v in self.items if v > 0), default)


class _Subject:
    """Everything learnt about one driver (a new track id starts afresh)."""

    def __init__(self, config: DriverConfig, track_id: int | None) -> None:
        self.track_id = track_id
        self.attention = AttentionEstimator(config)
        self.closure_start: float | None = None
        self.last_closed: float | None = None
        self.reopened: float | None = None  # the first open frame of a closure that may be ending
        self.closure_cues = _Means()  # the expression's strength and the eyes' openness over the closure
        self.closure_in_yawn = False
        self.yawn = _Episode(config.yawn_gap_s)
        self.yawn_peak = 0.0
        self.yawn_cues = _Means()  # happiness, eye widening, brow raise, eye openness over the mouth opening
        self.yawn_confirmed = False
        self.perclos = _Window(config.perclos_window_s)
        self.blinks: deque[tuple[float, float]] = deque()  # (end time, duration)
        self.yawns: deque[float] = deque()
        self.off_road = _Window(config.vats_window_s)
        self.off_road_held = _Held()
        self.unknown = _Held()
        self.unresponsive = _Held()
        self.agitated = _Held()
        self.drowsy = _Held()
        self.first_t: float | None = None


class DriverMonitor:
    """Feed ``FrameResult``s in time order; get a ``DriverState`` per frame and ``Event``s with start/end."""

    KINDS = KINDS

    def __init__(self, config: DriverConfig | None = None) -> None:
        self.config = config or DriverConfig()
        self.events: list[Event] = []
        self.closures: list[Closure] = []
        self._open: dict[str, Event] = {}
        self._false_since: dict[str, float] = {}
        self._callbacks: list[Callable[[Event, str], None]] = []
        self._subject = _Subject(self.config, None)
        self._last_t: float | None = None
        self._rows: RowMeasurer | None = None  # only for results that come without their row measures

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

    # -- per frame --

    def update(self, result: FrameResult) -> DriverState:
        c = self.config
        t = result.time_s
        dt = 0.0 if self._last_t is None else min(max(t - self._last_t, 0.0), _MAX_FRAME_GAP_S)
        self._last_t = t
        face = self.pick_subject(result)
        if face is not None and face.measures is None:
            self._rows = self._rows or RowMeasurer(c.eyes)
            self._rows.measure(result)
        if face is not None and face.track_id != self._subject.track_id:
            self._end_all(t, "a new subject")
            self._subject = _Subject(c, face.track_id)
        s = self._subject
        if s.first_t is None:
            s.first_t = t
        state = DriverState(time_s=t, track_id=face.track_id if face is not None else None)
        if face is None:
            open_left = open_right = math.nan
            eye_state, gaze = UNKNOWN, Gaze()
            mouth, jaw, expressive, happiness = math.nan, 0.0, 0.0, 0.0
            wide = brow = math.nan
        else:
            f, m = face.face, face.measures
            yaw, pitch, roll = m.head_yaw, m.head_pitch, m.head_roll
            state.yaw, state.pitch, state.roll = yaw, pitch, roll
            lms = f.landmarks if f.fitted else None
            open_left, open_right, eye_state = m.eye_open_l, m.eye_open_r, m.eye_state  # the rows' reading
            visible = tuple(side for side, v in (("left", open_left), ("right", open_right)) if not math.isnan(v))
            gaze = s.attention.update(t, lms, yaw, pitch, eye_state == OPEN, visible)
            mouth = mouth_aspect_ratio(lms) if lms is not None else math.nan
            jaw = float(f.blendshapes[_JAW]) if f.blendshapes is not None else 0.0
            shapes = f.blendshapes
            wide = float(np.mean(shapes[list(_EYE_WIDE)])) if shapes is not None else math.nan
            brow = float(np.mean(shapes[list(_BROW_OUTER_UP)])) if shapes is not None else math.nan
            probs = face.prediction.expression
            expressive = float(np.max(probs[_EMOTIONS]))
            happiness = float(probs[_HAPPINESS])
            state.ear = eye_aspect_ratio(lms) if lms is not None else math.nan
        state.eye_open_left, state.eye_open_right, state.eye_state = open_left, open_right, eye_state
        state.gaze_yaw, state.gaze_pitch, state.zone = gaze.yaw, gaze.pitch, gaze.zone
        state.mouth_open = mouth
        known = [v for v in (open_left, open_right) if not math.isnan(v)]
        openness = sum(known) / len(known) if known else math.nan
        self._yawns(s, t, mouth, jaw, state, happiness=happiness, wide=wide, brow=brow, openness=openness)
        counted_closed = self._closures(s, t, eye_state, openness, expressive, state)
        deep = counted_closed and openness < c.eyes.closed_below  # P80: at least 80% closed
        self._perclos(s, t, dt, eye_state, counted_closed, deep, state)
        self._attention(s, t, dt, gaze, counted_closed, eye_state, state)
        self._affect(s, t, face)
        state.active = list(self._open)
        state.active_since = {kind: event.start_s for kind, event in self._open.items()}
        return state

    def _yawns(self, s: _Subject, t: float, mouth: float, jaw: float, state: DriverState, **cues: float) -> None:
        """A yawn: the mouth opened wide for ``yawn_min_s`` and more, and not in laughter or surprise
        (``is_yawn``); the cues are averaged over the opening so far."""
        c = self.config
        opening = not math.isnan(mouth) and (mouth >= c.yawn_open
                                             or (jaw >= c.yawn_jaw and mouth >= c.yawn_open * 2 / 3))
        ended = s.yawn.update(opening, t)
        if opening:
            s.yawn_peak = max(s.yawn_peak, mouth)
            s.yawn_cues.add(**cues)
            long_enough = s.yawn.duration(t) >= c.yawn_min_s
            if not s.yawn_confirmed and long_enough and s.yawn_peak >= c.yawn_peak and self.is_yawn(s.yawn_cues):
                s.yawn_confirmed = True
                s.yawns.append(t)
        if ended is not None:
            s.yawn_peak, s.yawn_cues, s.yawn_confirmed = 0.0, _Means(), False
        while s.yawns and t - s.yawns[0] > c.yawns_window_s:
            s.yawns.popleft()
        state.yawn = s.yawn_confirmed
        self._set("yawning", s.yawn_confirmed, s.yawn.start, t, s.yawn_peak, f"mouth opening {s.yawn_peak:.2f}",
                  off_s=0.0)

    def is_yawn(self, cues: _Means) -> bool:
        """Whether a wide, long mouth opening is a yawn by its face (means over the opening): not laughter
        (happiness below ``laugh_prob``) and not surprise or a pulled face: a yawn narrows or keeps the eyes, it
        never widens them (eyeWide below ``yawn_eye_wide``), and brows raised to ``yawn_brow_raise`` or more over
        eyes not narrowed (openness ``yawn_narrowed`` or more) are surprise. Where a cue is unknown (no
        blendshapes) it does not veto."""
        c = self.config
        happiness, wide = cues.mean("happiness"), cues.mean("wide")
        brow, openness = cues.mean("brow"), cues.mean("openness")
        if not math.isnan(happiness) and happiness >= c.laugh_prob:
            return False
        if not math.isnan(wide) and wide >= c.yawn_eye_wide:
            return False
        narrowed = not math.isnan(openness) and openness < c.yawn_narrowed
        return math.isnan(brow) or brow < c.yawn_brow_raise or narrowed

    def _closures(self, s: _Subject, t: float, eye_state: str, openness: float, expressive: float,
                  state: DriverState) -> bool:
        """Closure episodes, blinks, microsleep and sleep; True when this frame's closure counts (not the face's
        own doing: laughing, crying, a yawn; not a squint that the blink cue alone called closed)."""
        c = self.config
        if eye_state == CLOSED:
            if s.closure_start is None:
                s.closure_start, s.closure_cues, s.closure_in_yawn = t, _Means(), False
            s.last_closed, s.reopened = t, None
            s.closure_cues.add(expressive=expressive, openness=openness)
            # a mouth opening that lasts longer than any yawn is a slack jaw, not a yawn
            s.closure_in_yawn = s.closure_in_yawn or (s.yawn.last_true == t and s.yawn.duration(t) <= 8.0)
        ended = t
        if eye_state != CLOSED and s.closure_start is not None:
            # a closure ends once the eyes have stayed open for closure_reopen_s (an open frame or two inside a
            # squeeze does not split it), or when they have been unknown for closure_gap_s
            if eye_state == OPEN and s.reopened is None:
                s.reopened = t
            if s.reopened is not None and t - s.reopened >= c.closure_reopen_s:
                ended = s.reopened
                self._finish_closure(s, ended, state)
            elif t - (s.reopened if s.reopened is not None else s.last_closed) > c.closure_gap_s:
                ended = s.reopened if s.reopened is not None else t
                self._finish_closure(s, s.reopened if s.reopened is not None else s.last_closed, state)
            elif eye_state == OPEN:
                state.eye_state = CLOSED  # shown closed until the reopening holds
        if s.closure_start is None:  # microsleep and sleep end when the eyes reopened
            state.closure_s = 0.0
            self._set("microsleep", False, None, ended, 0.0, "", off_s=0.0)
            self._set("sleep", False, None, ended, 0.0, "", off_s=0.0)
            return False
        duration = s.last_closed - s.closure_start
        state.closure_s = duration
        suppressed = self._closure_kind(s, duration) in ("expressive", "yawn", "squint")
        reason = f"eyes closed {duration:.1f} s"
        self._set("microsleep", not suppressed and c.microsleep_s <= duration < c.sleep_s, s.closure_start, t,
                  duration, reason, off_s=0.0)
        self._set("sleep", not suppressed and duration >= c.sleep_s, s.closure_start, t, duration, reason, off_s=0.0)
        return eye_state == CLOSED and not suppressed

    def _closure_kind(self, s: _Subject, duration: float) -> str:
        c = self.config
        if s.closure_in_yawn:
            return "yawn"
        if s.closure_cues.mean("expressive") >= c.expressive_closure_prob:  # NaN (no frame yet) compares False
            return "expressive"
        if s.closure_cues.mean("openness") >= c.eyes.closed_below:  # never deeply shut: narrowed eyes, not sleep
            return "squint"
        if duration >= c.sleep_s:
            return "sleep"
        return "microsleep" if duration >= c.microsleep_s else "blink"

    def _finish_closure(self, s: _Subject, end: float, state: DriverState) -> None:
        duration = end - s.closure_start
        kind = self._closure_kind(s, duration)
        if kind in ("blink", "expressive") and duration < self.config.blink_min_s:
            kind = "flicker"  # shorter than any blink: the lids' reading wavered, the eyes did not close
        self.closures.append(Closure(s.closure_start, end, s.track_id if s.track_id is not None else -1, kind))
        if kind in ("blink", "expressive") and duration < self.config.microsleep_s:
            s.blinks.append((end, duration))  # a blink, also in a laugh; not a yawn's squeeze, a squint, a flicker
            state.blink = True
        s.closure_start = s.last_closed = s.reopened = None

    def _perclos(self, s: _Subject, t: float, dt: float, eye_state: str, counted_closed: bool, deep: bool,
                 state: DriverState) -> None:
        """P80: frames with the eyes at least 80% closed over frames with a known eye state (closures that are
        the face's own doing are left out)."""
        c = self.config
        if eye_state == OPEN or counted_closed:
            s.perclos.add(t, dt, 1.0 if deep else 0.0)
        s.perclos.trim(t)
        known = s.perclos.total()
        state.perclos = s.perclos.weighted() / known if known > 0 else 0.0
        state.perclos_known_s = known
        while s.blinks and t - s.blinks[0][0] > c.perclos_window_s:
            s.blinks.popleft()
        span = min(c.perclos_window_s, t - s.first_t)
        state.blinks_per_min = len(s.blinks) * 60.0 / max(span, 10.0)
        state.blink_duration_s = float(np.mean([d for _, d in s.blinks])) if s.blinks else math.nan
        level = c.perclos_clear if "drowsy" in self._open else c.perclos_drowsy
        by_perclos = known >= c.perclos_min_known_s and state.perclos >= level
        by_yawns = len(s.yawns) >= c.yawns_drowsy
        drowsy = by_perclos or by_yawns
        s.drowsy.update(drowsy, t)
        reason = f"PERCLOS {state.perclos:.2f} over {known:.0f} s" if by_perclos else \
            f"{len(s.yawns)} yawns in {c.yawns_window_s / 60:.0f} min"
        self._set("drowsy", drowsy, s.drowsy.since, t, state.perclos if by_perclos else float(len(s.yawns)), reason)

    def _attention(self, s: _Subject, t: float, dt: float, gaze: Gaze, counted_closed: bool, eye_state: str,
                   state: DriverState) -> None:
        c = self.config
        off = gaze.zone in ("left", "right", "down", "up")
        state.off_road_s = s.off_road_held.update(off, t)
        s.off_road.add(t, dt, 1.0 if off else 0.0)
        away = s.off_road.weighted()
        self._set("distracted", state.off_road_s >= c.distracted_s, s.off_road_held.since, t, state.off_road_s,
                  f"eyes off the road ({gaze.zone}) {state.off_road_s:.1f} s")
        first_off = s.off_road.first_positive(t) if away >= c.vats_s else t
        self._set("distracted_vats", away >= c.vats_s, first_off, t, away,
                  f"eyes off the road {away:.1f} s within {c.vats_window_s:.0f} s")
        lasting = s.unresponsive.update(off or counted_closed, t)  # no eyes on the road
        self._set("unresponsive", lasting >= c.unresponsive_s, s.unresponsive.since, t, lasting,
                  f"no eyes on the road for {lasting:.1f} s")
        unknown = s.unknown.update(eye_state == UNKNOWN, t)
        self._set("eyes_unavailable", unknown >= c.eyes_unavailable_s, s.unknown.since, t, unknown,
                  f"eyes not visible for {unknown:.1f} s")

    def _affect(self, s: _Subject, t: float, face: FaceResult | None) -> None:
        c = self.config
        agitated = False
        if face is not None:
            valence, arousal = (float(v) for v in face.prediction.valence_arousal)
            agitated = valence < c.agitated_valence and arousal > c.agitated_arousal
        lasting = s.agitated.update(agitated, t)
        reason = ""
        if face is not None:
            valence, arousal = (float(v) for v in face.prediction.valence_arousal)
            reason = f"valence {valence:.2f}, arousal {arousal:.2f}"
        self._set("agitated", lasting >= c.agitated_s, s.agitated.since, t, lasting, reason)

    # -- events --

    def _set(self, kind: str, active: bool, since: float | None, t: float, value: float, reason: str,
             off_s: float | None = None) -> None:
        """Start ``kind`` (at ``since``) when ``active``; end it once it has been inactive for ``off_s``."""
        off_s = self.config.off_s if off_s is None else off_s
        event = self._open.get(kind)
        if active:
            self._false_since.pop(kind, None)
            if event is None:
                track = self._subject.track_id
                event = Event(kind, track if track is not None else -1, since if since is not None else t,
                              peak=value, reason=reason)
                self._open[kind] = event
                self.events.append(event)
                self._emit(event, "start")
            elif value >= event.peak:
                event.peak, event.reason = value, reason
            return
        if event is None:
            return
        stopped = self._false_since.setdefault(kind, t)
        if t - stopped >= off_s:
            self._close(kind, stopped)

    def _close(self, kind: str, end: float) -> None:
        event = self._open.pop(kind)
        self._false_since.pop(kind, None)
        event.end_s = end
        self._emit(event, "end")

    def _emit(self, event: Event, change: str) -> None:
        for cb in self._callbacks:
            cb(event, change)

    def _end_all(self, t: float, why: str) -> None:
        s = self._subject
        if s.closure_start is not None:
            self._finish_closure(s, s.last_closed, DriverState(time_s=t, track_id=None))
        for kind in list(self._open):
            self._close(kind, self._false_since.get(kind, t))

    def finish(self, t: float) -> list[Event]:
        """Close every open event at ``t`` (end of stream); returns all events."""
        self._end_all(t, "end of stream")
        return self.events
