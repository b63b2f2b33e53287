"""Eye state that holds up on real faces: per-eye openness normalised by this person's own open-eye level,
MediaPipe's eyeBlink blendshapes as a second cue, and eyes that cannot be seen reported as unknown. Used per
track for every output row and per subject by driver monitoring (one implementation).

Looking down lowers the lids by about half, not shut: openness stays well above the closed level (measured on
real clips: 0.4-0.7 looking down, below 0.1 closed; real closures on the shared clips 0.03-0.04 median). A frown
over a look down at the lap lowers them further, into the closed band (a user's clip: a 1.3 s "microsleep"). So
while the head is pitched down well below the driver's own usual pose, an eye counts closed only below
``closed_below_head_down`` and the eyeBlink cue (which rises when looking down) is not used: a real closure, the
lids fully down, still is one with the head bowed. (MediaPipe's eyeLookDown blendshapes read about 0.8 for closed
eyes, so they cannot tell the two apart.)
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from realtime_affect.faces.landmarker import BLENDSHAPES
from realtime_affect.faces.measures import EYE_INDEX, eye_region_contrast, eye_width, single_eye_aspect_ratio

OPEN, CLOSED, UNKNOWN = "open", "closed", "unknown"
_BLINK = (BLENDSHAPES.index("eyeBlinkLeft"), BLENDSHAPES.index("eyeBlinkRight"))


@dataclass
class EyeOptions:
    """How eye state is read (defaults and their grounds: README, "Driver monitoring")."""

    #: the closed level as a share of the open level (MediaPipe's mesh keeps lids ~15% apart when shut)
    closed_level: float = 0.15
    #: closed below this openness (P80: at least 80% closed) ...
    closed_below: float = 0.2
    #: ... or below this one while the eyeBlink blendshapes read at least ``blink_cue``
    closed_below_with_blink: float = 0.35
    blink_cue: float = 0.6
    #: EAR of an open eye before this person's own level is learnt (population median)
    open_level_prior: float = 0.28
    open_level_learn_s: float = 3.0
    open_level_window_s: float = 120.0
    #: a head pitched down more than this many degrees below the driver's usual pitch (the median of the last
    #: ``open_level_window_s``) lowers the lids: the eyes then count closed only below
    #: ``closed_below_head_down`` (closed lids read below 0.1; a frown over a look down reads 0.1-0.35)
    head_down_pitch: float = 15.0
    closed_below_head_down: float = 0.1
    #: both eyes unknown beyond this head yaw (degrees); the far eye alone beyond ``far_eye_yaw``
    unknown_yaw: float = 60.0
    far_eye_yaw: float = 35.0
    min_eye_width_px: float = 6.0
    #: an eye opening this much darker than the cheek and this flat is hidden (sunglasses) ...
    occluded_darkness: float = 0.45
    occluded_spread: float = 12.0
    #: ... and one this dark is hidden however much it varies (lenses with reflections). Measured: real eyes
    #: 0.49 or more (1st percentile over five real clips, night and glasses included), painted lenses 0.13-0.26
    dark_lens: float = 0.35


class OpenLevel:
    """One eye's open level: a high percentile of its pose-corrected EAR over a sliding window, so blinks,
    closures and glances down (all low) leave it alone and a change of camera or glasses is followed within
    the window. Until ``learn_s`` seconds of samples exist it is blended with the population prior."""

    PERCENTILE = 85.0
    SAMPLE_EVERY_S = 0.1

    def __init__(self, prior: float, learn_s: float, window_s: float) -> None:
        self.prior, self.learn_s, self.window_s = prior, learn_s, window_s
        self._samples: deque[tuple[float, float]] = deque()
        self._last_t = -math.inf
        self._cached: float | None = None

    def add(self, t: float, ear: float) -> None:
        if not math.isfinite(ear) or t - self._last_t < self.SAMPLE_EVERY_S:
            return
        self._last_t = t
        self._samples.append((t, ear))
        while self._samples and t - self._samples[0][0] > self.window_s:
            self._samples.popleft()
        self._cached = None

    @property
    def value(self) -> float:
        if self._cached is None:
            if not self._samples:
                self._cached = self.prior
            else:
                own = float(np.percentile([e for _, e in self._samples], self.PERCENTILE))
                weight = min(1.0, len(self._samples) * self.SAMPLE_EVERY_S / max(self.learn_s, 1e-9))
                self._cached = weight * own + (1 - weight) * self.prior
        return self._cached


class UsualPitch(OpenLevel):
    """The driver's usual head pitch: the median over the same sliding window (a camera above or below the
    face shifts it; glances down are brief and leave it alone)."""

    PERCENTILE = 50.0


@dataclass
class EyeReading:
    """One frame's eyes: openness per eye in [0, 1] (NaN when unknown) and the combined state."""

    open_left: float = float("nan")
    open_right: float = float("nan")
    state: str = UNKNOWN
    reason: str = ""  # why the state is unknown
    hidden: bool = False  # an eye looked covered (dark and flat: sunglasses, a hand)


class EyeStateEstimator:
    """Per-eye openness and the eye state of one driver, frame by frame."""

    def __init__(self, options: EyeOptions | None = None) -> None:
        self.options = options or EyeOptions()
        c = self.options
        self.levels = {side: OpenLevel(c.open_level_prior, c.open_level_learn_s, c.open_level_window_s)
                       for side in EYE_INDEX}
        self.usual_pitch = UsualPitch(0.0, c.open_level_learn_s, c.open_level_window_s)

    def update(self, t: float, landmarks: np.ndarray | None, blendshapes: np.ndarray | None, yaw: float,
               pitch: float, fitted: bool, bgr: np.ndarray | None = None) -> EyeReading:
        c = self.options
        if landmarks is None or not fitted or landmarks.shape[0] < 468:
            return EyeReading(reason="no eye landmarks (face found without its mesh)")
        if math.isfinite(yaw) and abs(yaw) > c.unknown_yaw:
            return EyeReading(reason=f"head turned {yaw:+.0f} deg")
        blink = float(np.mean(blendshapes[list(_BLINK)])) if blendshapes is not None else 0.0
        # Foreshortening: a turned head narrows the eye (EAR up), a pitched head flattens it (EAR down).
        correction = 1.0
        if math.isfinite(yaw) and math.isfinite(pitch):
            correction = math.cos(math.radians(yaw)) / max(math.cos(math.radians(pitch)), 0.5)
        openness: dict[str, float] = {}
        reasons = []
        hidden = False
        for side, index in EYE_INDEX.items():
            far = math.isfinite(yaw) and abs(yaw) > c.far_eye_yaw and (yaw > 0) == (side == "right")
            if far:
                reasons.append(f"{side} eye turned away")
                continue
            if eye_width(landmarks, index) < c.min_eye_width_px:
                reasons.append(f"{side} eye too small")
                continue
            if bgr is not None and bgr.size:
                contrast = eye_region_contrast(bgr, landmarks, index)
                if contrast is not None and (contrast.darkness < c.dark_lens or (
                        contrast.darkness < c.occluded_darkness and contrast.spread < c.occluded_spread)):
                    reasons.append(f"{side} eye hidden (dark, flat: sunglasses?)")
                    hidden = True
                    continue
            ear = single_eye_aspect_ratio(landmarks, index) * correction
            if not math.isfinite(ear):
                continue
            level = self.levels[side]
            closed_level = c.closed_level * level.value
            value = (ear - closed_level) / max(level.value - closed_level, 1e-6)
            openness[side] = float(min(1.0, max(0.0, value)))
            if blink < c.blink_cue and value > c.closed_below_with_blink:
                level.add(t, ear)  # only clearly open eyes teach the open level
        if not openness:
            return EyeReading(reason="; ".join(reasons) or "eyes not measurable", hidden=hidden)
        mean_open = float(np.mean(list(openness.values())))
        head_down = math.isfinite(pitch) and pitch - self.usual_pitch.value < -c.head_down_pitch
        if math.isfinite(pitch):
            self.usual_pitch.add(t, pitch)
        if head_down:
            closed = mean_open < c.closed_below_head_down
        else:
            closed = mean_open < c.closed_below or (mean_open < c.closed_below_with_blink and blink >= c.blink_cue)
        return EyeReading(open_left=openness.get("left", float("nan")), open_right=openness.get("right", float("nan")),
                          state=CLOSED if closed else OPEN, hidden=hidden)
