"""Dashboard overlay for driver monitoring: the affect overlay plus a panel of driver signals and events."""
from __future__ import annotations

import numpy as np

from ..overlay import OverlayState, draw
from ..types import FrameResult
from .monitor import DriverState

_EVENT_COLOURS = {"drowsy": (0, 0, 255), "distracted": (0, 140, 255), "yawning": (0, 200, 255),
                  "agitated": (255, 0, 200)}


def draw_dashboard(frame: np.ndarray, result: FrameResult, state: DriverState, overlay: OverlayState,
                   fps: float | None = None) -> np.ndarray:
    import cv2

    img = draw(frame, result, overlay, fps=fps)
    h, w = img.shape[:2]
    panel_w = 230
    x0 = w - panel_w
    cv2.rectangle(img, (x0, 0), (w, 170), (25, 25, 25), -1)
    lines = [
        f"subject  #{state.track_id}" if state.track_id is not None else "subject  none",
        f"eyes     {'CLOSED' if state.eyes_closed else 'open'}  EAR {state.ear:.2f}",
        f"PERCLOS  {state.perclos:.2f}   blinks {state.blinks_per_min:.0f}/min",
        f"head     yaw {state.yaw:+.0f}  pitch {state.pitch:+.0f}",
        f"mouth    {state.mar:.2f}",
    ]
    for i, text in enumerate(lines):
        cv2.putText(img, text, (x0 + 8, 22 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (230, 230, 230), 1,
                    cv2.LINE_AA)
    for i, kind in enumerate(state.active):
        colour = _EVENT_COLOURS.get(kind, (0, 0, 255))
        y = 122 + 22 * (i % 2)
        x = x0 + 8 + 110 * (i // 2)
        cv2.rectangle(img, (x, y - 14), (x + 100, y + 4), colour, -1)
        cv2.putText(img, kind.upper(), (x + 4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    if state.active:
        cv2.rectangle(img, (0, 0), (w - 1, h - 1), _EVENT_COLOURS.get(state.active[0], (0, 0, 255)), 4)
    return img
