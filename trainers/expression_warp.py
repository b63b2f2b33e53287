"""Posed expressions made from neutral faces by moving the face's parts (issue 29: anger on unfamiliar faces).

Web faces labelled anger mostly shout; a posed or held-back anger (brows lowered and drawn together, lids
tightened, lips pressed: AU4, AU7, AU23/24) reads as neutral to a model that learnt anger from them, although its
features tell such faces apart (``scripts/feature_probe.py``). These warps give the training set closed-mouth
expressions of exactly that kind: each moves the parts of an aligned neutral crop the way the expression's action
units do, by a smooth displacement field around points of the alignment template (``align.template``: eyes at
47% of the crop's height, nose tip 61%, mouth corners 76%; the brows about 12% above the eyes).

* anger: inner brows down and together, brows down, upper lids down, lower lids up, lips pressed and narrowed, and
  the two vertical furrows that lowered brows fold between them (a shading, the one cue that is not a move);
* sadness: inner brows up and together (AU1+4), lip corners down (AU15), lower lip up (AU17);
* disgust: upper lip and nose wings up (AU9/10), brows lowered and drawn together as far as anger's (posed
  disgust lowers them too, AU4: the brows alone must not tell the two apart), lower lids up, and the wrinkles a
  wrinkled nose folds: two across the bridge and the nasolabial folds beside the wings (a shading).

Pure numpy and OpenCV on uint8 crops, seeded by the caller's generator; the fields are cached per size.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Control points per expression: (x, y, dx, dy) in fractions of the crop side; each is mirrored about the
#: vertical centre line unless x == 0.5.
WARP_POINTS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "anger": ((0.43, 0.35, 0.022, 0.040), (0.34, 0.34, 0.008, 0.028), (0.27, 0.36, 0.0, 0.012),
              (0.37, 0.44, 0.0, 0.014), (0.37, 0.505, 0.0, -0.010),
              (0.5, 0.725, 0.0, 0.010), (0.5, 0.805, 0.0, -0.016), (0.40, 0.76, 0.016, 0.0)),
    "sadness": ((0.43, 0.35, 0.012, -0.035), (0.34, 0.34, 0.0, -0.012), (0.27, 0.36, 0.0, 0.010),
                (0.40, 0.765, 0.004, 0.028), (0.5, 0.81, 0.0, -0.012)),
    "disgust": ((0.5, 0.725, 0.0, -0.030), (0.44, 0.73, 0.0, -0.026), (0.45, 0.62, 0.0, -0.020),
                (0.43, 0.35, 0.022, 0.040), (0.34, 0.34, 0.008, 0.028), (0.37, 0.505, 0.0, -0.012),
                (0.40, 0.765, 0.0, -0.006)),
}
SIGMA = 0.055  # falloff of each point's pull, in crop sides
#: Furrows and wrinkles as line segments (x0, y0, x1, y1) in crop sides, and the darkening on them at strength 1:
#: anger's two vertical furrows between the brows; disgust's two wrinkles across the nose bridge and its
#: nasolabial folds from the nose wings towards the mouth corners.
FURROWS: dict[str, tuple[tuple[tuple[float, float, float, float], ...], float]] = {
    "anger": (((0.465, 0.34, 0.465, 0.43), (0.535, 0.34, 0.535, 0.43)), 0.12),
    "disgust": (((0.455, 0.50, 0.545, 0.50), (0.46, 0.535, 0.54, 0.535),
                 (0.42, 0.62, 0.385, 0.71), (0.58, 0.62, 0.615, 0.71)), 0.10),
}
#: The action units each warp makes (1) and the one contrast it rules out (0), in ``labels.ACTION_UNITS`` names,
#: for ``--synth-au-codes``: the mouth is what tells the two apart when the brows do not. Anger presses the lips
#: (AU23/24) without raising the upper lip (AU10); disgust raises the upper lip without pressing them; both lower
#: the brows (AU4) and raise the lower lids (AU7); sadness raises the inner brows (AU1) and pulls the lip corners
#: down (AU15). An AU not named stays unknown (no loss). Only the contrast is ruled out: ruling out what the
#: source face may show anyway (AU12, AU25, AU26) taught those AUs as absent everywhere when the warped faces were
#: most of the coded faces (docs/round3.md, 2026-12-06).
WARP_ACTION_UNITS: dict[str, dict[str, int]] = {
    "anger": {"AU04": 1, "AU07": 1, "AU23": 1, "AU24": 1, "AU10": 0},
    "disgust": {"AU04": 1, "AU07": 1, "AU10": 1, "AU23": 0, "AU24": 0},
    "sadness": {"AU01": 1, "AU04": 1, "AU15": 1},
}
FURROW_WIDTH = 0.018  # across a furrow (Gaussian sigma), in crop sides
FURROW_ENDS = 0.02    # each furrow fades in over this length from its ends


@lru_cache(maxsize=16)
def displacement_field(kind: str, size: int) -> np.ndarray:
    """(size, size, 2) float32 displacement (dx, dy) in pixels at full strength for ``kind``."""
    if kind not in WARP_POINTS:
        raise ValueError(f"unknown expression warp {kind!r}; choose one of {sorted(WARP_POINTS)}")
    points = []
    for x, y, dx, dy in WARP_POINTS[kind]:
        points.append((x, y, dx, dy))
        if x != 0.5:
            points.append((1.0 - x, y, -dx, dy))
    grid = (np.arange(size, dtype=np.float64) + 0.5) / size
    gx, gy = np.meshgrid(grid, grid)
    field = np.zeros((size, size, 2))
    weight_sum = np.zeros((size, size))
    for x, y, dx, dy in points:
        w = np.exp(-((gx - x) ** 2 + (gy - y) ** 2) / (2 * SIGMA ** 2))
        field[..., 0] += w * dx
        field[..., 1] += w * dy
        weight_sum += w
    # where pulls overlap they are averaged rather than summed, so nearby points do not double a move
    field /= np.maximum(weight_sum, 1.0)[..., None]
    return (field * size).astype(np.float32)


@lru_cache(maxsize=16)
def furrow_shading(kind: str, size: int) -> np.ndarray | None:
    """(size, size) float32 darkening at strength 1 (0: none) for ``kind``'s furrows, or None."""
    if kind not in FURROWS:
        return None
    segments, depth = FURROWS[kind]
    grid = (np.arange(size, dtype=np.float64) + 0.5) / size
    gx, gy = np.meshgrid(grid, grid)
    shade = np.zeros((size, size))
    for x0, y0, x1, y1 in segments:
        length = float(np.hypot(x1 - x0, y1 - y0))
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        t = (gx - x0) * ux + (gy - y0) * uy                  # along the segment, from its start
        d = (gx - x0) * -uy + (gy - y0) * ux                 # across it
        along = np.clip(np.minimum(t, length - t) / FURROW_ENDS, 0, 1)  # soft ends, nothing beyond them
        shade += np.exp(-d ** 2 / (2 * FURROW_WIDTH ** 2)) * along
    return (depth * np.clip(shade, 0, 1)).astype(np.float32)


def warp_action_units(kind: str, names: tuple[str, ...]) -> np.ndarray:
    """(len(names),) float32 AU codes of a face warped into ``kind``: 1 made, 0 ruled out, -1 unknown."""
    if kind not in WARP_ACTION_UNITS:
        raise ValueError(f"unknown expression warp {kind!r}; choose one of {sorted(WARP_ACTION_UNITS)}")
    codes = WARP_ACTION_UNITS[kind]
    return np.array([codes.get(name, -1) for name in names], np.float32)


def warp_face(crop: np.ndarray, kind: str, strength: float) -> np.ndarray:
    """``crop`` (S, S) uint8 aligned grey face -> the same face showing ``kind`` at ``strength`` (1: the
    field as defined; 0: unchanged)."""
    import cv2

    size = crop.shape[0]
    field = displacement_field(kind, size) * float(strength)
    base = np.arange(size, dtype=np.float32)
    gx, gy = np.meshgrid(base, base)
    # backward mapping: the pixel at p comes from p - d(p) (a good approximation for moves of a few pixels)
    out = cv2.remap(crop, gx - field[..., 0], gy - field[..., 1], interpolation=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    shading = furrow_shading(kind, size)
    if shading is not None and strength > 0:
        out = np.clip(out.astype(np.float32) * (1.0 - np.clip(shading * float(strength), 0, 0.6)) + 0.5,
                      0, 255).astype(np.uint8)
    return out


def choose_warps(neutral: np.ndarray, share: float, rng: np.random.Generator,
                 strength: tuple[float, float] = (0.7, 1.3),
                 kinds: tuple[str, ...] = ()) -> list[tuple[int, str, float]]:
    """Which faces of a batch to warp: each face marked ``neutral`` with probability ``share``, an expression
    drawn evenly from ``kinds`` (empty: all of ``WARP_POINTS``) and a strength uniformly from ``strength``.
    Returns (row, kind, strength)."""
    unknown = sorted(set(kinds) - set(WARP_POINTS))
    if unknown:
        raise ValueError(f"unknown expression warp {unknown[0]!r}: choose from {', '.join(sorted(WARP_POINTS))}")
    kinds = tuple(sorted(kinds)) if kinds else tuple(sorted(WARP_POINTS))
    out = []
    for row in np.flatnonzero(neutral):
        if rng.random() < share:
            out.append((int(row), kinds[int(rng.integers(len(kinds)))], float(rng.uniform(*strength))))
    return out


__all__ = ["WARP_POINTS", "FURROWS", "WARP_ACTION_UNITS", "warp_action_units", "displacement_field", "furrow_shading",
           "warp_face", "choose_warps"]
