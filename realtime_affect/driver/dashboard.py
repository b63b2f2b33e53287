"""Dashboard overlay for driver monitoring: the affect overlay plus a panel of driver signals (eye state, unknown
shown as such; attention zone; PERCLOS) and a chip per active event, placed where it covers no face."""
from __future__ import annotations

import numpy as np

from realtime_affect.driver.monitor import DriverState
from realtime_affect.types import FrameResult
from realtime_affect.ui.layout import overlay_scale
from realtime_affect.ui.overlay import OverlayState, Panel, draw, text_panel

_EVENT_COLOURS = {"sleep": (0, 0, 255), "microsleep": (0, 0, 255), "unresponsive": (0, 0, 255),
                  "drowsy": (0, 0, 255), "distracted": (0, 140, 255), "distracted_vats": (0, 140, 255),
                  "yawning": (0, 200, 255), "eyes_unavailable": (160, 160, 160), "agitated": (255, 0, 200)}
#: the most urgent first: the border takes the colour of the first active one
_URGENCY = ("sleep", "unresponsive", "microsleep", "drowsy", "distracted", "distracted_vats", "eyes_unavailable",
            "yawning", "agitated")


def _num(value: float, fmt: str) -> str:
    return "--" if value != value else format(value, fmt)


def driver_panel(state: DriverState, scale: float) -> Panel:
    """The driver's signals and active events as one block (placed by the overlay, never on a face)."""
    import cv2

    eyes = {"closed": f"CLOSED {state.closure_s:.1f} s", "open": "open", "unknown": "UNKNOWN"}[state.eye_state]
    lines = [
        f"subject  #{state.track_id}" if state.track_id is not None else "subject  none",
        f"eyes     {eyes}  L {_num(state.eye_open_left, '.2f')} R {_num(state.eye_open_right, '.2f')}",
        f"looking  {state.zone.upper() if state.zone != 'road' else 'road'}"
        + (f" {state.off_road_s:.1f} s" if state.off_road_s > 0 else ""),
        f"PERCLOS  {state.perclos:.2f}   blinks {state.blinks_per_min:.0f}/min",
        f"head     yaw {_num(state.yaw, '+.0f')}  pitch {_num(state.pitch, '+.0f')}",
        f"mouth    {_num(state.mouth_open, '.2f')}" + ("  YAWN" if state.yawn else ""),
    ]
    panel = text_panel(lines, scale * 0.9, prefer=(1.0, 0.0))
    if not state.active:
        return panel
    u = max(scale, 0.3)
    chip_w, chip_h, gap = int(130 * u), int(20 * u), max(2, int(6 * u))
    active = sorted(state.active, key=lambda k: _URGENCY.index(k) if k in _URGENCY else len(_URGENCY))
    rows = (len(active) + 1) // 2
    chips = np.full((rows * (chip_h + gap) + gap, max(panel.image.shape[1], 2 * chip_w + 3 * gap), 3), 28, np.uint8)
    for i, kind in enumerate(active):
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
                   fps: float | None = None, zoom: float = 1.0, min_scale: float = 0.0) -> np.ndarray:
    """The affect overlay plus the driver panel (where it covers no face) and a border while an event is on;
    ``zoom`` and ``min_scale`` as in ``ui.overlay.draw`` (the live window draws at its own size)."""
    import cv2

    h, w = (int(round(v * zoom)) for v in frame.shape[:2])
    scale = max(overlay_scale(w, h), min_scale)
    # the expression model has no yawn: a yawn's squeezed eyes and open mouth read as anger (clip 07: anger the top
    # class on 44 of 45 frames of its first yawn), so the subject's label says what the monitor knows instead
    labels = {state.track_id: "yawning"} if state.yawn and state.track_id is not None else None
    img = draw(frame, result, overlay, fps=fps, extra=[driver_panel(state, scale)], zoom=zoom, min_scale=min_scale,
               labels=labels)
    h, w = img.shape[:2]
    if state.active:
        first = min(state.active, key=lambda k: _URGENCY.index(k) if k in _URGENCY else len(_URGENCY))
        t = max(2, int(round(4 * scale)))
        cv2.rectangle(img, (0, 0), (w - 1, h - 1), _EVENT_COLOURS.get(first, (0, 0, 255)), t)
    return img
