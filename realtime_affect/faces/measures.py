"""Per-frame driver measures from MediaPipe's landmarks, blendshapes and facial transformation matrix (pure numpy).

Conventions: "left" and "right" are the driver's own (the driver's right eye is on the image's left in an
unmirrored video). Head and gaze yaw are positive towards the driver's left (the nose moves to the image's
right), pitch is positive chin up / looking up.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: MediaPipe FaceMesh indices for the eye aspect ratio, in Soukupova & Cech's order p1..p6
#: (corner, upper, upper, corner, lower, lower), for the eye on the image left and on the image right.
EYE_POINTS = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
#: Iris centres (refined landmarks 468-477), in the order of ``EYE_POINTS``.
IRIS_CENTRES = (468, 473)
#: ``EYE_POINTS``/``IRIS_CENTRES`` index of each of the driver's eyes.
EYE_INDEX = {"right": 0, "left": 1}
#: Inner lips (upper 13, lower 14) and mouth corners (61, 291) for the mouth aspect ratio.
MOUTH_POINTS = (13, 14, 61, 291)
#: How far (in eye widths) the iris centre moves per unit sine of the eye's rotation: an eyeball of about
#: 12 mm radius in an eye opening about 30 mm wide.
IRIS_TRAVEL = 0.4


def eye_aspect_ratio(lms: np.ndarray) -> float:
    """Mean EAR of both eyes: (|p2-p6| + |p3-p5|) / (2 |p1-p4|); ~0.25-0.35 open, < 0.2 closed."""
    values = [v for v in (single_eye_aspect_ratio(lms, i) for i in range(2)) if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def single_eye_aspect_ratio(lms: np.ndarray, eye: int) -> float:
    """EAR of one eye (``EYE_POINTS`` index); NaN when the eye has no width (degenerate landmarks)."""
    p1, p2, p3, p4, p5, p6 = EYE_POINTS[eye]
    (x1, y1), (x2, y2), (x3, y3), (x4, y4), (x5, y5), (x6, y6) = lms[[p1, p2, p3, p4, p5, p6], :2].tolist()
    width = math.hypot(x1 - x4, y1 - y4)  # plain floats: numpy costs more than the arithmetic on six points
    if width < 1e-6:
        return float("nan")
    return (math.hypot(x2 - x6, y2 - y6) + math.hypot(x3 - x5, y3 - y5)) / (2 * width)


def eye_width(lms: np.ndarray, eye: int) -> float:
    """Corner-to-corner width of one eye in pixels (small eyes cannot be measured reliably)."""
    p1, _, _, p4, _, _ = EYE_POINTS[eye]
    (x1, y1), (x4, y4) = lms[[p1, p4], :2].tolist()
    return math.hypot(x1 - x4, y1 - y4)


def mouth_aspect_ratio(lms: np.ndarray) -> float:
    """Inner-lip opening over mouth width: ~0 closed, > 0.6 a wide-open (yawning) mouth."""
    top, bottom, left, right = MOUTH_POINTS
    width = np.linalg.norm(lms[left, :2] - lms[right, :2])
    return float(np.linalg.norm(lms[top, :2] - lms[bottom, :2]) / width) if width > 1e-6 else float("nan")


def iris_offset(lms: np.ndarray, eye: int) -> tuple[float, float]:
    """Where the iris centre sits in the eye opening, in eye widths from the middle of the corners:
    (along the corner line towards the image's right, perpendicular to it towards the image's bottom).
    NaN without iris landmarks."""
    if lms.shape[0] <= max(IRIS_CENTRES):
        return float("nan"), float("nan")
    p1, _, _, p4, _, _ = EYE_POINTS[eye]
    a, b = lms[p1, :2].astype(np.float64), lms[p4, :2].astype(np.float64)
    if a[0] > b[0]:
        a, b = b, a
    axis = b - a
    width = float(np.linalg.norm(axis))
    if width < 1e-6:
        return float("nan"), float("nan")
    along = axis / width
    down = np.array([-along[1], along[0]])
    rel = lms[IRIS_CENTRES[eye], :2] - (a + b) / 2
    return float(rel @ along / width), float(rel @ down / width)


def eye_in_head_angles(offset: tuple[float, float]) -> tuple[float, float]:
    """(yaw, pitch) of an eye in its socket, degrees, from ``iris_offset`` (a geometric eyeball model)."""
    dx, dy = offset
    yaw = np.degrees(np.arcsin(np.clip(dx / IRIS_TRAVEL, -1.0, 1.0)))
    pitch = np.degrees(np.arcsin(np.clip(-dy / IRIS_TRAVEL, -1.0, 1.0)))
    return float(yaw), float(pitch)


def gaze_angles(lms: np.ndarray | None, yaw: float, pitch: float, eyes: tuple[str, ...], max_eye_angle: float = 40.0,
                max_head_yaw: float = 30.0) -> tuple[float, float, bool]:
    """(gaze yaw, gaze pitch, from the eyes?): head pose plus the eyes' own rotation from the irises of the
    open, visible ``eyes`` ("left"/"right"), at most ``max_eye_angle``; head pose alone when no eye can be
    used or the head is turned beyond ``max_head_yaw`` (the eye opening is then too foreshortened)."""
    if not (np.isfinite(yaw) and np.isfinite(pitch)):
        return float("nan"), float("nan"), False
    if lms is None or not eyes or abs(yaw) > max_head_yaw:
        return yaw, pitch, False
    angles = [eye_in_head_angles(iris_offset(lms, EYE_INDEX[side])) for side in eyes]
    angles = [a for a in angles if np.isfinite(a[0]) and np.isfinite(a[1])]
    if not angles:
        return yaw, pitch, False
    eye_yaw = float(np.clip(np.mean([a[0] for a in angles]), -max_eye_angle, max_eye_angle))
    eye_pitch = float(np.clip(np.mean([a[1] for a in angles]), -max_eye_angle, max_eye_angle))
    return yaw + eye_yaw, pitch + eye_pitch, True


def head_pose(matrix: np.ndarray | None) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from MediaPipe's 4x4 facial transformation matrix.

    Yaw > 0: the head turned to the driver's left (the camera's right); pitch > 0: chin up; roll: tilt.
    NaN without a matrix.
    """
    if matrix is None:
        return float("nan"), float("nan"), float("nan")
    r = np.asarray(matrix, np.float64)[:3, :3]
    if not np.all(np.isfinite(r)):
        return float("nan"), float("nan"), float("nan")
    scale = np.linalg.norm(r[:, 0])
    if scale > 1e-9:
        r = r / scale
    yaw = np.degrees(np.arctan2(-r[2, 0], np.hypot(r[2, 1], r[2, 2])))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return float(yaw), float(pitch), float(roll)


def rotation_matrix(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """A 4x4 transform with these angles (degrees), composed as R = Rz(roll) Ry(yaw) Rx(pitch); inverse of
    ``head_pose`` (used by tests and simulations)."""
    y, p, r = np.radians([yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    out = np.eye(4)
    out[:3, :3] = rz @ ry @ rx
    return out


@dataclass
class EyeRegionContrast:
    """How much an eye looks like an eye in the picture: the eye opening's brightness relative to the skin
    below it, and its spread of brightness. Sunglasses make the opening dark and flat."""

    darkness: float  # eye opening mean / cheek mean (1: as bright as skin)
    spread: float  # standard deviation of grey levels inside the opening


def eye_region_contrast(bgr: np.ndarray, lms: np.ndarray, eye: int) -> EyeRegionContrast | None:
    """``EyeRegionContrast`` of one eye in a BGR frame (only the two small patches are read, about 16 samples
    across the eye); None when the eye is too small or out of view."""
    import cv2

    p1, p2, p3, p4, p5, p6 = EYE_POINTS[eye]
    xs, ys = lms[[p1, p2, p3, p4, p5, p6], 0].tolist(), lms[[p1, p2, p3, p4, p5, p6], 1].tolist()
    width = math.hypot(xs[0] - xs[3], ys[0] - ys[3])
    if width < 8:
        return None
    h, w = bgr.shape[:2]
    margin = width * 0.15
    x0, y0 = int(math.floor(min(xs) - margin)), int(math.floor(min(ys) - margin))
    x1, y1 = int(math.ceil(max(xs) + margin)), int(math.ceil(max(ys) + margin))
    cheek_y0, cheek_y1 = int(y1 + width * 0.25), int(y1 + width * 0.6)
    if x0 < 0 or y0 < 0 or x1 >= w or cheek_y1 >= h:
        return None
    step = max(1, int(width // 16))
    opening = cv2.cvtColor(np.ascontiguousarray(bgr[y0:y1 + 1:step, x0:x1 + 1:step]), cv2.COLOR_BGR2GRAY)
    cheek = bgr[cheek_y0:cheek_y1 + 1:step, x0:x1 + 1:step]
    if opening.size == 0 or cheek.size == 0:
        return None
    mean, std = cv2.meanStdDev(opening)
    cheek_mean = sum(cv2.mean(np.ascontiguousarray(cheek))[:3]) / 3.0
    return EyeRegionContrast(darkness=float(mean[0, 0]) / max(cheek_mean, 1.0), spread=float(std[0, 0]))
