"""The live window (OpenCV HighGUI). Create it before PyAV is imported: both bundle FFmpeg, and
``cv2.imshow`` hangs when ``av`` came first (seen with av 18 / opencv-contrib 5 under Xvfb)."""
from __future__ import annotations

import os
import sys

import numpy as np

WINDOW_TITLE = "realtime-affect"


def display_available() -> bool:
    """Whether a window can be opened here (an X or Wayland display on Linux; assumed elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class LiveWindow:
    """A resizable window; ``show`` returns False once the user pressed q or Esc, or closed it."""

    def __init__(self, title: str = WINDOW_TITLE) -> None:
        import cv2

        self._cv2 = cv2
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        self._open = True

    def show(self, image: np.ndarray) -> bool:
        cv2 = self._cv2
        if not self._open:
            return False
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        try:
            visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            visible = False
        if key in (ord("q"), 27) or not visible:
            self.close()
            return False
        return True

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self._cv2.destroyWindow(self.title)
                self._cv2.waitKey(1)
            except self._cv2.error:
                pass

    def __enter__(self) -> "LiveWindow":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
