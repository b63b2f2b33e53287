"""Per-frame driver signals from MediaPipe landmarks and the facial transformation matrix (pure numpy)."""
from __future__ import annotations

import numpy as np

#: MediaPipe FaceMesh indices for the eye aspect ratio, in Soukupova & Cech's order p1..p6
#: (corner, upper, upper, corner, lower, lower), for the eye on the image left and on the image right.
EYE_POINTS = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
#: Inner lips (upper 13, lower 14) and mouth corners (61, 291) for the mouth aspect ratio.
MOUTH_POINTS = (13, 14, 61, 291)


def eye_aspect_ratio(lms: np.ndarray) -> float:
    """Mean EAR of both eyes: (|p2-p6| + |p3-p5|) / (2 |p1-p4|); ~0.25-0.35 open, < 0.2 closed."""
    values = []
    for p1, p2, p3, p4, p5, p6 in EYE_POINTS:
        pts = lms[:, :2]
        width = np.linalg.norm(pts[p1] - pts[p4])
        if width < 1e-6:
            continue
        values.append((np.linalg.norm(pts[p2] - pts[p6]) + np.linalg.norm(pts[p3] - pts[p5])) / (2 * width))
    return float(np.mean(values)) if values else float("nan")


def mouth_aspect_ratio(lms: np.ndarray) -> float:
    """Inner-lip opening over mouth width: ~0 closed, > 0.6 a wide-open (yawning) mouth."""
    top, bottom, left, right = MOUTH_POINTS
    width = np.linalg.norm(lms[left, :2] - lms[right, :2])
    return float(np.linalg.norm(lms[top, :2] - lms[bottom, :2]) / width) if width > 1e-6 else float("nan")


def head_pose(matrix: np.ndarray | None) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from MediaPipe's 4x4 facial transformation matrix.

    Yaw > 0: the head turned to the camera's right; pitch > 0: chin up; roll: tilt. NaN without a matrix.
    """
    if matrix is None:
        return float("nan"), float("nan"), float("nan")
    r = np.asarray(matrix, np.float64)[:3, :3]
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
