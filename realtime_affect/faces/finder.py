"""Find every face: FaceLandmarker's cheap tracking for near faces, plus the full-range detector for
small and distant ones, merged so that a face is never counted twice.

Video: the full-frame landmarker (VIDEO mode) runs every frame; faces it does not cover that were seen
in the previous frame are followed by landmarking a crop around their last box; every ``sweep_every``
frames (and soon after a face is lost) the full-range detector sweeps the frame for new faces, each
landmarked on a crop of about twice its box. Stills: the detector and the landmarker, merged.

A sweep costs ~8 ms here (the sparse full-range model), and in line the landmarker waits for it. Files
therefore run sweeps after their first (in line: far faces are there from the first frame) in the background,
on idle-priority threads where cores are spare, and merge each exactly ``sweep_lag`` frames later (the
results never depend on timing or priority); live mode merges a background sweep whenever it is done.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from realtime_affect.faces.detection import CropLandmarker, Detection, FullRangeDetector, face_from_detection
from realtime_affect.faces.finder_options import FinderOptions  # noqa: F401 (its options, re-exported)
from realtime_affect.faces.landmarker import Landmarker, LandmarkerOptions
from realtime_affect.faces.matching import iou_matrix
from realtime_affect.types import Face


def _covered(box: np.ndarray, faces: list[Face], overlap: float) -> int | None:
    """Index of a face whose box overlaps ``box``, or None."""
    if not faces:
        return None
    iou = iou_matrix(box[None], np.stack([f.box for f in faces]))[0]
    best = int(iou.argmax())
    return best if iou[best] >= overlap else None


def dedupe(faces: list[Face], overlap: float = 0.5) -> list[Face]:
    """Drop faces that overlap a larger one (the same face found twice)."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -float(f.box[2] * f.box[3])):
        if _covered(face.box, kept, overlap) is None:
            kept.append(face)
    return kept


class FaceFinder:
    """``detect(rgb, time_s) -> [Face]`` for one stream (``video=True``) or independent stills."""

    def __init__(self, options: FinderOptions | None = None, video: bool = True) -> None:
        self.options = options or FinderOptions()
        self.video = video
        self.landmarker = Landmarker(LandmarkerOptions(max_faces=self.options.max_faces + 2), video=video)
        lagged = self.video and self.options.sweep_lag > 0
        background = self.video and (self.options.background_sweeps or lagged)
        idle = background and bool(self.options.idle_sweeps)
        self.detector = FullRangeDetector(idle=idle) if self.options.full_range else None
        self.crops = CropLandmarker() if self.options.full_range else None
        self._previous: list[Face] = []
        self._frame = 0
        self._last_sweep = -10 ** 9
        self.sweeps = 0
        self._pool = None
        self._pending = None  # a background sweep in flight: (future, frame it started on, faces found there)
        if self.detector is not None and background:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="affect-sweep")

    def detect(self, rgb: np.ndarray, time_s: float = 0.0) -> list[Face]:
        opts = self.options
        faces = self.landmarker.detect(rgb, time_s)
        if self.detector is not None:
            if self.video:
                for prev in self._previous:  # follow faces the full-frame landmarker did not find
                    if _covered(prev.box, faces, opts.overlap) is None:
                        found = self.crops.landmark(rgb, prev.box, prev.score)
                        if found is None and opts.keep_unfitted:
                            near = self.detector.detect_near(rgb, prev.box)
                            if near is not None:
                                found = self._from_detection(rgb, near, followed=True)
                        if found is not None:
                            faces.append(found)
            lost = len(faces) < len(self._previous)
            due = self._frame - self._last_sweep >= opts.sweep_every
            soon = lost and self._frame - self._last_sweep >= max(1, opts.sweep_every // 3)
            if self._pool is not None and (self.sweeps > 0 or opts.sweep_lag == 0):
                faces = self._background_sweep(rgb, faces, due or soon)
            elif not self.video or due or soon:
                faces = self._sweep(rgb, faces)
        faces = dedupe(faces)
        if opts.min_face_size:
            faces = [f for f in faces if float(f.box[3]) >= opts.min_face_size]
        self._previous = faces
        self._frame += 1
        return faces

    def _sweep(self, rgb: np.ndarray, faces: list[Face], detections: list[Detection] | None = None,
               known: list[Face] | None = None) -> list[Face]:
        """Merge a sweep's detections (made now when None) into ``faces``; ``known``: the faces of the frame a
        background sweep ran on, whose detections are not new faces even when they have moved since."""
        if detections is None:
            self._last_sweep = self._frame
            self.sweeps += 1
            detections = self.detector.detect(rgb)
        for det in detections:
            if self.options.min_face_size and det.box[3] < self.options.min_face_size * 0.8:
                continue
            hit = _covered(det.box, faces, self.options.overlap)
            if hit is not None:
                faces[hit] = replace(faces[hit], score=det.score)  # the detector's confidence for a face found
                continue
            if known is not None and _covered(det.box, known, self.options.overlap) is not None:
                continue  # found on the sweep's own frame: the landmarker has followed it since
            found = self._from_detection(rgb, det)
            if found is not None:
                faces.append(found)
        return faces

    def _from_detection(self, rgb: np.ndarray, det: Detection, followed: bool = False) -> Face | None:
        """Landmarks on a crop around a detection; failing that (``keep_unfitted``), the detector's keypoints when
        the face is already followed or scores at least ``unfitted_min_score``."""
        found = self.crops.landmark(rgb, det.box, det.score)
        if found is None and self.options.keep_unfitted and (followed or det.score >= self.options.unfitted_min_score):
            found = face_from_detection(det)
        return found

    def _background_sweep(self, rgb: np.ndarray, faces: list[Face], wanted: bool) -> list[Face]:
        """Merge the background sweep that is due into this frame's faces (with ``sweep_lag``: the one started
        exactly that many frames ago, waited for; else one that has finished); start one when wanted and
        none runs. ``rgb`` is never written after it is made, so the sweep reads it without a copy."""
        lag = self.options.sweep_lag
        if self._pending is not None:
            future, started, known = self._pending
            if (self._frame - started >= lag) if lag > 0 else future.done():
                self._pending = None
                faces = self._sweep(rgb, faces, future.result(), known)
        if wanted and self._pending is None:
            self._last_sweep = self._frame
            self.sweeps += 1
            self._pending = (self._pool.submit(self.detector.detect, rgb), self._frame, list(faces))
        return faces

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # the detector must not close under a sweep
        self.landmarker.close()
        if self.detector is not None:
            self.detector.close()
            self.crops.close()

    def __enter__(self) -> "FaceFinder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
