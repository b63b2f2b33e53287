"""Where the driver looks: gaze from the irises combined with head pose, the road direction learnt from this
driver's own gaze (a camera under the mirror or on the dashboard sees the road direction at an angle), and the
attention zone (road, left, right, down, up, unknown)."""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from realtime_affect.driver.config import DriverConfig
from realtime_affect.faces.measures import gaze_angles

ZONES = ("road", "left", "right", "down", "up", "unknown")


@dataclass
class Gaze:
    yaw: float = float("nan")  # degrees, head and eyes combined, positive towards the driver's left
    pitch: float = float("nan")  # degrees, positive up
    zone: str = "unknown"
    from_eyes: bool = False  # False: head pose alone (eyes closed or unknown)


class RoadDirection:
    """The median of the driver's gaze over a sliding window: drivers look at the road most of the time.
    Fixed when the configuration gives one."""

    SAMPLE_EVERY_S = 0.2

    def __init__(self, config: DriverConfig) -> None:
        self.config = config
        self._samples: deque[tuple[float, float, float]] = deque()
        self._last_t = -math.inf
        self._cached: tuple[float, float] | None = None

    def add(self, t: float, yaw: float, pitch: float) -> None:
        if self.config.road_direction is not None or t - self._last_t < self.SAMPLE_EVERY_S:
            return
        self._last_t = t
        self._samples.append((t, yaw, pitch))
        while self._samples and t - self._samples[0][0] > self.config.road_window_s:
            self._samples.popleft()
        self._cached = None

    @property
    def known(self) -> bool:
        return self.config.road_direction is not None or \
            len(self._samples) * self.SAMPLE_EVERY_S >= self.config.road_learn_s

    @property
    def value(self) -> tuple[float, float]:
        if self.config.road_direction is not None:
            return self.config.road_direction
        if self._cached is None:
            if not self._samples:
                self._cached = (0.0, 0.0)
            else:
                arr = np.array([(y, p) for _, y, p in self._samples])
                self._cached = (float(np.median(arr[:, 0])), float(np.median(arr[:, 1])))
        return self._cached


class AttentionEstimator:
    """Gaze and attention zone of one driver, frame by frame."""

    def __init__(self, config: DriverConfig) -> None:
        self.config = config
        self.road = RoadDirection(config)

    def update(self, t: float, landmarks: np.ndarray | None, yaw: float, pitch: float, eyes_open: bool,
               visible_eyes: tuple[str, ...]) -> Gaze:
        c = self.config
        if not (math.isfinite(yaw) and math.isfinite(pitch)):
            return Gaze()
        eyes = visible_eyes if eyes_open else ()
        gaze_yaw, gaze_pitch, from_eyes = gaze_angles(landmarks, yaw, pitch, eyes, c.max_eye_angle,
                                                      c.iris_max_head_yaw)
        if from_eyes:
            self.road.add(t, gaze_yaw, gaze_pitch)
        if not self.road.known:
            return Gaze(gaze_yaw, gaze_pitch, "unknown", from_eyes)
        road_yaw, road_pitch = self.road.value
        dyaw, dpitch = gaze_yaw - road_yaw, gaze_pitch - road_pitch
        if abs(dyaw) > c.road_yaw:
            zone = "left" if dyaw > 0 else "right"
        elif dpitch < c.road_pitch_down:
            zone = "down"
        elif dpitch > c.road_pitch_up:
            zone = "up"
        else:
            zone = "road"
        return Gaze(gaze_yaw, gaze_pitch, zone, from_eyes)
