"""Valence/arousal targets derived from expression distributions (no labelled set here has VA).

Seed 001 (EMMA) reads VA from expression scores; we go one step simpler for targets: each expression
class sits at a documented point of Russell's circumplex, and a face's VA target is the mean of those
points weighted by its expression distribution (FER+ vote shares, or a one-hot posed label). A neutral
face sits at the origin; a face half-happy, half-neutral at half the happiness point. These are a
convention, not measurements: the card and README say so wherever VA is shown. Pure numpy.
"""
from __future__ import annotations

import numpy as np

#: (valence, arousal) per ABAW expression, in [-1, 1]: approximate positions of the category words on
#: Russell's circumplex (Russell 1980; Russell & Mehrabian 1977 pleasure/arousal ratings), the same points
#: the teacher ensemble used; "other" (mostly contempt in these sets) is mildly negative and calm.
VA_CENTROIDS = np.array([
    [0.0, 0.0],      # neutral
    [-0.55, 0.65],   # anger
    [-0.6, 0.35],    # disgust
    [-0.6, 0.65],    # fear
    [0.75, 0.45],    # happiness
    [-0.65, -0.35],  # sadness
    [0.15, 0.75],    # surprise
    [-0.4, 0.15],    # other (contempt)
], dtype=np.float32)


def va_from_expression(distribution: np.ndarray) -> np.ndarray:
    """(N, 2) VA targets from (N, 8) expression distributions (rows are normalised; all-zero rows -> -5,
    the ABAW missing marker)."""
    dist = np.asarray(distribution, np.float64)
    total = dist.sum(axis=1, keepdims=True)
    out = (dist / np.maximum(total, 1e-12)) @ VA_CENTROIDS.astype(np.float64)
    out[total[:, 0] <= 0] = -5.0
    return out.astype(np.float32)


__all__ = ["VA_CENTROIDS", "va_from_expression"]
