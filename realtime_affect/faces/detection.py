"""Full-range face detection (MediaPipe BlazeFace full-range, Tasks API) and landmarks on face crops.

FaceLandmarker's own detector is short-range (selfie distance): it misses small and distant faces.
The full-range detector finds them; landmarks then come from FaceLandmarker run on a crop of about
twice the detected box, mapped back to the frame.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from realtime_affect.assets import asset_path
from realtime_affect.faces.landmarker import Landmarker, LandmarkerOptions, box_from_landmarks
from realtime_affect.system.native_logs import QuietTask, quiet_native_stderr
from realtime_affect.types import Face


@dataclass
class Detection:
    box: np.ndarray  # (x, y, w, h) in frame pixels
    score: float
    #: (6, 2) frame pixels in BlazeFace's order: right eye, left eye (of the subject), nose tip, mouth
    #: centre, right and left ear tragion; None when the detector gave none.
    keypoints: np.ndarray | None = None


#: Mouth width over eye distance in the alignment template (ArcFace five points): 29.2 / 35.2.
_MOUTH_OVER_EYES = 0.83
#: Where the five points sit in a BlazeFace box (fractions of its width and height), for faces whose
#: keypoints are degenerate.
_BOX_FIVE = ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8))


def face_from_detection(det: Detection) -> Face | None:
    """A face aligned from the detector's keypoints alone (``fitted=False``): the five alignment points
    are the two eyes, the nose tip and two mouth corners set on the eye line's direction about the mouth
    centre. None without keypoints."""
    if det.keypoints is None or len(det.keypoints) < 4:
        return None
    kp = np.asarray(det.keypoints, np.float32)
    eye_right, eye_left, nose, mouth = kp[0], kp[1], kp[2], kp[3]
    if np.linalg.norm(eye_left - eye_right) < 0.2 * float(det.box[2]):  # deep profile: eyes nearly coincide
        x, y, w, h = (float(v) for v in det.box)
        five = np.array([[x + fx * w, y + fy * h] for fx, fy in _BOX_FIVE], np.float32)
    else:
        half = (eye_left - eye_right) * (_MOUTH_OVER_EYES / 2.0)
        five = np.stack([eye_right, eye_left, nose, mouth - half, mouth + half])
    points = np.zeros((5, 3), np.float32)
    points[:, :2] = five
    return Face(box=det.box.copy(), landmarks=points, score=det.score, fitted=False)


def tiles(width: int, height: int, tile: int = 768, stride: int = 640) -> list[tuple[int, int, int, int]]:
    """Regions to run the detector on: the whole frame, plus overlapping ``tile``-pixel tiles when the
    frame is larger than 1.5 tiles (the detector sees 192x192: a 60 px face in a 1080p frame would be
    6 px there, but 15 px in a 768 px tile)."""
    import math

    regions = [(0, 0, width, height)]
    if max(width, height) <= 1.5 * tile:
        return regions
    tw, th = min(tile, width), min(tile, height)
    nx = math.ceil(max(width - tw, 0) / stride) + 1
    ny = math.ceil(max(height - th, 0) / stride) + 1
    for x in np.linspace(0, width - tw, nx).round().astype(int):
        for y in np.linspace(0, height - th, ny).round().astype(int):
            regions.append((int(x), int(y), tw, th))
    return regions


def nms(dets: list[Detection], iou: float = 0.4) -> list[Detection]:
    """Greedy non-maximum suppression by score."""
    from realtime_affect.faces.matching import iou_matrix

    dets = sorted(dets, key=lambda d: -d.score)
    kept: list[Detection] = []
    for d in dets:
        if not kept or iou_matrix(d.box[None], np.stack([k.box for k in kept])).max() < iou:
            kept.append(d)
    return kept


class FullRangeDetector(QuietTask):
    """BlazeFace full-range (IMAGE mode) over the frame and, for large frames, its tiles.

    ``idle``: the task's graph threads run at idle CPU priority (``cores.at_idle_priority``), for sweeps in the
    background that must not take cycles from the landmarker.
    """

    def __init__(self, min_confidence: float = 0.5, idle: bool = False) -> None:
        import mediapipe as mp
        from mediapipe.tasks import python as mp_tasks
        from mediapipe.tasks.python import vision

        from realtime_affect.system.cores import at_idle_priority

        self._mp = mp
        options = vision.FaceDetectorOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(asset_path("face_detection_full_range_sparse.tflite"))),
            running_mode=vision.RunningMode.IMAGE, min_detection_confidence=min_confidence)

        def create():
            with quiet_native_stderr():  # "Sparsity tensors may not yet be fully supported" is harmless
                return vision.FaceDetector.create_from_options(options)

        self._task = at_idle_priority(create) if idle else create()
        self._lock = threading.Lock()  # a background sweep and ``detect_near`` may come from two threads
        self._direct = _direct_detector(self._task)  # None: mediapipe's own detect()

    def _detect_region(self, region: np.ndarray, x: int, y: int) -> list[Detection]:
        """Detections in ``region`` (an RGB array whose top-left is at frame pixel x, y), in frame pixels."""
        rh, rw = region.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(region))
        with self._lock:
            result = self._quiet_first(self._direct or self._task.detect, image)
        found = []
        for d in result.detections:
            b = d.bounding_box
            box = np.array([b.origin_x + x, b.origin_y + y, b.width, b.height], np.float32)
            keypoints = None
            if d.keypoints:
                keypoints = np.array([(k.x * rw + x, k.y * rh + y) for k in d.keypoints], np.float32)
            found.append(Detection(box=box, score=float(d.categories[0].score) if d.categories else 1.0,
                                   keypoints=keypoints))
        return found

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        h, w = rgb.shape[:2]
        found: list[Detection] = []
        for x, y, tw, th in tiles(w, h):
            found.extend(self._detect_region(rgb[y:y + th, x:x + tw], x, y))
        return nms(found)

    def detect_near(self, rgb: np.ndarray, box: np.ndarray, scale: float = 2.0) -> Detection | None:
        """The most confident face in a square of ``scale`` times ``box`` around it (frame pixels), or None:
        follows a face the landmarker cannot fit without sweeping the whole frame."""
        h, w = rgb.shape[:2]
        x, y, side = crop_region(box, scale, w, h)
        found = self._detect_region(padded_crop(rgb, x, y, side), x, y)
        return max(found, key=lambda d: d.score) if found else None



def _direct_detector(task):
    """``detect(image)`` calling the FaceDetector's C functions from this thread (``mediapipe_direct.py``),
    with mediapipe's own result conversion; None when this mediapipe's layout is not the expected one."""
    import ctypes

    from realtime_affect.faces.mediapipe_direct import DirectCalls

    try:
        from mediapipe.tasks.python.components.containers import detections_c
        from mediapipe.tasks.python.vision.face_detector import FaceDetectorResult
    except ImportError:
        return None
    direct = DirectCalls.attach(task, ("MpFaceDetectorDetectImage", "MpFaceDetectorCloseResult"))
    if direct is None or getattr(task, "_handle", None) is None:
        return None

    def detect(image):
        result = detections_c.MpDetectionResultC()
        direct.status("MpFaceDetectorDetectImage", task._handle, image._image_ptr, None, ctypes.byref(result))
        try:
            return FaceDetectorResult.from_ctypes(result)
        finally:
            direct.quick("MpFaceDetectorCloseResult", ctypes.byref(result))

    return detect


def crop_region(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int, int]:
    """A square (x, y, side) of ``scale`` times the box's larger side, centred on the box."""
    x, y, w, h = (float(v) for v in box)
    side = int(round(max(w, h) * scale))
    cx, cy = x + w / 2, y + h / 2
    return int(round(cx - side / 2)), int(round(cy - side / 2)), max(side, 8)


def padded_crop(rgb: np.ndarray, x: int, y: int, side: int) -> np.ndarray:
    """The square region, zero-padded where it leaves the frame."""
    h, w = rgb.shape[:2]
    out = np.zeros((side, side, 3), np.uint8)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, w), min(y + side, h)
    if x1 > x0 and y1 > y0:
        out[y0 - y:y1 - y, x0 - x:x1 - x] = rgb[y0:y1, x0:x1]
    return out


class CropLandmarker:
    """FaceLandmarker (IMAGE mode, one face) on a crop around a box; landmarks mapped back to the frame."""

    def __init__(self, scale: float = 2.0, max_side: int = 384) -> None:
        self.scale = scale
        self.max_side = max_side  # larger crops are shrunk first: the landmarker works at 256 px anyway
        self._lm = Landmarker(LandmarkerOptions(max_faces=1), video=False)

    def landmark(self, rgb: np.ndarray, box: np.ndarray, score: float = 1.0) -> Face | None:
        import cv2

        h, w = rgb.shape[:2]
        x, y, side = crop_region(box, self.scale, w, h)
        crop = padded_crop(rgb, x, y, side)
        factor = 1.0
        if side > self.max_side:
            factor = side / self.max_side
            crop = cv2.resize(crop, (self.max_side, self.max_side), interpolation=cv2.INTER_AREA)
        faces = self._lm.detect(crop)
        if not faces:
            return None
        face = faces[0]
        pts = face.landmarks.copy()
        pts[:, :3] *= factor
        pts[:, 0] += x
        pts[:, 1] += y
        return Face(box=box_from_landmarks(pts, w, h), landmarks=pts, score=score, blendshapes=face.blendshapes,
                    pose=face.pose)

    def close(self) -> None:
        self._lm.close()

    def __enter__(self) -> "CropLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
