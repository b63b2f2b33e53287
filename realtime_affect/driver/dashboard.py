"""Dashboard overlay for driver monitoring: the affect overlay plus a panel of driver signals and events."""
from __future__ import annotations

import numpy as np

from realtime_affect.ui.layout import overlay_scale
from realtime_affect.ui.overlay import OverlayState, Panel, draw, text_panel
from realtime_affect.types import FrameResult
from realtime_affect.driver.monitor import DriverState

_EVENT_COLOURS = {"drowsy": (0, 0, 255), "distracted": (0, 140, 255), "yawning": (0, 200, 255),
                  "agitated": (255, 0, 200)}


def driver_panel(state: DriverState, scale: float) -> Panel:
    """The driver's signals and active events as one block (placed by the overlay, never on a face)."""
    import cv2

    lines = [
        f"subject  #{state.track_id}" if state.track_id is not None else "subject  none",
        f"eyes     {'CLOSED' if state.eyes_closed else 'open'}  EAR {state.ear:.2f}",
        f"PERCLOS  {state.perclos:.2f}   blinks {state.blinks_per_min:.0f}/min",
        f"head     yaw {state.yaw:+.0f}  pitch {state.pitch:+.0f}",
        f"mouth    {state.mar:.2f}",
    ]
    panel = text_panel(lines, scale * 0.9, prefer=(1.0, 0.0))
    if not state.active:
        return panel
    u = max(scale, 0.3)
    chip_w, chip_h, gap = int(100 * u), int(20 * u), max(2, int(6 * u))
    rows = (len(state.active) + 1) // 2
    chips = np.full((rows * (chip_h + gap) + gap, max(panel.image.shape[1], 2 * chip_w + 3 * gap), 3), 28, np.uint8)
    for i, kind in enumerate(state.active):
        x, y = gap + (chip_w + gap) * (i % 2), gap + (chip_h + gap) * (i // 2)
        cv2.rectangle(chips, (x, y), (x + chip_w, y + chip_h), _EVENT_COLOURS.get(kind, (0, 0, 255)), -1)
        cv2.putText(chips, kind.upper(), (x + int(4 * u), y + chip_h - int(6 * u)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45 * u, (255, 255, 255), max(1, int(round(u))), cv2.LINE_AA)
    width = max(panel.image.shape[1], chips.shape[1])
    top = np.full((panel.image.shape[0], width, 3), 28, np.uint8)
    top[:, :panel.image.shape[1]] = panel.image
    bottom = np.full((chips.shape[0], width, 3), 28, np.uint8)
    bottom[:, :chips.shape[1]] = chips
    return Panel(np.vstack([top, bottom]), prefer=(1.0, 0.0))


def draw_dashboard(frame: np.ndarray, result: FrameResult, state: DriverState, overlay: OverlayState,
                   fps: float | None = None) -> np.ndarray:
    """The affect overlay plus the driver panel (where it covers no face) and a border while an event is on."""
    import cv2

    h, w = frame.shape[:2]
    img = draw(frame, result, overlay, fps=fps, extra=[driver_panel(state, overlay_scale(w, h))])
    if state.active:
        t = max(2, int(round(4 * overlay_scale(w, h))))
        cv2.rectangle(img, (0, 0), (w - 1, h - 1), _EVENT_COLOURS.get(state.active[0], (0, 0, 255)), t)
    return img
