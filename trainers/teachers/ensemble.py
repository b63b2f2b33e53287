"""The default model's teacher ensemble: two expression networks, MediaPipe blendshapes for AUs, and a
documented heuristic for valence/arousal. Labels every face of a frame the runtime found.

Expression: the mean of face-api's and fer's probabilities mapped to the ABAW order; neither teacher has
"other", so its target is 0 (README says what that output means).
AUs: blendshapes mapped per AU with a logistic calibration; AU6 and AU25 from landmark geometry, where
the blendshapes are poor cues.
Valence/arousal: a heuristic, not a trained model: the expression probabilities weighted by circumplex
prototypes (EMMA, seed 001, uses expression scores as VA features), nudged by smile, brow and mouth cues.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime_affect.faces.landmarker import BLENDSHAPES
from realtime_affect.types import Face

from ..va_targets import VA_CENTROIDS

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
_B = {name: i for i, name in enumerate(BLENDSHAPES)}

#: Valence, arousal of each ABAW expression (neutral .. surprise), after Russell's circumplex: the same
#: points the default model's VA targets use (``trainers.va_targets``).
VA_PROTOTYPES = VA_CENTROIDS[:7]

#: (blendshape names averaged, logistic midpoint, width): p = sigmoid((score - midpoint) / width).
AU_FROM_BLENDSHAPES: dict[str, tuple[tuple[str, ...], float, float]] = {
    "AU01": (("browInnerUp",), 0.50, 0.07),
    "AU02": (("browOuterUpLeft", "browOuterUpRight"), 0.35, 0.07),
    "AU04": (("browDownLeft", "browDownRight"), 0.25, 0.07),
    "AU07": (("eyeSquintLeft", "eyeSquintRight"), 0.50, 0.07),
    "AU10": (("mouthUpperUpLeft", "mouthUpperUpRight"), 0.30, 0.07),
    "AU12": (("mouthSmileLeft", "mouthSmileRight"), 0.45, 0.08),
    "AU15": (("mouthFrownLeft", "mouthFrownRight"), 0.15, 0.05),
    "AU23": (("mouthPucker",), 0.50, 0.08),
    "AU24": (("mouthPressLeft", "mouthPressRight"), 0.25, 0.07),
    "AU26": (("jawOpen",), 0.30, 0.08),
}


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _bs(shapes: np.ndarray, names: tuple[str, ...]) -> float:
    return float(np.mean([shapes[_B[n]] for n in names]))


def face_scale(lms: np.ndarray) -> float:
    """Inter-ocular distance (outer eye corners 33, 263) in pixels: the unit of the geometric cues."""
    return float(np.linalg.norm(lms[33, :2] - lms[263, :2])) + 1e-6


def geometry_cues(lms: np.ndarray) -> dict[str, float]:
    """Landmark measures normalised by inter-ocular distance."""
    s = face_scale(lms)
    lips_apart = np.linalg.norm(lms[13, :2] - lms[14, :2]) / s  # inner upper / lower lip
    eye_open = (np.linalg.norm(lms[159, :2] - lms[145, :2]) + np.linalg.norm(lms[386, :2] - lms[374, :2])) / (2 * s)
    return {"lips_apart": float(lips_apart), "eye_open": float(eye_open)}


def au_teacher(shapes: np.ndarray, lms: np.ndarray) -> np.ndarray:
    """(12,) AU probabilities in the ABAW order from blendshapes and landmarks."""
    from realtime_affect.labels import ACTION_UNITS

    geo = geometry_cues(lms)
    out = {}
    for au, (names, mid, width) in AU_FROM_BLENDSHAPES.items():
        out[au] = _sigmoid((_bs(shapes, names) - mid) / width)
    # AU6 cheek raiser: cheekSquint stays near 0 on real smiles; a smile that narrows the eyes is the cue.
    # Calibrated on the development clips: a smile (mean mouthSmile ~0.3 on a neutral-sad face, > 0.7 when
    # laughing) plus eye squint.
    smile = _bs(shapes, ("mouthSmileLeft", "mouthSmileRight"))
    squint = _bs(shapes, ("eyeSquintLeft", "eyeSquintRight"))
    out["AU06"] = _sigmoid((smile + 0.5 * squint - 0.7) / 0.08)
    # AU25 lips part: the inner lips' gap, whatever the jaw does.
    out["AU25"] = _sigmoid((geo["lips_apart"] - 0.08) / 0.025)
    return np.array([out[a] for a in ACTION_UNITS], dtype=np.float32)


def va_teacher(expression: np.ndarray, shapes: np.ndarray, lms: np.ndarray) -> np.ndarray:
    """Heuristic (2,) valence/arousal from ABAW expression probabilities and facial cues."""
    p = np.asarray(expression[:7], np.float64)
    p = p / max(p.sum(), 1e-6)
    va = p @ VA_PROTOTYPES
    smile = _bs(shapes, ("mouthSmileLeft", "mouthSmileRight"))
    frown = _bs(shapes, ("mouthFrownLeft", "mouthFrownRight", "browDownLeft", "browDownRight"))
    activation = max(_bs(shapes, ("jawOpen",)), _bs(shapes, ("browInnerUp",)), _bs(shapes, ("eyeWideLeft", "eyeWideRight")))
    valence = va[0] + 0.25 * smile - 0.2 * frown
    arousal = va[1] + 0.3 * activation - 0.1
    return np.clip(np.array([valence, arousal], np.float32), -1, 1)


@dataclass
class TeacherLabels:
    expression: np.ndarray  # (8,)
    action_units: np.ndarray  # (12,)
    valence_arousal: np.ndarray  # (2,)
    faceapi: np.ndarray  # (7,) raw, face-api order
    fer: np.ndarray  # (7,) raw, fer order


class TeacherEnsemble:
    """Loads the vendored teacher weights once; ``label(frame_bgr, faces)`` gives one TeacherLabels per face."""

    def __init__(self, weights_dir: str | Path = WEIGHTS_DIR) -> None:
        from .faceapi import load_faceapi
        from .fer import load_fer

        weights_dir = Path(weights_dir)
        self.faceapi = load_faceapi(weights_dir)
        self.fer = load_fer(weights_dir / "fer_emotion_model.npz")

    def label(self, bgr: np.ndarray, faces: list[Face]) -> list[TeacherLabels]:
        import torch

        from . import faceapi as fa
        from . import fer as fe

        if not faces:
            return []
        crops = [_box_crop(bgr, f.box) for f in faces]
        with torch.no_grad():
            pa = self.faceapi(torch.from_numpy(np.stack([fa.faceapi_input(c[..., ::-1]) for c in crops]))).numpy()
            pf = self.fer(torch.from_numpy(np.stack([fe.fer_input(c) for c in crops]))).numpy()
        out = []
        for face, a, f in zip(faces, pa, pf):
            expr = np.zeros(8, np.float32)
            expr[:7] = 0.5 * a[list(fa.TO_ABAW)] + 0.5 * f[list(fe.TO_ABAW)]
            shapes = face.blendshapes if face.blendshapes is not None else np.zeros(len(BLENDSHAPES), np.float32)
            out.append(TeacherLabels(expression=expr, action_units=au_teacher(shapes, face.landmarks),
                                     valence_arousal=va_teacher(expr, shapes, face.landmarks), faceapi=a, fer=f))
        return out


def _box_crop(bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The face box (landmarks' bounding box) cut from the frame, zero-filled where it leaves the frame."""
    x, y, w, h = (int(round(v)) for v in box)
    out = np.zeros((max(h, 1), max(w, 1), 3), np.uint8)
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, bgr.shape[1]), min(y + h, bgr.shape[0])
    if x1 > x0 and y1 > y0:
        out[y0 - y:y1 - y, x0 - x:x1 - x] = bgr[y0:y1, x0:x1]
    return out
