"""The live window (OpenCV HighGUI). Create it before PyAV is imported: both bundle FFmpeg, and
``cv2.imshow`` hangs when ``av`` came first (seen with av 18 / opencv-contrib 5 under Xvfb)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np

WINDOW_TITLE = "realtime-affect"


def display_available() -> bool:
    """Whether a window can be opened here (an X or Wayland display on Linux; assumed elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


#: Screen size assumed when the display does not say (a small laptop screen).
FALLBACK_SCREEN = (1280, 800)


def screen_size() -> tuple[int, int]:
    """The display's size in pixels (X11: ``xdpyinfo``), else ``FALLBACK_SCREEN``."""
    try:
        text = subprocess.run(["xdpyinfo"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return FALLBACK_SCREEN
    found = re.search(r"dimensions:\s+(\d+)x(\d+) pixels", text)
    return (int(found.group(1)), int(found.group(2))) if found else FALLBACK_SCREEN


class LiveWindow:
    """A resizable window without a toolbar, sized to the screen on its first frame; ``show`` returns False
    once the user pressed q or Esc, or closed it."""

    def __init__(self, title: str = WINDOW_TITLE) -> None:
        import cv2

        self._cv2 = cv2
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        self._open = True
        self._zoom: float | None = None
        self._frame_size: tuple[int, int] | None = None

    def zoom_for(self, frame: np.ndarray) -> float:
        """Frame-to-window factor for this frame's size (the window is resized when the size is new):
        the frame fills about 85% of the screen, small frames enlarged. Draw the overlay at this zoom."""
        from realtime_affect.ui.layout import window_zoom

        h, w = frame.shape[:2]
        if self._frame_size != (w, h):
            self._frame_size = (w, h)
            self._zoom = window_zoom(w, h, *screen_size())
            self._cv2.resizeWindow(self.title, int(round(w * self._zoom)), int(round(h * self._zoom)))
        return float(self._zoom)

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
