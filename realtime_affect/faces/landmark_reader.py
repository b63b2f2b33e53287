"""Read FaceLandmarker results straight from MediaPipe's C structs into numpy.

MediaPipe's Python API turns every landmark into a Python object (478 per face) and every blendshape into
another: about 2 ms per face per frame on this class of CPU, all of it holding Python's lock while the
models want it. This reader calls the same C function the public ``detect``/``detect_for_video`` call and
copies the coordinates with numpy instead (about 0.05 ms per face). It relies on private attributes of the
task object (``_lib``, ``_handle``) and on the C struct layout of mediapipe 1.2; ``NativeReader.attach``
checks both and returns None when they differ, and the caller then keeps the public API.

It also calls the C functions directly from the caller's thread (``mediapipe_direct.py``: MediaPipe's wrapper
costs two lock-bound thread switches per call).
"""
from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass

import numpy as np

from realtime_affect.faces.mediapipe_direct import DirectCalls

log = logging.getLogger(__name__)


@dataclass
class RawFaces:
    """One frame's landmarker output: normalised (x, y, z) per face, blendshape scores, pose matrices."""

    landmarks: list[np.ndarray]          # (478, 3) float32 each, x/y in [0, 1] of the image, z scaled like x
    blendshapes: list[np.ndarray]        # (52,) float32 each (empty list when not requested)
    matrices: list[np.ndarray]           # (4, 4) float32 each (empty list when not requested)


def _strided(pointer, count: int, struct: type, first: str, width: int) -> np.ndarray:
    """(count, width) float32 copy of ``width`` consecutive float fields, from ``first`` on, of an array of
    ``count`` C structs."""
    if count == 0:
        return np.zeros((0, width), np.float32)
    size = ctypes.sizeof(struct)
    buffer = (ctypes.c_char * (size * count)).from_address(ctypes.addressof(pointer.contents))
    view = np.ndarray((count, width), dtype=np.float32, buffer=buffer, offset=getattr(struct, first).offset,
                      strides=(size, 4))
    return view.copy()


class NativeReader:
    """Runs one FaceLandmarker task through its C entry points and reads the result with numpy."""

    def __init__(self, task, module, point_struct: type, category_struct: type,
                 direct: DirectCalls | None = None) -> None:
        self._task = task
        self._m = module
        self._point, self._category = point_struct, category_struct  # looked up once, not per frame
        self.direct = direct  # None: calls go through mediapipe's dispatching wrapper

    @classmethod
    def attach(cls, task) -> "NativeReader | None":
        """A reader for ``task`` when this mediapipe's private layout is the one it was written for, else None."""
        try:
            from mediapipe.tasks.python.components.containers import category_c, landmark_c
            from mediapipe.tasks.python.vision import face_landmarker as module

            point, category = landmark_c.MpNormalizedLandmarkC, category_c.MpCategoryC
            layout_ok = (point.x.offset == 0 and point.y.offset == 4 and point.z.offset == 8
                         and category.score.offset == 4
                         and {"face_landmarks", "face_landmarks_count", "face_blendshapes",
                              "face_blendshapes_count", "facial_transformation_matrixes",
                              "facial_transformation_matrixes_count"}
                         <= {name for name, _ in module.MpFaceLandmarkerResultC._fields_})
            entry_points = all(hasattr(task._lib, name) for name in (
                "MpFaceLandmarkerDetectImage", "MpFaceLandmarkerDetectForVideo", "MpFaceLandmarkerCloseResult"))
            if layout_ok and entry_points and task._handle is not None:
                return cls(task, module, point, category, DirectCalls.attach(task, _DIRECT))
        except (ImportError, AttributeError) as exc:
            log.debug("mediapipe's C result layout is not the expected one (%s): using its Python API", exc)
        return None

    def detect(self, image, timestamp_ms: int | None) -> RawFaces:
        """The task's ``detect`` (``timestamp_ms`` None) or ``detect_for_video``, read into numpy."""
        result = self._m.MpFaceLandmarkerResultC()
        if timestamp_ms is None:
            self._call("MpFaceLandmarkerDetectImage", self._task._handle, image._image_ptr, None,
                       ctypes.byref(result))
        else:
            self._call("MpFaceLandmarkerDetectForVideo", self._task._handle, image._image_ptr, None, timestamp_ms,
                       ctypes.byref(result))
        try:
            return self._read(result)
        finally:
            self._call("MpFaceLandmarkerCloseResult", ctypes.byref(result), status=False)

    def image(self, rgb: np.ndarray, image_format: int):
        """``rgb`` as an image for ``detect``, made without releasing Python's lock (``mediapipe_direct.py``),
        or None: use ``mediapipe.Image``."""
        return self.direct.image(rgb, image_format) if self.direct is not None else None

    def _call(self, name: str, *args, status: bool = True):
        """A C function of the task: directly from this thread, else through mediapipe's wrapper (which adds
        the error argument and raises by itself)."""
        if self.direct is None:
            return getattr(self._task._lib, name)(*args)
        return self.direct.status(name, *args) if status else self.direct.quick(name, *args)

    def _read(self, result) -> RawFaces:
        landmarks = [_strided(result.face_landmarks[i].landmarks, result.face_landmarks[i].landmarks_count,
                              self._point, "x", 3)
                     for i in range(result.face_landmarks_count)]
        blendshapes = [_strided(result.face_blendshapes[i].categories, result.face_blendshapes[i].categories_count,
                                self._category, "score", 1)[:, 0]
                       for i in range(result.face_blendshapes_count)]
        matrices = [result.facial_transformation_matrixes[i].to_numpy().astype(np.float32)
                    for i in range(result.facial_transformation_matrixes_count)]
        return RawFaces(landmarks, blendshapes, matrices)



_DIRECT = ("MpFaceLandmarkerDetectImage", "MpFaceLandmarkerDetectForVideo", "MpFaceLandmarkerCloseResult")
