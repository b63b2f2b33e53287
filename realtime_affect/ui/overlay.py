"""Overlay renderer: pure drawing of results on a frame (boxes, ids, expression bars, AU chips, a
valence/arousal circumplex with the track's recent trail, FPS and latency). No windows, no I/O.

Everything but the box outline is drawn as a panel that ``layout.place`` puts where it covers no face:
beside its own face when there is room, elsewhere or smaller when not, left out when nothing fits. Sizes
follow the frame (``layout.overlay_scale``), so a 320x240 clip and a 4K one both stay readable.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS
from realtime_affect.types import FaceResult, FrameResult
from realtime_affect.ui.layout import Rect, overlay_scale, place

_COLOURS = [(80, 200, 255), (120, 255, 120), (255, 160, 80), (200, 120, 255), (80, 255, 255), (255, 255, 120)]
_FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX
_BACKGROUND = (28, 28, 28)
#: Opacity of panels over the picture.
PANEL_ALPHA = 0.85


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


@dataclass
class Panel:
    """A rendered block (BGR image) and where it would like its centre: ``prefer`` as a fraction of the
    frame, or ``prefer_px`` in pixels (see ``layout.place``)."""

    image: np.ndarray
    prefer: tuple[float, float] = (1.0, 0.0)
    prefer_px: tuple[float, float] | None = None


def text_panel(lines: Sequence[str], scale: float, colour: tuple[int, int, int] = (235, 235, 235),
               prefer: tuple[float, float] = (0.0, 0.0)) -> Panel:
    """Lines of text on a dark block."""
    import cv2

    size = 0.5 * scale
    thick = max(1, int(round(scale)))
    dims = [cv2.getTextSize(t, _FONT, size, thick)[0] for t in lines] or [(1, 1)]
    pad = max(2, int(4 * scale))
    line_h = max(d[1] for d in dims) + pad
    img = np.full((line_h * len(lines) + pad, max(d[0] for d in dims) + 2 * pad, 3), _BACKGROUND, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(img, text, (pad, (i + 1) * line_h), _FONT, size, colour, thick, cv2.LINE_AA)
    return Panel(img, prefer)


def face_panel(face: FaceResult, trail: Sequence[np.ndarray] | None, scale: float,
               au_threshold: float = 0.5) -> np.ndarray:
    """Expression bars, active AU chips and the valence/arousal circumplex of one face, on a dark block."""
    import cv2

    colour = track_colour(face.track_id)
    p = face.prediction
    u = max(scale, 0.3)
    pad, bar_w, bar_h, gap = int(4 * u) + 1, int(60 * u), max(5, int(11 * u)), max(2, int(3 * u))
    text_size, thick = 0.38 * u, max(1, int(round(u)))
    width = pad * 3 + bar_w + int(44 * u)
    chips, row_w = [[]], 0
    for name, prob in zip(ACTION_UNITS, p.action_units):
        if prob >= au_threshold:
            text = name.replace("AU0", "AU")
            (tw, th), _ = cv2.getTextSize(text, _FONT, text_size, thick)
            if row_w and row_w + tw + 6 > width - 2 * pad:
                chips.append([])
                row_w = 0
            chips[-1].append((text, tw, th))
            row_w += tw + 8
    chip_h = int(16 * u)
    n_chip_rows = len(chips) if chips[0] else 0
    radius = int(30 * u)
    height = pad + len(EXPRESSIONS) * (bar_h + gap) + n_chip_rows * (chip_h + gap) + 2 * radius + 2 * pad
    img = np.full((height, width, 3), _BACKGROUND, np.uint8)
    y = pad
    for name, prob in zip(EXPRESSIONS, p.expression):
        cv2.rectangle(img, (pad, y), (pad + bar_w, y + bar_h), (70, 70, 70), -1)
        cv2.rectangle(img, (pad, y), (pad + int(bar_w * float(np.clip(prob, 0, 1))), y + bar_h), colour, -1)
        cv2.putText(img, name[:4], (2 * pad + bar_w, y + bar_h - 1), _FONT, text_size, (255, 255, 255), thick,
                    cv2.LINE_AA)
        y += bar_h + gap
    for row in chips if n_chip_rows else []:
        x = pad
        for text, tw, th in row:
            cv2.rectangle(img, (x, y), (x + tw + 6, y + chip_h - 2), colour, -1)
            cv2.putText(img, text, (x + 3, y + (chip_h + th) // 2 - 1), _FONT, text_size, (0, 0, 0), thick,
                        cv2.LINE_AA)
            x += tw + 8
        y += chip_h + gap
    _circumplex(img, p.valence_arousal, trail, (pad, y + pad // 2), radius, colour)
    return img


def _label(face: FaceResult, labels: dict[int, str] | None = None) -> str:
    if labels and face.track_id in labels:
        return f"#{face.track_id} {labels[face.track_id]}"
    p = face.prediction
    top = int(np.argmax(p.expression))
    return f"#{face.track_id} {EXPRESSIONS[top]} {p.expression[top]:.2f}"


def _paste(out: np.ndarray, image: np.ndarray, rect: Rect) -> None:
    import cv2

    if image.shape[:2] != (rect.h, rect.w):
        image = cv2.resize(image, (rect.w, rect.h), interpolation=cv2.INTER_AREA)
    region = out[rect.y:rect.y1, rect.x:rect.x1]
    cv2.addWeighted(image, PANEL_ALPHA, region, 1.0 - PANEL_ALPHA, 0.0, dst=region)


def place_panels(out: np.ndarray, panels: Sequence[Panel], taken: list[Rect]) -> list[Rect | None]:
    """Paste each panel where it covers nothing in ``taken`` (which grows); None for one left out."""
    h, w = out.shape[:2]
    placed: list[Rect | None] = []
    for panel in panels:
        ph, pw = panel.image.shape[:2]
        spot = place((pw, ph), (w, h), taken, prefer=panel.prefer, prefer_px=panel.prefer_px)
        if spot is None:
            placed.append(None)
            continue
        rect, _ = spot
        _paste(out, panel.image, rect)
        taken.append(rect)
        placed.append(rect)
    return placed


def draw(frame: np.ndarray, result: FrameResult, state: OverlayState | None = None, fps: float | None = None,
         latency_ms: float | None = None, au_threshold: float = 0.5,
         extra: Sequence[Panel] = (), zoom: float = 1.0, min_scale: float = 0.0,
         labels: dict[int, str] | None = None) -> np.ndarray:
    """A copy of ``frame`` (BGR) with the results drawn on it; no panel covers a face (``extra``: more
    panels, e.g. the driver dashboard, placed after the faces' own; ``labels``: track id -> what its label says
    instead of the top expression, e.g. "yawning" where the expression model has no such class). ``zoom``: the copy is resized by this
    factor first and everything is drawn at that resolution (the live window draws at its own size);
    ``min_scale``: the drawing scale at least (readable text in a window, whatever the frame)."""
    import cv2

    if zoom != 1.0:
        out = cv2.resize(frame, None, fx=zoom, fy=zoom,
                         interpolation=cv2.INTER_LINEAR if zoom > 1 else cv2.INTER_AREA)
    else:
        out = frame.copy()
    h, w = out.shape[:2]
    scale = max(overlay_scale(w, h), min_scale)
    if state is not None:
        state.update(result)
    margin = max(2, int(3 * scale))
    boxes = {id(f): np.asarray(f.face.box, np.float64) * zoom for f in result.faces}
    taken = [Rect.from_box(boxes[id(f)]).grown(margin) for f in result.faces]
    for face in result.faces:
        x, y, bw, bh = (int(round(v)) for v in boxes[id(face)])
        cv2.rectangle(out, (x, y), (x + bw, y + bh), track_colour(face.track_id), max(2, int(round(2 * scale))))
    panels: list[Panel] = []
    for face in sorted(result.faces, key=lambda f: -float(f.face.box[2] * f.face.box[3])):
        x, y, bw, bh = (float(v) for v in boxes[id(face)])
        label = text_panel([_label(face, labels)], scale, colour=track_colour(face.track_id))
        lh, lw = label.image.shape[:2]
        label.prefer_px = (x + lw / 2, y - lh / 2 - margin)  # just above the box
        trail = state.trails.get(face.track_id) if state is not None else None
        body = face_panel(face, trail, scale, au_threshold)
        ph, pw = body.shape[:2]
        body_at = (x + bw + margin + pw / 2, y + ph / 2)  # right of the box, top aligned
        panels += [label, Panel(body, prefer_px=body_at)]
    status = [t for t in (f"{fps:5.1f} fps" if fps is not None else "",
                          f"{latency_ms:5.1f} ms" if latency_ms is not None else "") if t]
    if status:
        panels.append(text_panel(status, scale, prefer=(0.0, 0.0)))
    place_panels(out, [*panels, *extra], taken)
    return out


def _circumplex(img: np.ndarray, va: np.ndarray, trail: Sequence[np.ndarray] | None, origin: tuple[int, int],
                radius: int, colour: tuple[int, int, int]) -> None:
    """Valence (x) / arousal (y, up) disc with axes, the track's trail and its current point."""
    import cv2

    cx, cy = origin[0] + radius, origin[1] + radius
    cv2.circle(img, (cx, cy), radius, (45, 45, 45), -1)
    cv2.circle(img, (cx, cy), radius, (200, 200, 200), 1)
    cv2.line(img, (cx - radius, cy), (cx + radius, cy), (120, 120, 120), 1)
    cv2.line(img, (cx, cy - radius), (cx, cy + radius), (120, 120, 120), 1)

    def point(v: np.ndarray) -> tuple[int, int]:
        v = np.clip(np.asarray(v, np.float32), -1.0, 1.0)
        return int(round(cx + float(v[0]) * radius)), int(round(cy - float(v[1]) * radius))

    if trail:
        pts = [point(v) for v in trail]
        for a, b in zip(pts, pts[1:]):
            cv2.line(img, a, b, colour, 1, cv2.LINE_AA)
    cv2.circle(img, point(va), max(3, radius // 8), colour, -1)
