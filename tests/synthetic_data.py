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


CROPS = sorted((Path(__file__).parent / "data" / "teacher_crops").glob("pexels_*.png"))
AU_NUMBERS = np.array([1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26, 27])


def _faces(n: int, size: int = 48, grey: bool = True) -> list[np.ndarray]:
    import cv2

    out = []
    for i in range(n):
        img = cv2.imread(str(CROPS[i % len(CROPS)]))
        if (i // len(CROPS)) % 2:
            img = img[:, ::-1]
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA) if size else img
        out.append(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if grey else np.ascontiguousarray(img))
    return out


def write_faces_folder(root: Path) -> Path:
    """A tiny data folder in the shared data's formats (FER+ npz with votes, CK+ npz with subjects and AU
    codes, a CSV + image folder) made from real face crops of the test clip."""
    import cv2

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, n in (("ferplus_train", 16), ("ferplus_valid", 8)):
        votes = np.zeros((n, 10), np.uint8)
        votes[np.arange(n), rng.choice([0, 1, 3, 5, 7], n)] = 7  # neutral, happy, sad, disgust, contempt
        votes[:, 8] = 1
        votes[0] = [0, 0, 0, 0, 0, 0, 0, 0, 9, 1]  # unknown majority: no label
        np.savez(root / f"{name}.npz", images=np.stack(_faces(n)), votes=votes,
                 names=np.array([f"{name}{i}.png" for i in range(n)]))
    subjects = np.array([f"S{i // 2:03d}" for i in range(10)])
    aus = (rng.random((10, len(AU_NUMBERS))) < 0.3).astype(np.uint8)
    np.savez(root / "ckplus_train.npz", images=np.stack(_faces(10)), subjects=subjects,
             emotions=np.array(["happy", "sadness", "surprise", "contempt", "anger"] * 2),
             sequences=np.array([f"{s}_001" for s in subjects]), aus=aus, au_numbers=AU_NUMBERS,
             names=np.array([f"{s}_001_{i:08d}.png" for i, s in enumerate(subjects)]))
    (root / "muxspace" / "images").mkdir(parents=True)
    lines = ["image,emotion,contributor"]
    for i, img in enumerate(_faces(6, size=0, grey=False)):
        cv2.imwrite(str(root / "muxspace" / "images" / f"m{i}.jpg"), img)
        lines.append(f"m{i}.jpg,{['neutral', 'happiness', 'surprise'][i % 3]},1")
    (root / "muxspace" / "labels.csv").write_text("\n".join(lines) + "\n")
    return root
