"""``affect-train prepare``: raw videos -> aligned 112x112 face crops per frame, with the runtime's own
tracking and ``align`` code (so training crops are exactly what serving sees)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable


log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def prepare_videos(videos: list[Path], out: Path, size: int = 112,
                   on_video: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Write ``out/<video stem>/<frame:05d>.jpg`` (1-based, ABAW numbering) for frames with a face.

    Per frame the face of the longest-lived track is kept (the annotated subject in ABAW-style data).
    Returns crops written per video.
    """
    import cv2

    from realtime_affect.faces import align
    from realtime_affect.faces.landmarker import Landmarker, LandmarkerOptions
    from realtime_affect.sources import VideoSource
    from realtime_affect.faces.tracking import Tracker, TrackerOptions

    written: dict[str, int] = {}
    for video in videos:
        folder = out / video.stem
        folder.mkdir(parents=True, exist_ok=True)
        count, frames = 0, 0
        hits: dict[int, int] = {}
        with VideoSource(video) as source, Landmarker(LandmarkerOptions(max_faces=4)) as lm:
            tracker = Tracker(TrackerOptions(min_hits=1))
            for frame in source:
                frames += 1
                faces = lm.detect(cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2RGB), frame.time_s)
                ids = {id(o.face): o.track_id for o in tracker.update(faces, frame.time_s).observed}
                if not faces:
                    continue
                for f in faces:
                    hits[ids[id(f)]] = hits.get(ids[id(f)], 0) + 1
                face = max(faces, key=lambda f: (hits.get(ids[id(f)], 0), float(f.box[2] * f.box[3])))
                crop = align.crops(frame.bgr, [face.landmarks], size)[0]
                cv2.imwrite(str(folder / f"{frame.index + 1:05d}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
                count += 1
        written[video.stem] = count
        if on_video is not None:
            on_video(video.name, count, frames)
    return written


def find_videos(location: Path) -> list[Path]:
    if location.is_file():
        return [location]
    return sorted(p for p in location.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


__all__ = ["prepare_videos", "find_videos"]
