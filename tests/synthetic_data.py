"""A small ABAW-format data set whose labels are learnable from the pixels, with missing labels mixed in.

Expression -> background stripes of a class-specific period; each AU -> a mark of its own colour; valence/arousal ->
the shade and size of a central disc. Labels change in segments along each "video", so windows have structure.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


AU_COLOURS = [(255, 255, 255), (0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255), (255, 0, 255),
              (255, 255, 0), (0, 128, 255), (128, 0, 255), (255, 128, 0), (0, 255, 128), (128, 255, 0)]


def render(expr: int, aus: np.ndarray, va: np.ndarray, rng: np.random.Generator, size: int = 112) -> np.ndarray:
    import cv2

    # expression -> horizontal stripes of a class-specific period on a grey background
    period = 3 + 2 * expr
    rows = (np.arange(size) // period) % 2
    img = np.repeat((70 + 60 * rows).astype(np.uint8)[:, None, None], size, axis=1).repeat(3, axis=2)
    img = np.clip(img.astype(np.int16) + rng.integers(-10, 10, img.shape), 0, 255).astype(np.uint8)
    for j, on in enumerate(aus):  # each AU: a mark of its own colour, mirrored so a flip keeps labels
        if on == 1:
            r, c = divmod(j, 2)
            y, x = 2 + r * 18, 2 + c * 18
            img[y:y + 16, x:x + 16] = AU_COLOURS[j]
            img[y:y + 16, size - x - 16:size - x] = AU_COLOURS[j]
    shade = int(128 + 110 * va[0])  # valence -> shade of a central disc, arousal -> its size
    radius = int(6 + 6 * (va[1] + 1))
    cv2.circle(img, (size // 2, size // 2), radius, (shade, shade, shade), -1)
    return img


def write_mtl_dataset(root: Path, videos: int = 10, frames: int = 32, seed: int = 0,
                      missing: float = 0.15, segment: int = 4) -> tuple[Path, Path]:
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
            if f % segment == 1 or segment == 1:  # a new segment
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
