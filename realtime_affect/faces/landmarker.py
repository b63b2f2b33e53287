"""MediaPipe FaceLandmarker (Tasks API): frames -> faces with 478 landmarks, blendshapes and head pose."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime_affect.assets import asset_path
from realtime_affect.faces.landmark_reader import NativeReader, RawFaces
from realtime_affect.system.native_logs import QuietTask, quiet_native_stderr
from realtime_affect.types import Face

log = logging.getLogger(__name__)

#: The 52 blendshape names in MediaPipe's order (index 0 is "_neutral").
BLENDSHAPES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft",
    "noseSneerRight",
)


@dataclass
class LandmarkerOptions:
    max_faces: int = 4
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    blendshapes: bool = True
    pose: bool = True
    model_path: str | None = None


def box_from_landmarks(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Tight (x, y, w, h) box around the landmarks, clipped to the frame."""
    x0, y0 = np.clip(landmarks[:, 0].min(), 0, width), np.clip(landmarks[:, 1].min(), 0, height)
    x1, y1 = np.clip(landmarks[:, 0].max(), 0, width), np.clip(landmarks[:, 1].max(), 0, height)
    return np.array([x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)], dtype=np.float32)


class Landmarker(QuietTask):
    """A FaceLandmarker task, in VIDEO mode (tracking across frames) or IMAGE mode (each frame alone).

    Use as a context manager so the native task is always closed.
    """

    def __init__(self, options: LandmarkerOptions | None = None, video: bool = True) -> None:
        import mediapipe as mp
        from mediapipe.tasks import python as mp_tasks
        from mediapipe.tasks.python import vision

        self.options = options or LandmarkerOptions()
        self.video = video
        self._mp = mp
        model = Path(self.options.model_path) if self.options.model_path else asset_path("face_landmarker.task")
        task_options = vision.FaceLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(model)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=self.options.max_faces,
            min_face_detection_confidence=self.options.min_detection_confidence,
            min_face_presence_confidence=self.options.min_presence_confidence,
            min_tracking_confidence=self.options.min_tracking_confidence,
            output_face_blendshapes=self.options.blendshapes,
            output_facial_transformation_matrixes=self.options.pose,
        )
        with quiet_native_stderr():
            self._task = vision.FaceLandmarker.create_from_options(task_options)
        self._last_ms = -1
        self._reader = NativeReader.attach(self._task)  # None: mediapipe's Python API reads the results

    def detect(self, rgb: np.ndarray, time_s: float = 0.0) -> list[Face]:
        """Faces in one RGB frame. In VIDEO mode ``time_s`` must grow; equal or earlier times are nudged."""
        mp = self._mp
        rgb = np.ascontiguousarray(rgb)
        image = self._reader.image(rgb, mp.ImageFormat.SRGB) if self._reader is not None else None
        if image is None:
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        result = self._quiet_first(self._run, image, time_s)
        return self._faces(result, rgb.shape[1], rgb.shape[0])

    def _run(self, image, time_s: float):
        ms = None
        if self.video:
            ms = max(int(round(time_s * 1000.0)), self._last_ms + 1)
            self._last_ms = ms
        if self._reader is not None:
            return self._reader.detect(image, ms)
        return self._task.detect(image) if ms is None else self._task.detect_for_video(image, ms)

    @staticmethod
    def _faces(result, width: int, height: int) -> list[Face]:
        if isinstance(result, RawFaces):
            return _faces_from_raw(result, width, height)
        faces = []
        for i, lms in enumerate(result.face_landmarks):
            pts = np.array([(p.x * width, p.y * height, p.z * width) for p in lms], dtype=np.float32)
            shapes = None
            if result.face_blendshapes:
                shapes = np.array([c.score for c in result.face_blendshapes[i]], dtype=np.float32)
            pose = None
            if result.facial_transformation_matrixes:
                pose = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32)
            faces.append(Face(box=box_from_landmarks(pts, width, height), landmarks=pts, blendshapes=shapes,
                              pose=pose, score=1.0))
        return faces



def _faces_from_raw(raw, width: int, height: int) -> list[Face]:
    """Faces from the numpy reader's output: the same values the Python API path gives."""
    scale = np.array([width, height, width], dtype=np.float32)
    faces = []
    for i, normalised in enumerate(raw.landmarks):
        pts = normalised * scale
        shapes = raw.blendshapes[i] if i < len(raw.blendshapes) else None
        pose = raw.matrices[i] if i < len(raw.matrices) else None
        faces.append(Face(box=box_from_landmarks(pts, width, height), landmarks=pts, blendshapes=shapes,
                          pose=pose, score=1.0))
    return faces
