"""An AU teacher for faces without FACS codes: MediaPipe blendshapes -> AU probabilities, with one
logistic regression per AU fitted on CK+ FACS codes (seed 004: a teacher per task labels what a data set
lacks). The blendshapes come from the same landmarker run that aligns the faces, so the teacher costs
nothing extra. Pure numpy; small enough to fit in a second.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BlendshapeAUTeacher:
    mean: np.ndarray     # (52,)
    scale: np.ndarray    # (52,)
    weights: np.ndarray  # (52, A)
    bias: np.ndarray     # (A,)

    @classmethod
    def fit(cls, blendshapes: np.ndarray, aus: np.ndarray, l2: float = 1.0, steps: int = 500,
            lr: float = 0.5) -> "BlendshapeAUTeacher":
        """Fit on (N, 52) blendshapes and (N, A) AU labels (0/1; -1 entries are ignored)."""
        x = np.asarray(blendshapes, np.float64)
        y = np.asarray(aus, np.float64)
        ok = np.isfinite(x).all(axis=1)
        x, y = x[ok], y[ok]
        mean, scale = x.mean(0), x.std(0) + 1e-3
        z = (x - mean) / scale
        n, a = z.shape[0], y.shape[1]
        w, b = np.zeros((z.shape[1], a)), np.zeros(a)
        mask = (y >= 0).astype(np.float64)
        target = np.clip(y, 0, 1)
        count = np.maximum(mask.sum(0), 1.0)
        for _ in range(steps):  # full-batch gradient descent on the L2-regularised log loss
            p = 1.0 / (1.0 + np.exp(-np.clip(z @ w + b, -30, 30)))
            g = (p - target) * mask / count
            w -= lr * (z.T @ g + l2 * w / n)
            b -= lr * g.sum(0)
        return cls(mean.astype(np.float32), scale.astype(np.float32), w.astype(np.float32), b.astype(np.float32))

    def __call__(self, blendshapes: np.ndarray) -> np.ndarray:
        """(N, A) AU probabilities; rows with missing blendshapes (NaN) come back as NaN."""
        x = np.asarray(blendshapes, np.float32)
        z = (x - self.mean) / self.scale
        out = 1.0 / (1.0 + np.exp(-np.clip(z @ self.weights + self.bias, -30, 30)))
        out[~np.isfinite(x).all(axis=1)] = np.nan
        return out.astype(np.float32)


__all__ = ["BlendshapeAUTeacher"]
