"""Analyse about F frames per second of video, chosen by timestamp (variable frame rates work): the first
frame, then each frame at least 1/F s after the last one kept, on a grid so the rate does not drift."""
from __future__ import annotations

from typing import Iterable, Iterator

from realtime_affect.types import Frame


def sample_frames(frames: Iterable[Frame], fps: float | None) -> Iterator[Frame]:
    """The frames to analyse at about ``fps`` per second (all of them when ``fps`` is None)."""
    if fps is None:
        yield from frames
        return
    if fps <= 0:
        raise ValueError("the sampling rate must be positive")
    period = 1.0 / fps
    due: float | None = None
    for frame in frames:
        if due is None or frame.time_s >= due - 1e-6:
            yield frame
            # next slot on the grid after this frame (a gap in the stream does not cause a burst after it)
            due = (frame.time_s if due is None else due) + period
            while due <= frame.time_s + 1e-6:
                due += period
