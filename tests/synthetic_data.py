"""A small ABAW-format data set whose labels are learnable from the pixels, with missing labels mixed in.

Expression -> background colour; each AU -> a white square at its own grid cell; valence/arousal ->
the shade and size of a central disc. Labels change in segments along each "video", so windows have structure.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

PALETTE = [(40, 40, 40), (30, 30, 200), (30, 160, 30), (160, 30, 160), (0, 200, 230), (200, 80, 20),
           (230, 230, 230), (120, 120, 0)]


def render(expr: int, aus: np.ndarray, va: np.ndarray, rng: np.random.Generator, size: int = 112) -> np.ndarray:
    import cv2

    img = np.empty((size, size, 3), np.uint8)
    img[:] = PALETTE[expr]
    img = np.clip(img.astype(np.int16) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
    for j, on in enumerate(aus):  # mirror-symmetric marks, so a horizontal flip keeps the labels
        if on == 1:
            r, c = divmod(j, 2)
            y, x = 4 + r * 12, 4 + c * 14
            img[y:y + 9, x:x + 9] = 255
            img[y:y + 9, size - x - 9:size - x] = 255
    shade = int(128 + 110 * va[0])  # valence -> shade of a central disc, arousal -> its size
    radius = int(10 + 10 * (va[1] + 1))
    cv2.circle(img, (size // 2, 80), radius, (shade, shade, shade), -1)
    return img


def write_mtl_dataset(root: Path, videos: int = 10, frames: int = 32, seed: int = 0,
                      missing: float = 0.15) -> tuple[Path, Path]:
    """Writes root/images/<video>/<00001>.jpg and root/annotations.txt; returns (annotations, images)."""
    import cv2

    rng = np.random.default_rng(seed)
    images = root / "images"
    lines = ["image,valence,arousal,expression,AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,AU25,AU26"]
    for v in range(videos):
        folder = images / f"video{v:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        expr = int(rng.integers(0, 8))
        aus = (rng.random(12) < 0.35).astype(np.int8)
        va = rng.uniform(-0.9, 0.9, 2)
        for f in range(1, frames + 1):
            if f % 8 == 1:  # a new segment
                expr = int(rng.integers(0, 8))
                aus = (rng.random(12) < 0.35).astype(np.int8)
                va = np.clip(va + rng.normal(0, 0.4, 2), -0.95, 0.95)
            cv2.imwrite(str(folder / f"{f:05d}.jpg"), render(expr, aus, va, rng))
            e = expr if rng.random() > missing else -1
            a = aus if rng.random() > missing else np.full(12, -1)
            w = va if rng.random() > missing else np.array([-5.0, -5.0])
            lines.append(f"video{v:02d}/{f:05d}.jpg,{w[0]:.4f},{w[1]:.4f},{e}," + ",".join(str(int(x)) for x in a))
    ann = root / "annotations.txt"
    ann.write_text("\n".join(lines) + "\n")
    return ann, images
