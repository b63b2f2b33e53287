"""Face alignment: a 5-point similarity transform from landmarks to a square crop.

The one place crops are made, for serving and for training alike (train/serve skew is a bug).
Pure numpy; OpenCV is imported only when a crop is warped.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: MediaPipe FaceMesh indices (478-point model) whose means give the 5 alignment points, in image
#: order: eye on the image left, eye on the image right, nose tip, mouth corner left, mouth corner right.
FIVE_POINT_GROUPS: tuple[tuple[int, ...], ...] = (
    (33, 133),    # subject's right eye, outer and inner corner (image left)
    (362, 263),   # subject's left eye, inner and outer corner (image right)
    (1,),         # nose tip
    (61,),        # mouth corner, image left
    (291,),       # mouth corner, image right
)

_GROUP_INDEX = np.array([i for group in FIVE_POINT_GROUPS for i in group])
#: (5, 7) averaging matrix: row k averages the landmarks of group k (one matrix product per face).
_GROUP_MEAN = np.zeros((len(FIVE_POINT_GROUPS), len(_GROUP_INDEX)))
_col = 0
for _row, _group in enumerate(FIVE_POINT_GROUPS):
    _GROUP_MEAN[_row, _col:_col + len(_group)] = 1.0 / len(_group)
    _col += len(_group)
del _col, _row, _group

# ArcFace's 112x112 template, zoomed out by ALIGN_ZOOM about the crop centre so brows and chin
# (AU1/2/4, AU25/26) stay inside the crop.
_ARCFACE_112 = np.array([
    [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
], dtype=np.float64)
ALIGN_ZOOM = 0.8
ALIGN_VERSION = "arcface5-zoom0.8-v1"


def template(size: int = 112) -> np.ndarray:
    """The five target points (5, 2) for a ``size`` x ``size`` crop."""
    centre = np.array([56.0, 56.0])
    points = (_ARCFACE_112 - centre) * ALIGN_ZOOM + centre
    return points * (size / 112.0)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """(5, 2) alignment points from (478, >=2) MediaPipe landmarks in pixels.

    Also accepts (5, >=2) arrays, which are returned as they are (data sets that ship 5 points).
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape[0] == 5:
        return pts[:, :2].copy()
    if pts.shape[0] < 468:
        raise ValueError(f"expected 478 MediaPipe landmarks or 5 points, got {pts.shape[0]}")
    return _GROUP_MEAN @ pts[_GROUP_INDEX, :2]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src to dst.

    The closed form of Umeyama's solution in 2D (no SVD: this runs for every face of every frame).
    Returns a 2x3 matrix for ``cv2.warpAffine``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    norm = float((sc ** 2).sum())
    if norm <= 0:
        a, b = 1.0, 0.0
    else:
        a = float((sc * dc).sum()) / norm
        b = float((sc[:, 0] * dc[:, 1] - sc[:, 1] * dc[:, 0]).sum()) / norm
    lin = np.array([[a, -b], [b, a]])
    mat = np.empty((2, 3))
    mat[:, :2] = lin
    mat[:, 2] = mu_d - lin @ mu_s
    return mat


def align_matrix(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The 2x3 matrix that maps a face's landmarks onto the crop template."""
    return similarity_transform(five_points(landmarks), template(size))


def crops(bgr: np.ndarray, landmarks: Sequence[np.ndarray], size: int = 112,
          out: np.ndarray | None = None) -> np.ndarray:
    """Aligned crops (N, size, size, 3) uint8 BGR, one warpAffine per face.

    Faces at the frame border are padded with black, never fail. ``out`` may be a preallocated
    buffer of at least N crops.
    """
    import cv2

    n = len(landmarks)
    if out is None or out.shape[0] < n or out.shape[1:] != (size, size, 3):
        out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i, lms in enumerate(landmarks):
        cv2.warpAffine(bgr, align_matrix(lms, size), (size, size), dst=out[i],
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return out[:n]


def to_input(crops_bgr: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Model input (N, 3, H, W) float32: BGR uint8 crops -> RGB in [0, 1] -> (x - mean) / std."""
    n, h, w, _ = crops_bgr.shape
    x = np.empty((n, 3, h, w), dtype=np.float32)
    for c in range(3):  # one scale-and-shift per channel, written straight into the planar layout
        np.multiply(crops_bgr[..., 2 - c], np.float32(1.0 / (255.0 * std[c])), out=x[:, c], casting="unsafe")
        x[:, c] -= np.float32(mean[c] / std[c])
    return x
