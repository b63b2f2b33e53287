"""An AU teacher for faces without FACS codes: MediaPipe blendshapes -> AU probabilities, with one
logistic regression per AU fitted on CK+ FACS codes (seed 004: a teacher per task labels what a data set
lacks). The blendshapes come from the same landmarker run that aligns the faces, so the teacher costs
nothing extra. Pure numpy; small enough to fit in a second.

Some AUs are not in the blendshapes at all (AU10, the upper lip raiser: cross-validated AUC 0.41 on the CK+
training subjects), and such a teacher only teaches "absent" on every face it reads. ``fit_checked`` measures each
AU's subject-wise cross-validated AUC on the training subjects and switches off (NaN: no target) the AUs below a
floor, so those are learnt from the FACS codes alone.
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
    usable: np.ndarray | None = None  # (A,) bool: AUs the teacher reads (None: all); the others come back NaN
    cv_auc: np.ndarray | None = None  # (A,) subject-wise cross-validated AUC on the training faces (fit_checked)

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

    @classmethod
    def fit_checked(cls, blendshapes: np.ndarray, aus: np.ndarray, groups: np.ndarray, min_auc: float,
                    folds: int = 5, seed: int = 0) -> "BlendshapeAUTeacher":
        """``fit`` on all rows, with each AU's AUC cross-validated over ``folds`` folds of whole groups (subjects)
        recorded in ``cv_auc``; AUs below ``min_auc`` (or without positives and negatives) are not used."""
        x = np.asarray(blendshapes, np.float64)
        y = np.asarray(aus)
        groups = np.asarray(groups)
        names = np.unique(groups)
        np.random.default_rng(seed).shuffle(names)
        held = np.full(y.shape, np.nan)
        for part in np.array_split(names, min(folds, len(names))):
            test = np.isin(groups, part)
            held[test] = cls.fit(x[~test], y[~test])(x[test])
        cv_auc = np.array([_auc(y[:, a], held[:, a]) for a in range(y.shape[1])])
        teacher = cls.fit(x, y)
        teacher.cv_auc = cv_auc.astype(np.float32)
        teacher.usable = np.nan_to_num(cv_auc, nan=-1.0) >= min_auc
        return teacher

    def __call__(self, blendshapes: np.ndarray) -> np.ndarray:
        """(N, A) AU probabilities; rows with missing blendshapes (NaN) and AUs not ``usable`` come back as NaN."""
        x = np.asarray(blendshapes, np.float32)
        z = (x - self.mean) / self.scale
        out = 1.0 / (1.0 + np.exp(-np.clip(z @ self.weights + self.bias, -30, 30)))
        out[~np.isfinite(x).all(axis=1)] = np.nan
        if self.usable is not None:
            out[:, ~self.usable] = np.nan
        return out.astype(np.float32)


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """``metrics.roc_auc`` over the rows with a code (0/1) and a score (NaN when either side is empty)."""
    from .metrics import roc_auc

    known = (labels >= 0) & np.isfinite(scores)
    return roc_auc(scores[known], labels[known])


__all__ = ["BlendshapeAUTeacher"]
