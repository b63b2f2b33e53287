"""Overlay renderer: pure drawing of results on a frame (boxes, ids, expression bars, AU chips, a
valence/arousal circumplex with the track's recent trail, FPS and latency). No windows, no I/O."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .labels import ACTION_UNITS, EXPRESSIONS
from .types import FrameResult

_COLOURS = [(80, 200, 255), (120, 255, 120), (255, 160, 80), (200, 120, 255), (80, 255, 255), (255, 255, 120)]


def track_colour(track_id: int) -> tuple[int, int, int]:
    return _COLOURS[track_id % len(_COLOURS)]


@dataclass
class OverlayState:
    """What the overlay remembers between frames: each track's recent valence/arousal."""

    trail_length: int = 30
    trails: dict[int, deque] = field(default_factory=dict)

    def update(self, result: FrameResult) -> None:
        seen = set()
        for face in result.faces:
            seen.add(face.track_id)
            trail = self.trails.setdefault(face.track_id, deque(maxlen=self.trail_length))
            trail.append(face.prediction.valence_arousal.copy())
        for tid in list(self.trails):
            if tid not in seen and len(self.trails) > 16:
                del self.trails[tid]


def draw(frame: np.ndarray, result: FrameResult, state: OverlayState | None = None, fps: float | None = None,
         latency_ms: float | None = None, au_threshold: float = 0.5) -> np.ndarray:
    """A copy of ``frame`` (BGR) with the results drawn on it."""
    import cv2

    out = frame.copy()
    h, w = out.shape[:2]
    scale = max(0.4, min(1.0, h / 720))
    if state is not None:
        state.update(result)
    for face in result.faces:
        colour = track_colour(face.track_id)
        x, y, bw, bh = (int(round(v)) for v in face.face.box)
        cv2.rectangle(out, (x, y), (x + bw, y + bh), colour, 2)
        p = face.prediction
        top = int(np.argmax(p.expression))
        label = f"#{face.track_id} {EXPRESSIONS[top]} {p.expression[top]:.2f}"
        cv2.putText(out, label, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.55 * scale, colour, 2, cv2.LINE_AA)
        # expression bars beside the box
        px = x + bw + 6 if x + bw + 130 < w else max(0, x - 130)
        bar_h = max(8, int(12 * scale))
        for i, (name, prob) in enumerate(zip(EXPRESSIONS, p.expression)):
            yy = y + i * (bar_h + 3)
            cv2.rectangle(out, (px, yy), (px + 60, yy + bar_h), (60, 60, 60), -1)
            cv2.rectangle(out, (px, yy), (px + int(60 * float(prob)), yy + bar_h), colour, -1)
            cv2.putText(out, name[:4], (px + 64, yy + bar_h - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * scale,
                        (255, 255, 255), 1, cv2.LINE_AA)
        # AU chips under the box
        cx, cy = x, y + bh + 6
        for name, prob in zip(ACTION_UNITS, p.action_units):
            if prob >= au_threshold:
                text = name.replace("AU0", "AU")
                (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, 1)
                if cx + tw + 6 > x + max(bw, 120):
                    cx, cy = x, cy + th + 8
                cv2.rectangle(out, (cx, cy), (cx + tw + 6, cy + th + 6), colour, -1)
                cv2.putText(out, text, (cx + 3, cy + th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, (0, 0, 0), 1,
                            cv2.LINE_AA)
                cx += tw + 10
        _circumplex(out, face.track_id, p.valence_arousal, state, (px, y + 8 * (bar_h + 3) + 6), int(34 * scale),
                    colour)
    lines = []
    if fps is not None:
        lines.append(f"{fps:5.1f} fps")
    if latency_ms is not None:
        lines.append(f"{latency_ms:5.1f} ms")
    for i, text in enumerate(lines):
        cv2.putText(out, text, (8, 22 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, (8, 22 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _circumplex(img: np.ndarray, track_id: int, va: np.ndarray, state: OverlayState | None, origin: tuple[int, int],
                radius: int, colour: tuple[int, int, int]) -> None:
    """Valence (x) / arousal (y, up) disc with axes, the track's trail and its current point."""
    import cv2

    cx, cy = origin[0] + radius, origin[1] + radius
    h, w = img.shape[:2]
    if cx + radius >= w or cy + radius >= h:
        return
    cv2.circle(img, (cx, cy), radius, (40, 40, 40), -1)
    cv2.circle(img, (cx, cy), radius, (200, 200, 200), 1)
    cv2.line(img, (cx - radius, cy), (cx + radius, cy), (120, 120, 120), 1)
    cv2.line(img, (cx, cy - radius), (cx, cy + radius), (120, 120, 120), 1)

    def point(v: np.ndarray) -> tuple[int, int]:
        return int(round(cx + float(v[0]) * radius)), int(round(cy - float(v[1]) * radius))

    if state is not None and track_id in state.trails:
        trail = [point(v) for v in state.trails[track_id]]
        for a, b in zip(trail, trail[1:]):
            cv2.line(img, a, b, colour, 1, cv2.LINE_AA)
    cv2.circle(img, point(va), max(3, radius // 8), colour, -1)
