"""Where overlay panels go: never on a face, as large as the free space allows.

Pure geometry (numpy only). A panel has a natural size; ``place`` tries it at that size, then smaller,
at the positions nearest its preferred spot, and returns the first that overlaps no obstacle (face boxes,
panels already placed) and stays inside the frame, or None when even the smallest does not fit anywhere:
a panel is left out rather than drawn over a face.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Sizes tried, as fractions of a panel's natural size, largest first.
SHRINK_STEPS: tuple[float, ...] = (1.0, 0.85, 0.7, 0.55, 0.45)


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def x1(self) -> int:
        return self.x + self.w

    @property
    def y1(self) -> int:
        return self.y + self.h

    def overlaps(self, other: "Rect") -> bool:
        return self.x < other.x1 and other.x < self.x1 and self.y < other.y1 and other.y < self.y1

    def grown(self, margin: int) -> "Rect":
        return Rect(self.x - margin, self.y - margin, self.w + 2 * margin, self.h + 2 * margin)

    @staticmethod
    def from_box(box: Sequence[float]) -> "Rect":
        """A face box (x, y, w, h floats) -> the integer rectangle that covers it."""
        x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
        x1, y1 = int(np.ceil(box[0] + box[2])), int(np.ceil(box[1] + box[3]))
        return Rect(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


#: Drawing scale in the live window at least: capitals about 13 pixels tall (FONT_HERSHEY_SIMPLEX at 0.5).
WINDOW_MIN_SCALE = 1.0


def window_zoom(frame_w: int, frame_h: int, screen_w: int, screen_h: int, fill: float = 0.85) -> float:
    """Factor from frame to window pixels: the frame scaled to fill about ``fill`` of the screen (small frames
    enlarged, large ones reduced), never beyond it."""
    return float(min(fill * screen_w / max(1, frame_w), fill * screen_h / max(1, frame_h)))


#: ``--out-size``: ``auto`` draws annotated videos at least 720 pixels on their shorter side (small inputs
#: enlarged, at most 3x) with text at least ``WINDOW_MIN_SCALE`` (about 13 px), so a 480x854 phone clip is read
#: back as easily as it is watched live; ``input`` keeps the input's size (the text then scales with the frame).
OUT_SIZES = ("auto", "input")
VIDEO_SHORT_SIDE = 720


def video_zoom(frame_w: int, frame_h: int, size: str = "auto") -> tuple[float, float]:
    """(zoom, min_scale) to draw an annotated video's frames with, for ``--out-size``."""
    if size == "input":
        return 1.0, 0.0
    return float(min(3.0, max(1.0, VIDEO_SHORT_SIDE / max(1, min(frame_w, frame_h))))), WINDOW_MIN_SCALE


def overlay_scale(width: int, height: int) -> float:
    """Drawing scale for a frame: 1.0 at 1280x720, smaller on small frames, larger on big ones."""
    return float(np.clip(min(height / 720.0, width / 1280.0), 0.4, 3.0))


def _free(x: np.ndarray, y: np.ndarray, w: int, h: int, obstacles: Sequence[Rect]) -> np.ndarray:
    ok = np.ones(x.shape, bool)
    for r in obstacles:
        ok &= ~((x < r.x1) & (r.x < x + w) & (y < r.y1) & (r.y < y + h))
    return ok


def place(size: tuple[int, int], frame: tuple[int, int], obstacles: Sequence[Rect],
          prefer: tuple[float, float] = (1.0, 0.0), step: int = 8, shrink: Sequence[float] = SHRINK_STEPS,
          prefer_px: tuple[float, float] | None = None) -> tuple[Rect, float] | None:
    """(rectangle, scale) for a panel of natural ``size`` (w, h) in a ``frame`` (w, h), or None.

    ``prefer`` is the wished position of the panel's centre as a fraction of the frame (1, 0: top right);
    ``prefer_px``, when given, the same in pixels. Among free positions the nearest to it wins."""
    fw, fh = frame
    for s in shrink:
        w, h = max(1, int(round(size[0] * s))), max(1, int(round(size[1] * s)))
        if w > fw or h > fh:
            continue
        xs = np.unique(np.r_[np.arange(0, fw - w + 1, step), fw - w])
        ys = np.unique(np.r_[np.arange(0, fh - h + 1, step), fh - h])
        gx, gy = np.meshgrid(xs, ys)
        ok = _free(gx, gy, w, h, obstacles)
        if not ok.any():
            continue
        px, py = prefer_px if prefer_px is not None else (prefer[0] * fw, prefer[1] * fh)
        d = (gx + w / 2 - px) ** 2 + (gy + h / 2 - py) ** 2
        d = np.where(ok, d, np.inf)
        i = np.unravel_index(int(np.argmin(d)), d.shape)
        return Rect(int(gx[i]), int(gy[i]), w, h), s
    return None


__all__ = ["Rect", "SHRINK_STEPS", "overlay_scale", "place"]
